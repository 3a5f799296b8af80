/**
 * Leases: moving queued jobs to `running` for a worker (claim), and a reconnecting worker
 * keeping the jobs it still runs (adopt).
 *
 * A claim reads candidates per needs, not with one `needs_id IN (...) ORDER BY` query: SQLite
 * would have to read and sort every queued job of those needs, while one `ORDER BY ... LIMIT`
 * per needs walks the partial dispatch index and stops after `limit` rows, however long the
 * queue. The candidates are merged in memory.
 */
import type { JobOptions } from '../../domain/job.js';
import type { AdoptParams, ClaimParams, ClaimResult, RunningJob } from '../store.js';
import type { Statement } from 'better-sqlite3';
import type { Conn } from './connection.js';
import { runningColumns, runningFromRow, type RunningRow } from './rows.js';

/**
 * What a claim reads back: only what the caller does not already know (the lease's worker,
 * node and start time are its own parameters, the needs its argument), as a raw row.
 */
const claimedColumns =
  'id, needs_id, attempt, type, queue, payload, requires, priority, max_attempts, ' +
  'request_failures, timeout_ms, kill_signal, kill_grace_ms, ahead, uncounted, options, run_at, ' +
  'rank, tag';

type ClaimedRow = [
  id: number,
  needsId: number,
  attempt: number,
  type: string,
  queue: string,
  payload: string,
  requires: string,
  priority: number,
  maxAttempts: number,
  requestFailures: number,
  timeoutMs: number | null,
  killSignal: string,
  killGraceMs: number,
  /** Only for ordering: 1 for a job re-queued ahead of its priority. */
  ahead: number,
  uncounted: number,
  /** NULL for most jobs: parsed only when present. */
  options: string | null,
  runAt: number,
  /** Only for ordering: the place under the queue's discipline. */
  rank: number,
  tag: number,
];

/** The best queued jobs of one needs (exported for the query-plan test). */
export const claimCandidatesSql =
  `SELECT id, rank, ahead, tag FROM jobs INDEXED BY jobs_dispatch ` +
  `WHERE needs_id = ? AND state = 'queued' ORDER BY rank DESC, ahead DESC, tag, id LIMIT ?`;

const claimOneSql =
  `UPDATE jobs SET state = 'running', attempt = attempt + 1, worker_id = ?, worker_name = ?, ` +
  `node_id = ?, started_at = ?, updated_at = ?, progress = NULL ` +
  `WHERE id = ? AND state = 'queued' RETURNING ${claimedColumns}`;

/**
 * The best queued jobs of one needs, claimed in one statement: a third cheaper per job than a
 * statement per job. RETURNING gives no order; the caller sorts.
 */
export const claimNeedsSql =
  `UPDATE jobs SET state = 'running', attempt = attempt + 1, worker_id = ?, worker_name = ?, ` +
  `node_id = ?, started_at = ?, updated_at = ?, progress = NULL WHERE id IN ` +
  `(SELECT id FROM jobs INDEXED BY jobs_dispatch WHERE needs_id = ? AND state = 'queued' ` +
  `ORDER BY rank DESC, ahead DESC, tag, id LIMIT ?) RETURNING ${claimedColumns}`;

const adoptSql =
  `UPDATE jobs SET worker_id = @workerId, worker_name = @workerName, node_id = @nodeId, ` +
  `updated_at = @now WHERE id = @id AND state = 'running' AND attempt = @attempt ` +
  `AND worker_id = @workerId ` +
  `RETURNING ${runningColumns}`;

/** What orders queued jobs for dispatch (src/domain/queues.ts). */
interface DispatchKey {
  id: number;
  rank: number;
  ahead: number;
  tag: number;
}

/**
 * The best `limit` queued jobs of each needs, by `select` (`needs_id = ? ... ORDER BY rank
 * DESC, ahead DESC, tag, id LIMIT ?`, one walk of the dispatch index per needs), merged in
 * dispatch order; `short` gives the needs whose walk found fewer than asked, with how many.
 */
export function mergedCandidates<R extends DispatchKey>(
  select: Statement,
  needsIds: Iterable<number>,
  limit: number,
): { candidates: Array<R & { needsId: number }>; short: Map<number, number> } {
  const candidates: Array<R & { needsId: number }> = [];
  const short = new Map<number, number>();
  for (const needsId of needsIds) {
    const rows = select.all(needsId, limit) as R[];
    for (const r of rows) candidates.push({ ...r, needsId });
    if (rows.length < limit) short.set(needsId, rows.length);
  }
  candidates.sort((a, b) => b.rank - a.rank || b.ahead - a.ahead || a.tag - b.tag || a.id - b.id);
  return { candidates, short };
}

type Lessee = Omit<ClaimParams, 'needsIds' | 'limit'>;

function claimed(row: ClaimedRow, who: Lessee): RunningJob {
  return {
    id: row[0],
    needsId: row[1],
    attempt: row[2],
    type: row[3],
    queue: row[4],
    payload: JSON.parse(row[5]),
    requires: JSON.parse(row[6]) as Record<string, string>,
    priority: row[7],
    maxAttempts: row[8],
    requestFailures: row[9],
    timeoutMs: row[10],
    killSignal: row[11],
    killGraceMs: row[12],
    runAt: row[16],
    startedAt: who.now,
    workerId: who.workerId,
    workerName: who.workerName,
    nodeId: who.nodeId,
    uncounted: row[14],
    options: row[15] === null ? null : (JSON.parse(row[15]) as JobOptions),
  };
}

function claimOne(c: Conn, id: number, who: Lessee): RunningJob | undefined {
  const row = c
    .rawStmt(claimOneSql)
    .get(who.workerId, who.workerName, who.nodeId, who.now, who.now, id) as ClaimedRow | undefined;
  return row === undefined ? undefined : claimed(row, who);
}

/**
 * Highest rank (the priority, under most disciplines) first, then those re-queued ahead (runs
 * lost to the system), then the smallest tag (fair queueing), then oldest (smallest id). A needs is exhausted when its query found
 * fewer jobs than asked and every one of them was claimed: only then is none of it left queued.
 */
export function jobClaim(c: Conn, params: ClaimParams): ClaimResult {
  const limit = Math.floor(params.limit);
  if (limit <= 0 || params.needsIds.length === 0) return { jobs: [], exhausted: [] };
  const needs = new Set(params.needsIds);
  if (needs.size === 1) return claimFromOneNeeds(c, params.needsIds[0] as number, limit, params);
  const { candidates, short } = mergedCandidates<DispatchKey>(
    c.stmt(claimCandidatesSql),
    needs,
    limit,
  );
  const chosen = candidates.length > limit ? candidates.slice(0, limit) : candidates;
  const jobs: RunningJob[] = [];
  for (const candidate of chosen) {
    const job = claimOne(c, candidate.id, params);
    if (job === undefined) continue;
    jobs.push(job);
    const left = short.get(candidate.needsId);
    if (left !== undefined) short.set(candidate.needsId, left - 1);
  }
  const exhausted: number[] = [];
  for (const [needsId, left] of short) if (left === 0) exhausted.push(needsId);
  return { jobs, exhausted };
}

/**
 * The common case, a worker matching one needs: one statement. Nothing else writes meanwhile
 * (one writer), so fewer jobs than asked means none of that needs is left queued.
 */
function claimFromOneNeeds(c: Conn, needsId: number, limit: number, who: Lessee): ClaimResult {
  const rows = c
    .rawStmt(claimNeedsSql)
    .all(
      who.workerId,
      who.workerName,
      who.nodeId,
      who.now,
      who.now,
      needsId,
      limit,
    ) as ClaimedRow[];
  rows.sort((a, b) => b[17] - a[17] || b[13] - a[13] || a[18] - b[18] || a[0] - b[0]);
  const jobs = rows.map((row) => claimed(row, who));
  return { jobs, exhausted: jobs.length < limit ? [needsId] : [] };
}

/** Claims the named jobs that are still queued, in the order given. */
export function jobClaimIds(c: Conn, ids: readonly number[], who: Lessee): RunningJob[] {
  const jobs: RunningJob[] = [];
  for (const id of ids) {
    const job = claimOne(c, id, who);
    if (job !== undefined) jobs.push(job);
  }
  return jobs;
}

/** Re-points a running attempt at the worker (and node) that reports it still runs it. */
export function jobAdopt(c: Conn, params: AdoptParams): RunningJob | undefined {
  const row = c.stmt(adoptSql).get(params) as RunningRow | undefined;
  return row === undefined ? undefined : runningFromRow(row);
}
