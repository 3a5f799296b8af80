/**
 * Deleting jobs: by id (an action), and the oldest ended ones of a state (retention). A job's
 * logs and the links naming it as a dependent go with it (ON DELETE CASCADE), and so do its
 * messages and the uniqueness keys it holds. Links naming it as a dependency stay: the jobs waiting for it see
 * it as canceled (./jobs-deps.ts). Each is one statement.
 */
import { isTerminal, type JobState } from '../../domain/job.js';
import type { Queryable } from './connection.js';

const deleteSql = `
  WITH gone AS (DELETE FROM jobs WHERE id = ANY ($1::bigint[]) RETURNING id),
  keys AS (DELETE FROM unique_keys WHERE job_id IN (SELECT id FROM gone)),
  messages AS (DELETE FROM job_messages WHERE job_id IN (SELECT id FROM gone))
  SELECT count(*) AS n FROM gone`;

/**
 * The oldest ended jobs of a state, from the partial index of ended jobs (migration 3), no
 * further than the limit. Rows another node has locked (it is retrying one, say) are skipped,
 * not waited for. Exported for the query-plan test.
 */
export const purgeSql = `
  WITH doomed AS (
    SELECT id FROM jobs WHERE state = $1 AND finished_at < $2
    ORDER BY finished_at, id LIMIT $3
    FOR UPDATE SKIP LOCKED
  ),
  gone AS (
    DELETE FROM jobs WHERE id = ANY (ARRAY(SELECT id FROM doomed))
    RETURNING id, finished_at
  ),
  keys AS (DELETE FROM unique_keys WHERE job_id IN (SELECT id FROM gone)),
  messages AS (DELETE FROM job_messages WHERE job_id IN (SELECT id FROM gone))
  SELECT id FROM gone ORDER BY finished_at, id`;

/** Deletes the jobs named (and what goes with them); returns how many there were. */
export async function jobDelete(c: Queryable, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await c.query<{ n: number }>(deleteSql, [ids]);
  return rows[0]?.n ?? 0;
}

/** Deletes up to `limit` jobs of an ended state that ended before `finishedBefore`, oldest first. */
export async function jobPurge(
  c: Queryable,
  state: JobState,
  finishedBefore: number,
  limit: number,
): Promise<number[]> {
  if (limit <= 0 || !isTerminal(state)) return [];
  const { rows } = await c.query<{ id: number }>(purgeSql, [
    state,
    finishedBefore,
    Math.floor(limit),
  ]);
  return rows.map((r) => r.id);
}
