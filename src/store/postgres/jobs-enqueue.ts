/**
 * Jobs entering dispatch: insertion, and promotion of scheduled jobs whose time has come. Both
 * are one statement whatever the number of jobs: the rows travel as parallel arrays.
 */
import type { NewJob, QueuedRef } from '../store.js';
import type { Queryable } from './connection.js';
import { json, jsonb } from './rows.js';

/**
 * `ORDER BY ord` makes the rows, and so their identity values, follow the input order; the ids
 * are sorted again on return in case RETURNING does not keep that order.
 */
const insertSql = `
  INSERT INTO jobs (needs_id, type, queue, payload, requires, meta, priority, state,
    max_attempts, timeout_ms, kill_signal, kill_grace_ms, run_at, created_at, updated_at,
    options, hold, error, finished_at, grp, rank, tag)
  SELECT needs_id, type, queue, payload::json, requires::jsonb, meta::json, priority, state,
    max_attempts, timeout_ms, kill_signal, kill_grace_ms, run_at, created_at, created_at,
    options::jsonb, hold::jsonb, error::json, finished_at, grp, rank, tag
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::integer[], $8::text[], $9::integer[], $10::bigint[], $11::text[], $12::bigint[],
    $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::text[], $18::bigint[],
    $19::text[], $20::integer[], $21::float8[])
    WITH ORDINALITY AS t(needs_id, type, queue, payload, requires, meta, priority, state,
      max_attempts, timeout_ms, kill_signal, kill_grace_ms, run_at, created_at, options, hold,
      error, finished_at, grp, rank, tag, ord)
  ORDER BY ord
  RETURNING id`;

/**
 * Oldest run time first, so that a backlog of due jobs drains in the order it fell due. Rows
 * another node is promoting are skipped, not waited for.
 */
export const promoteSql = `
  WITH due AS (
    SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= $1
    ORDER BY run_at, id LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE jobs j SET state = 'queued', ahead = false, updated_at = $1 FROM due WHERE j.id = due.id
  RETURNING j.id, j.needs_id, j.rank, j.run_at`;

/** Inserts jobs in one statement; returns their ids in input order. */
export async function jobInsertMany(c: Queryable, jobs: readonly NewJob[]): Promise<number[]> {
  if (jobs.length === 0) return [];
  const { rows } = await c.query<{ id: number }>(insertSql, [
    jobs.map((j) => j.needsId),
    jobs.map((j) => j.type),
    jobs.map((j) => j.queue),
    jobs.map((j) => json(j.payload)),
    jobs.map((j) => jsonb(j.requires)),
    jobs.map((j) => json(j.meta)),
    jobs.map((j) => j.priority),
    jobs.map((j) => j.state),
    jobs.map((j) => j.maxAttempts),
    jobs.map((j) => j.timeoutMs),
    jobs.map((j) => j.killSignal),
    jobs.map((j) => j.killGraceMs),
    jobs.map((j) => j.runAt),
    jobs.map((j) => j.createdAt),
    // SQL NULL for none: jsonb(null) would be JSON null.
    jobs.map((j) => (j.options === null ? null : jsonb(j.options))),
    jobs.map((j) => (j.hold === null ? null : jsonb(j.hold))),
    jobs.map((j) => (j.error == null ? null : json(j.error))),
    // A job submitted canceled (its dependency had already failed) ended as it was submitted.
    jobs.map((j) => (j.state === 'canceled' ? j.createdAt : null)),
    jobs.map((j) => j.group),
    jobs.map((j) => j.rank),
    jobs.map((j) => j.tag),
  ]);
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Moves due scheduled jobs to queued; returns them, earliest run time (then id) first. */
export async function jobPromoteDue(
  c: Queryable,
  now: number,
  limit: number,
): Promise<{ jobs: QueuedRef[] }> {
  if (limit <= 0) return { jobs: [] };
  const { rows } = await c.query<{
    id: number;
    needs_id: number;
    rank: number;
    run_at: number;
  }>(promoteSql, [now, Math.floor(limit)]);
  // RETURNING follows the update's order, not the subquery's: sort here.
  rows.sort((a, b) => a.run_at - b.run_at || a.id - b.id);
  return { jobs: rows.map((r) => ({ id: r.id, needsId: r.needs_id, priority: r.rank })) };
}
