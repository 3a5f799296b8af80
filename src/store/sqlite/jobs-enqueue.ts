/**
 * Jobs entering dispatch: insertion, and promotion of scheduled jobs whose time has come.
 */
import type { NewJob, QueuedRef } from '../store.js';
import type { Conn } from './connection.js';

const insertSql =
  'INSERT INTO jobs (needs_id, type, queue, payload, requires, meta, priority, state, ' +
  'max_attempts, timeout_ms, kill_signal, kill_grace_ms, run_at, created_at, updated_at) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/**
 * Oldest run time first, so that a backlog of due jobs drains in the order it fell due. Exported
 * for the query-plan test.
 */
export const promoteSql =
  `UPDATE jobs SET state = 'queued', updated_at = ? WHERE id IN ` +
  `(SELECT id FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' AND run_at <= ? ` +
  `ORDER BY run_at, id LIMIT ?) ` +
  `RETURNING id, needs_id, priority, run_at`;

/** One prepared INSERT per row: cheaper in SQLite than building a multi-row statement. */
export function jobInsertMany(c: Conn, jobs: readonly NewJob[]): number[] {
  const insert = c.stmt(insertSql);
  const ids: number[] = new Array<number>(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i] as NewJob;
    const info = insert.run(
      j.needsId,
      j.type,
      j.queue,
      JSON.stringify(j.payload ?? null),
      JSON.stringify(j.requires),
      JSON.stringify(j.meta),
      j.priority,
      j.state,
      j.maxAttempts,
      j.timeoutMs,
      j.killSignal,
      j.killGraceMs,
      j.runAt,
      j.createdAt,
      j.createdAt,
    );
    ids[i] = Number(info.lastInsertRowid);
  }
  return ids;
}

/** Moves due scheduled jobs to queued; returns them, earliest run time (then id) first. */
export function jobPromoteDue(c: Conn, now: number, limit: number): { jobs: QueuedRef[] } {
  if (limit <= 0) return { jobs: [] };
  const rows = c.stmt(promoteSql).all(now, now, Math.floor(limit)) as Array<{
    id: number;
    needs_id: number;
    priority: number;
    run_at: number;
  }>;
  // RETURNING follows the update's order, not the subquery's: sort here.
  rows.sort((a, b) => a.run_at - b.run_at || a.id - b.id);
  return { jobs: rows.map((r) => ({ id: r.id, needsId: r.needs_id, priority: r.priority })) };
}
