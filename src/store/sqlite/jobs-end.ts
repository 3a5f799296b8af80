/**
 * Ends of attempts (a worker's result, a lost worker) and cancellation by a person.
 */
import { isTerminal, type Attempt, type JobRecord, type JobState } from '../../domain/job.js';
import type { AttemptEnd } from '../store.js';
import type { Conn } from './connection.js';
import { jobFromRow, jsonOrNull, type JobRow } from './rows.js';

/**
 * Conditional on the attempt being current (same job, running, same attempt, same worker): a
 * late result from a worker that lost the job must not overwrite the attempt that replaced it.
 */
const endSql =
  `UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), result = ?, error = ?, ` +
  `request_failures = ?, finished_at = ?, updated_at = ?, ` +
  `attempts = json_insert(attempts, '$[#]', json(?)) ` +
  `WHERE id = ? AND state = 'running' AND attempt = ? AND worker_id = ?`;

const selectSql = 'SELECT * FROM jobs WHERE id = ?';

const cancelSql =
  `UPDATE jobs SET state = 'canceled', finished_at = ?, updated_at = ?, ` +
  `attempts = CASE WHEN ? IS NULL THEN attempts ELSE json_insert(attempts, '$[#]', json(?)) END ` +
  `WHERE id = ? RETURNING *`;

/**
 * A success leaves the attempts JSON alone: the successful attempt is read back from the row's
 * lease columns, which the end keeps (see `jobFromRow`).
 */
const succeedSql =
  `UPDATE jobs SET state = 'succeeded', result = ?, error = NULL, request_failures = ?, ` +
  `finished_at = ?, updated_at = ? ` +
  `WHERE id = ? AND state = 'running' AND attempt = ? AND worker_id = ?`;

/** One conditional UPDATE per end; the answers say which were current. */
export function jobEndAttempts(c: Conn, ends: readonly AttemptEnd[]): boolean[] {
  const end = c.stmt(endSql);
  const succeed = c.stmt(succeedSql);
  return ends.map((e) =>
    e.state === 'succeeded'
      ? succeed.run(
          jsonOrNull(e.result),
          e.requestFailures,
          e.now,
          e.now,
          e.id,
          e.attempt,
          e.workerId,
        ).changes === 1
      : end.run(
          e.state,
          e.runAt ?? null,
          jsonOrNull(e.result),
          jsonOrNull(e.error),
          e.requestFailures,
          isTerminal(e.state) ? e.now : null,
          e.now,
          JSON.stringify(e.record),
          e.id,
          e.attempt,
          e.workerId,
        ).changes === 1,
  );
}

/**
 * Cancels a job that has not ended. Unknown id: undefined. A job that already ended is returned
 * unchanged with `before` its (terminal) state, so that the caller can refuse with the state.
 */
export function jobCancel(
  c: Conn,
  id: number,
  now: number,
): { before: JobState; job: JobRecord } | undefined {
  const row = c.stmt(selectSql).get(id) as JobRow | undefined;
  if (row === undefined) return undefined;
  if (isTerminal(row.state)) return { before: row.state, job: jobFromRow(row) };
  let record: string | null = null;
  if (row.state === 'running') {
    const attempt: Attempt = {
      attempt: row.attempt,
      // The schema guarantees these for a running job.
      workerId: row.worker_id as string,
      workerName: row.worker_name as string,
      startedAt: row.started_at as number,
      finishedAt: now,
      outcome: 'canceled',
      error: null,
    };
    record = JSON.stringify(attempt);
  }
  const after = c.stmt(cancelSql).get(now, now, record, record, id) as JobRow;
  return { before: row.state, job: jobFromRow(after) };
}
