/**
 * Deleting jobs: by id (an action), and the oldest ended ones of a state (retention). A job's
 * logs and the links naming it as a dependent go with it (ON DELETE CASCADE), and so do its
 * messages and the uniqueness keys it holds. Links naming it as a dependency stay: the jobs waiting for it see
 * it as canceled (./jobs-deps.ts).
 */
import { isTerminal, type JobState } from '../../domain/job.js';
import type { Conn } from './connection.js';

/** Ids travel as one JSON array, so that one statement serves any number of them. */
const deleteKeysSql = 'DELETE FROM unique_keys WHERE job_id IN (SELECT value FROM json_each(?))';
const deleteMessagesSql =
  'DELETE FROM job_messages WHERE job_id IN (SELECT value FROM json_each(?))';
const deleteSql = 'DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))';

/**
 * The oldest ended jobs of a state, from the partial index of ended jobs (migration 4): a
 * covering range in end-time order, read no further than the limit. Exported for the
 * query-plan test.
 */
export const purgeCandidatesSql =
  'SELECT id FROM jobs INDEXED BY jobs_ended WHERE state = ? AND finished_at < ? ' +
  'ORDER BY finished_at, id LIMIT ?';

/** Deletes the jobs named (and what goes with them); returns how many there were. */
export function jobDelete(c: Conn, ids: readonly number[]): number {
  if (ids.length === 0) return 0;
  const list = JSON.stringify(ids);
  c.stmt(deleteKeysSql).run(list);
  c.stmt(deleteMessagesSql).run(list);
  // Rows deleted by the cascade are not counted: only the jobs.
  return c.stmt(deleteSql).run(list).changes;
}

/** Deletes up to `limit` jobs of an ended state that ended before `finishedBefore`, oldest first. */
export function jobPurge(
  c: Conn,
  state: JobState,
  finishedBefore: number,
  limit: number,
): number[] {
  // Only ended jobs have an end time; the index holds nothing else.
  if (limit <= 0 || !isTerminal(state)) return [];
  const rows = c.stmt(purgeCandidatesSql).all(state, finishedBefore, Math.floor(limit)) as Array<{
    id: number;
  }>;
  const ids = rows.map((r) => r.id);
  jobDelete(c, ids);
  return ids;
}
