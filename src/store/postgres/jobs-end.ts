/**
 * Ends of attempts (a worker's result, a lost worker) and cancellation by a person.
 */
import { isTerminal, type Attempt, type JobRecord, type JobState } from '../../domain/job.js';
import type { AttemptEnd } from '../store.js';
import type { Queryable } from './connection.js';
import { jobFromRow, jsonOrNull, type JobRow } from './rows.js';

/**
 * Conditional on the attempt being current (same job, running, same attempt, same worker): a
 * late result from a worker that lost the job must not overwrite the attempt that replaced it.
 * One statement ends many attempts; it answers with the positions (`ord`) that applied.
 */
const endSql = `
  UPDATE jobs j SET state = e.state, run_at = coalesce(e.run_at, j.run_at),
    result = e.result::json, error = e.error::json, request_failures = e.request_failures,
    finished_at = e.finished_at, updated_at = e.now,
    attempts = j.attempts || jsonb_build_array(e.record::jsonb)
  FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::bigint[], $6::text[],
    $7::text[], $8::integer[], $9::bigint[], $10::bigint[], $11::text[])
    WITH ORDINALITY AS e(id, attempt, worker_id, state, run_at, result, error,
      request_failures, finished_at, now, record, ord)
  WHERE j.id = e.id AND j.state = 'running' AND j.attempt = e.attempt
    AND j.worker_id = e.worker_id
  RETURNING e.ord`;

const lockSql = 'SELECT * FROM jobs WHERE id = $1 FOR UPDATE';

const cancelSql = `
  UPDATE jobs SET state = 'canceled', finished_at = $1, updated_at = $1,
    attempts = CASE WHEN $2::text IS NULL THEN attempts
      ELSE attempts || jsonb_build_array($2::jsonb) END
  WHERE id = $3 RETURNING *`;

/**
 * Splits ends into rounds in which each job appears at most once, keeping their order: one
 * UPDATE cannot apply two ends to one row, but rounds run one after another behave as if each
 * end ran alone, in order (a second end of the same attempt finds it no longer running).
 */
function rounds(ends: readonly AttemptEnd[]): Array<Array<{ end: AttemptEnd; index: number }>> {
  const seen = new Map<number, number>();
  const result: Array<Array<{ end: AttemptEnd; index: number }>> = [];
  ends.forEach((end, index) => {
    const round = seen.get(end.id) ?? 0;
    seen.set(end.id, round + 1);
    (result[round] ??= []).push({ end, index });
  });
  return result;
}

/** Ends one round's attempts in one statement; marks the ones that applied in `applied`. */
async function endRound(
  c: Queryable,
  round: ReadonlyArray<{ end: AttemptEnd; index: number }>,
  applied: boolean[],
): Promise<void> {
  const ends = round.map((r) => r.end);
  const { rows } = await c.query<{ ord: number }>(endSql, [
    ends.map((e) => e.id),
    ends.map((e) => e.attempt),
    ends.map((e) => e.workerId),
    ends.map((e) => e.state),
    ends.map((e) => e.runAt ?? null),
    ends.map((e) => jsonOrNull(e.result)),
    ends.map((e) => jsonOrNull(e.error)),
    ends.map((e) => e.requestFailures),
    ends.map((e) => (isTerminal(e.state) ? e.now : null)),
    ends.map((e) => e.now),
    ends.map((e) => JSON.stringify(e.record)),
  ]);
  for (const { ord } of rows) {
    const entry = round[ord - 1];
    if (entry !== undefined) applied[entry.index] = true;
  }
}

/** Ends attempts; the answers say, per entry, which were current. */
export async function jobEndAttempts(
  c: Queryable,
  ends: readonly AttemptEnd[],
): Promise<boolean[]> {
  const applied = ends.map(() => false);
  for (const round of rounds(ends)) await endRound(c, round, applied);
  return applied;
}

/** The record of a running attempt stopped by cancellation. */
function canceledAttempt(row: JobRow, now: number): Attempt {
  return {
    attempt: row.attempt,
    // The schema guarantees these for a running job.
    workerId: row.worker_id as string,
    workerName: row.worker_name as string,
    startedAt: row.started_at as number,
    finishedAt: now,
    outcome: 'canceled',
    error: null,
  };
}

/**
 * Cancels a job that has not ended. Unknown id: undefined. A job that already ended is returned
 * unchanged with `before` its (terminal) state, so that the caller can refuse with the state.
 * The row is locked first, so that the state read is the state replaced.
 */
export async function jobCancel(
  c: Queryable,
  id: number,
  now: number,
): Promise<{ before: JobState; job: JobRecord } | undefined> {
  const { rows } = await c.query<JobRow>(lockSql, [id]);
  const row = rows[0];
  if (row === undefined) return undefined;
  if (isTerminal(row.state)) return { before: row.state, job: jobFromRow(row) };
  const record = row.state === 'running' ? JSON.stringify(canceledAttempt(row, now)) : null;
  const after = await c.query<JobRow>(cancelSql, [now, record, id]);
  return { before: row.state, job: jobFromRow(after.rows[0] as JobRow) };
}
