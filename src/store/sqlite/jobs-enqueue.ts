/**
 * Jobs entering dispatch: insertion, and promotion of scheduled jobs whose time has come.
 */
import type { NewJob, QueuedRef } from '../store.js';
import type { Conn } from './connection.js';

const insertColumns =
  '(needs_id, type, queue, payload, requires, meta, priority, state, max_attempts, timeout_ms, ' +
  'kill_signal, kill_grace_ms, run_at, created_at, updated_at, options, hold, error, finished_at, ' +
  'grp, rank, tag)';
/** Bound parameters per row: one per column above (see `bindRow`). */
const PARAMS_PER_ROW = 22;
const rowParams = `(${Array<string>(PARAMS_PER_ROW).fill('?').join(', ')})`;

/** Rows per multi-row INSERT: a third cheaper per row here than one statement per row. */
const ROWS_PER_INSERT = 50;
const insertOneSql = `INSERT INTO jobs ${insertColumns} VALUES ${rowParams}`;
const insertManySql = `INSERT INTO jobs ${insertColumns} VALUES ${Array<string>(ROWS_PER_INSERT)
  .fill(rowParams)
  .join(', ')}`;

/**
 * Oldest run time first, so that a backlog of due jobs drains in the order it fell due. Exported
 * for the query-plan test.
 */
export const promoteSql =
  `UPDATE jobs SET state = 'queued', ahead = 0, updated_at = ? WHERE id IN ` +
  `(SELECT id FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' AND run_at <= ? ` +
  `ORDER BY run_at, id LIMIT ?) ` +
  `RETURNING id, needs_id, rank, run_at`;

/**
 * Full groups of rows go in multi-row INSERTs, the rest one by one. One statement's rows get
 * consecutive ids (AUTOINCREMENT: each is one more than the largest ever, and this connection is
 * the only writer), so the last insert rowid names them all.
 */
export function jobInsertMany(c: Conn, jobs: readonly NewJob[]): number[] {
  const ids: number[] = new Array<number>(jobs.length);
  let i = 0;
  if (jobs.length >= ROWS_PER_INSERT) {
    const many = c.stmt(insertManySql);
    const params: unknown[] = new Array<unknown>(ROWS_PER_INSERT * PARAMS_PER_ROW);
    for (; i + ROWS_PER_INSERT <= jobs.length; i += ROWS_PER_INSERT) {
      for (let k = 0; k < ROWS_PER_INSERT; k++)
        bindRow(params, k * PARAMS_PER_ROW, jobs[i + k] as NewJob);
      const last = Number(many.run(params).lastInsertRowid);
      for (let k = 0; k < ROWS_PER_INSERT; k++) ids[i + k] = last - ROWS_PER_INSERT + 1 + k;
    }
  }
  if (i < jobs.length) {
    const one = c.stmt(insertOneSql);
    const params: unknown[] = new Array<unknown>(PARAMS_PER_ROW);
    for (; i < jobs.length; i++) {
      bindRow(params, 0, jobs[i] as NewJob);
      ids[i] = Number(one.run(params).lastInsertRowid);
    }
  }
  return ids;
}

function bindRow(params: unknown[], at: number, j: NewJob): void {
  params[at] = j.needsId;
  params[at + 1] = j.type;
  params[at + 2] = j.queue;
  params[at + 3] = JSON.stringify(j.payload ?? null);
  params[at + 4] = JSON.stringify(j.requires);
  params[at + 5] = JSON.stringify(j.meta);
  params[at + 6] = j.priority;
  params[at + 7] = j.state;
  params[at + 8] = j.maxAttempts;
  params[at + 9] = j.timeoutMs;
  params[at + 10] = j.killSignal;
  params[at + 11] = j.killGraceMs;
  params[at + 12] = j.runAt;
  params[at + 13] = j.createdAt;
  params[at + 14] = j.createdAt;
  params[at + 15] = j.options === null ? null : JSON.stringify(j.options);
  params[at + 16] = j.hold === null ? null : JSON.stringify(j.hold);
  params[at + 17] = j.error == null ? null : JSON.stringify(j.error);
  // A job submitted canceled (its dependency had already failed) ended as it was submitted.
  params[at + 18] = j.state === 'canceled' ? j.createdAt : null;
  params[at + 19] = j.group;
  params[at + 20] = j.rank;
  params[at + 21] = j.tag;
}

/** Moves due scheduled jobs to queued; returns them, earliest run time (then id) first. */
export function jobPromoteDue(c: Conn, now: number, limit: number): { jobs: QueuedRef[] } {
  if (limit <= 0) return { jobs: [] };
  const rows = c.stmt(promoteSql).all(now, now, Math.floor(limit)) as Array<{
    id: number;
    needs_id: number;
    rank: number;
    run_at: number;
  }>;
  // RETURNING follows the update's order, not the subquery's: sort here.
  rows.sort((a, b) => a.run_at - b.run_at || a.id - b.id);
  return { jobs: rows.map((r) => ({ id: r.id, needsId: r.needs_id, priority: r.rank })) };
}
