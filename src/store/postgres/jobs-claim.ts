/**
 * Leases: moving queued jobs to `running` for a worker (claim), and a reconnecting worker
 * keeping the jobs it still runs (adopt).
 *
 * Several nodes claim from one table at once. Each claim locks the rows it takes with
 * `FOR UPDATE SKIP LOCKED`: a row another node is claiming is passed over, never waited for and
 * never handed out twice. A claim is one statement (one round trip):
 *
 * 1. `ranked`: per needs, the best `limit` queued jobs, walking the partial dispatch index and
 *    stopping there (one `ORDER BY ... LIMIT` per needs, as in SQLite: a single
 *    `needs_id = ANY(...) ORDER BY` would sort every queued job of those needs).
 * 2. `quota`: how many of the overall best `limit` each needs contributes.
 * 3. `picked`: per needs, that many queued jobs again, now locked, skipping locked ones. Only
 *    the rows claimed are locked: locking spare candidates would hide them from other nodes,
 *    which could then think their needs exhausted while the jobs stay queued.
 * 4. `claimed`: the update, of rows found by primary key (`= ANY (ARRAY(...))`): the planner
 *    cannot know how few rows `picked` holds and would otherwise hash-join the whole table.
 *
 * A needs is exhausted when its `ranked` scan found fewer jobs than the limit and all of them
 * were claimed. When a row was skipped (another node holds it) the counts differ and the needs
 * is not reported exhausted: conservative, the dispatcher just looks again.
 */
import type { AdoptParams, ClaimParams, ClaimResult, RunningJob } from '../store.js';
import type { Queryable } from './connection.js';
import {
  runningColumns,
  runningColumnsOf,
  runningFromJson,
  runningFromRow,
  type RunningRow,
} from './rows.js';

/** Exported for the query-plan test. */
export const claimSql = `
  WITH ranked AS (
    SELECT c.id, c.needs_id, c.rank, c.ahead, c.tag
    FROM unnest($1::bigint[]) AS n(needs_id)
    CROSS JOIN LATERAL (
      SELECT j.id, j.needs_id, j.rank, j.ahead, j.tag FROM jobs j
      WHERE j.state = 'queued' AND j.needs_id = n.needs_id
      ORDER BY j.rank DESC, j.ahead DESC, j.tag, j.id
      LIMIT $2
    ) c
  ),
  quota AS (
    SELECT b.needs_id, count(*) AS n
    FROM (SELECT needs_id FROM ranked ORDER BY rank DESC, ahead DESC, tag, id LIMIT $2) b
    GROUP BY b.needs_id
  ),
  picked AS (
    SELECT p.id, p.rank, p.ahead, p.tag FROM quota q
    CROSS JOIN LATERAL (
      SELECT j.id, j.rank, j.ahead, j.tag FROM jobs j
      WHERE j.state = 'queued' AND j.needs_id = q.needs_id
      ORDER BY j.rank DESC, j.ahead DESC, j.tag, j.id
      LIMIT q.n
      FOR UPDATE SKIP LOCKED
    ) p
  ),
  claimed AS (
    UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, worker_id = $3,
      worker_name = $4, node_id = $5, started_at = $6, updated_at = $6, progress = NULL
    WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING ${runningColumnsOf('j')}
  ),
  found AS (SELECT needs_id, count(*) AS n FROM ranked GROUP BY needs_id),
  taken AS (SELECT needs_id, count(*) AS n FROM claimed GROUP BY needs_id)
  SELECT
    (SELECT coalesce(json_agg(c ORDER BY p.rank DESC, p.ahead DESC, p.tag, c.id), '[]')
     FROM claimed c JOIN picked p ON p.id = c.id) AS jobs,
    (SELECT coalesce(json_agg(n.needs_id), '[]')
     FROM unnest($1::bigint[]) AS n(needs_id)
     LEFT JOIN found f ON f.needs_id = n.needs_id
     LEFT JOIN taken t ON t.needs_id = n.needs_id
     WHERE coalesce(f.n, 0) < $2 AND coalesce(f.n, 0) = coalesce(t.n, 0)) AS exhausted`;

/** The named queued jobs, each once, returned in the order first named. */
const claimIdsSql = `
  WITH wanted AS (
    SELECT w.id, min(w.ord) AS ord
    FROM unnest($1::bigint[]) WITH ORDINALITY AS w(id, ord)
    GROUP BY w.id
  ),
  picked AS (
    SELECT j.id FROM jobs j
    WHERE j.id IN (SELECT id FROM wanted) AND j.state = 'queued'
    FOR UPDATE SKIP LOCKED
  ),
  claimed AS (
    UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, worker_id = $2,
      worker_name = $3, node_id = $4, started_at = $5, updated_at = $5, progress = NULL
    WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING ${runningColumnsOf('j')}
  )
  SELECT ${runningColumnsOf('c')} FROM claimed c JOIN wanted w ON w.id = c.id ORDER BY w.ord`;

const adoptSql = `
  UPDATE jobs SET worker_name = $2, node_id = $3, updated_at = $4
  WHERE id = $5 AND state = 'running' AND attempt = $6 AND worker_id = $1
  RETURNING ${runningColumns}`;

type Lessee = Omit<ClaimParams, 'needsIds' | 'limit'>;

/**
 * Highest rank (the priority, under most disciplines) first, then jobs re-queued ahead (runs
 * lost to the system), then the smallest tag (fair queueing), then oldest (smallest id); see
 * the file comment.
 */
export async function jobClaim(c: Queryable, params: ClaimParams): Promise<ClaimResult> {
  const limit = Math.floor(params.limit);
  const needsIds = [...new Set(params.needsIds)];
  if (limit <= 0 || needsIds.length === 0) return { jobs: [], exhausted: [] };
  const { rows } = await c.query<{ jobs: RunningRow[]; exhausted: number[] }>(claimSql, [
    needsIds,
    limit,
    params.workerId,
    params.workerName,
    params.nodeId,
    params.now,
  ]);
  const row = rows[0];
  if (row === undefined) throw new Error('the claim statement returned no row');
  return { jobs: row.jobs.map(runningFromJson), exhausted: row.exhausted };
}

/** Claims the named jobs that are still queued, in the order given. */
export async function jobClaimIds(
  c: Queryable,
  ids: readonly number[],
  who: Lessee,
): Promise<RunningJob[]> {
  if (ids.length === 0) return [];
  const { rows } = await c.query<RunningRow>(claimIdsSql, [
    ids,
    who.workerId,
    who.workerName,
    who.nodeId,
    who.now,
  ]);
  return rows.map(runningFromRow);
}

/** Re-points a running attempt at the worker (and node) that reports it still runs it. */
export async function jobAdopt(c: Queryable, params: AdoptParams): Promise<RunningJob | undefined> {
  const { rows } = await c.query<RunningRow>(adoptSql, [
    params.workerId,
    params.workerName,
    params.nodeId,
    params.now,
    params.id,
    params.attempt,
  ]);
  const row = rows[0];
  return row === undefined ? undefined : runningFromRow(row);
}
