/**
 * Reads of jobs and their logs. Run on the read-only connection: committed state only.
 */
import { jobStates, type JobRecord, type JobState } from '../../domain/job.js';
import type { JobCounts, JobQuery, LogEntry, QueuedRef, RunningJob } from '../store.js';
import type { Conn } from './connection.js';
import {
  jobFromRow,
  logFromRow,
  runningColumns,
  runningFromRow,
  type JobRow,
  type LogRow,
  type RunningRow,
} from './rows.js';

const getSql = 'SELECT * FROM jobs WHERE id = ?';
const logsSql =
  'SELECT seq, job_id, attempt, stream, at, data FROM job_logs ' +
  'WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?';
const countsSql = 'SELECT state, count(*) AS n FROM jobs GROUP BY state';
/** Exported for the query-plan test. */
export const nextRunSql =
  `SELECT run_at FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' ` +
  `ORDER BY run_at LIMIT 1`;
/** The live nodes travel as one JSON array, so that one statement serves any number of them. */
const orphansSql =
  `SELECT ${runningColumns} FROM jobs WHERE state = 'running' ` +
  `AND node_id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?`;
const byWorkerSql = `SELECT ${runningColumns} FROM jobs WHERE state = 'running' AND worker_id = ? ORDER BY id`;
const queuedRefsSql = `SELECT id, needs_id, priority, ahead FROM jobs WHERE state = 'queued' AND id > ? ORDER BY id LIMIT ?`;

/** One job with everything it carries. */
export function jobGet(c: Conn, id: number): JobRecord | undefined {
  const row = c.stmt(getSql).get(id) as JobRow | undefined;
  return row === undefined ? undefined : jobFromRow(row);
}

/**
 * The SQL for one shape of query (which filters are present, which order), prepared once and
 * cached by its text: shapes are few. At most one state: several are read one by one and merged
 * (below), because `state IN (...) ORDER BY id` would sort every matching row.
 */
function listSql(q: JobQuery, byState: boolean): string {
  const where: string[] = [];
  if (byState) where.push('state = ?');
  if (q.queue !== undefined) where.push('queue = ?');
  if (q.type !== undefined) where.push('type = ?');
  if (q.worker !== undefined) where.push('(worker_id = ? OR worker_name = ?)');
  const desc = q.order === 'desc';
  if (q.cursor !== undefined) where.push(desc ? 'id < ?' : 'id > ?');
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
  return `SELECT * FROM jobs${filter} ORDER BY id ${desc ? 'DESC' : 'ASC'} LIMIT ?`;
}

function listRows(c: Conn, q: JobQuery, state: JobState | undefined, limit: number): JobRow[] {
  const params: Array<string | number> = [];
  if (state !== undefined) params.push(state);
  if (q.queue !== undefined) params.push(q.queue);
  if (q.type !== undefined) params.push(q.type);
  if (q.worker !== undefined) params.push(q.worker, q.worker);
  if (q.cursor !== undefined) params.push(q.cursor);
  params.push(limit);
  return c.stmt(listSql(q, state !== undefined)).all(...params) as JobRow[];
}

/** An empty `states` list matches no job, as `IN ()` would. */
export function jobList(c: Conn, q: JobQuery): JobRecord[] {
  const limit = Math.floor(q.limit);
  if (limit <= 0) return [];
  if (q.states === undefined) return listRows(c, q, undefined, limit).map(jobFromRow);
  const states = [...new Set(q.states)];
  if (states.length === 1) return listRows(c, q, states[0], limit).map(jobFromRow);
  const rows = states.flatMap((s) => listRows(c, q, s, limit));
  rows.sort(q.order === 'desc' ? (a, b) => b.id - a.id : (a, b) => a.id - b.id);
  return rows.slice(0, limit).map(jobFromRow);
}

/** A page of one job's log lines after `afterSeq`, oldest first. */
export function jobLogs(c: Conn, id: number, afterSeq: number, limit: number): LogEntry[] {
  if (limit <= 0) return [];
  const rows = c.stmt(logsSql).all(id, afterSeq, Math.floor(limit)) as LogRow[];
  return rows.map(logFromRow);
}

/** Jobs per state, every state present: a covering scan of the state index. */
export function jobCounts(c: Conn): JobCounts {
  const counts = Object.fromEntries(jobStates.map((s) => [s, 0])) as JobCounts;
  for (const r of c.stmt(countsSql).all() as Array<{ state: JobState; n: number }>) {
    counts[r.state] = r.n;
  }
  return counts;
}

/** When the scheduler must next look: the earliest scheduled run time, or null. */
export function jobNextRunAt(c: Conn): number | null {
  const row = c.stmt(nextRunSql).get() as { run_at: number } | undefined;
  return row === undefined ? null : row.run_at;
}

/** Running jobs whose node is not live, oldest first. */
export function jobListOrphans(
  c: Conn,
  liveNodeIds: readonly string[],
  limit: number,
): RunningJob[] {
  if (limit <= 0) return [];
  const rows = c.stmt(orphansSql).all(JSON.stringify(liveNodeIds), Math.floor(limit));
  return (rows as RunningRow[]).map(runningFromRow);
}

/** One worker's running jobs, oldest first. */
export function jobListRunningByWorker(c: Conn, workerId: string): RunningJob[] {
  return (c.stmt(byWorkerSql).all(workerId) as RunningRow[]).map(runningFromRow);
}

/** A page of queued jobs by id, for the `multi` queue manager's start-up. */
export function jobQueuedRefs(c: Conn, afterId: number, limit: number): QueuedRef[] {
  if (limit <= 0) return [];
  const rows = c.stmt(queuedRefsSql).all(afterId, Math.floor(limit)) as Array<{
    id: number;
    needs_id: number;
    priority: number;
    ahead: 0 | 1;
  }>;
  return rows.map((r) => ({
    id: r.id,
    needsId: r.needs_id,
    priority: r.priority,
    ahead: r.ahead === 1,
  }));
}
