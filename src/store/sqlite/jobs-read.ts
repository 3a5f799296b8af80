/**
 * Reads of jobs and their logs (selecting jobs by filters is ./jobs-select.ts). Run on the
 * read-only connection: committed state only.
 */
import { jobStates, type JobRecord, type JobState } from '../../domain/job.js';
import type {
  FailedGroupRow,
  JobCounts,
  LogEntry,
  QueuedRef,
  QueueStateCount,
  RunningJob,
} from '../store.js';
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
const queueCountsSql =
  'SELECT queue, state, count(*) AS count FROM jobs GROUP BY queue, state ORDER BY queue, state';
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

/** A covering range of jobs_state. */
const failedTotalSql = `SELECT count(*) AS n FROM jobs WHERE state = 'failed'`;
/**
 * The failed queue by error group: one walk of its own index, in group order (no sort but that
 * of the groups by size). Exported for the query-plan test. Jobs that failed before groups
 * existed have none: they make the group ''.
 */
export const failedByErrorSql =
  `SELECT coalesce(error_group, '') AS key, count(*) AS n, max(id) AS newest ` +
  `FROM jobs INDEXED BY jobs_failed_group WHERE state = 'failed' GROUP BY error_group ` +
  `ORDER BY n DESC, newest DESC LIMIT ?`;
/** By queue or type: the failed rows, read through jobs_state (see migration 4). */
const failedBySql = (column: 'queue' | 'type'): string =>
  `SELECT ${column} AS key, count(*) AS n, max(id) AS newest FROM jobs ` +
  `WHERE state = 'failed' GROUP BY ${column} ORDER BY n DESC, newest DESC LIMIT ?`;
const failedByQueueSql = failedBySql('queue');
const failedByTypeSql = failedBySql('type');

/** One job with everything it carries. */
export function jobGet(c: Conn, id: number): JobRecord | undefined {
  const row = c.stmt(getSql).get(id) as JobRow | undefined;
  return row === undefined ? undefined : jobFromRow(row);
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

/** Jobs per queue and state: a scan of the table (callers cache it). */
export function jobCountsByQueue(c: Conn): QueueStateCount[] {
  return c.stmt(queueCountsSql).all() as QueueStateCount[];
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

/** The failed queue's size, and its largest groups (the newest job of each is its largest id). */
export function failedGroups(
  c: Conn,
  by: 'queue' | 'type' | 'error',
  limit: number,
): { total: number; groups: FailedGroupRow[] } {
  const total = (c.stmt(failedTotalSql).get() as { n: number }).n;
  if (limit <= 0) return { total, groups: [] };
  const sql =
    by === 'error' ? failedByErrorSql : by === 'queue' ? failedByQueueSql : failedByTypeSql;
  const rows = c.stmt(sql).all(Math.floor(limit)) as Array<{
    key: string;
    n: number;
    newest: number;
  }>;
  return { total, groups: rows.map((r) => ({ key: r.key, count: r.n, newestId: r.newest })) };
}
