/**
 * Reads of jobs and their logs (selecting jobs by filters is ./jobs-select.ts). Run on the
 * pool, outside any write: committed state only.
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
import type { Queryable } from './connection.js';
import {
  jobFromRow,
  logFromRow,
  runningColumns,
  runningFromRow,
  type JobRow,
  type LogRow,
  type RunningRow,
} from './rows.js';

const getSql = 'SELECT * FROM jobs WHERE id = $1';
const logsSql =
  'SELECT seq, job_id, attempt, stream, at, data FROM job_logs ' +
  'WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3';
const countsSql = 'SELECT state, count(*) AS n FROM jobs GROUP BY state';
const queueCountsSql =
  'SELECT queue, state, count(*) AS count FROM jobs GROUP BY queue, state ORDER BY queue, state';
/** Exported for the query-plan test. */
export const nextRunSql = `SELECT run_at FROM jobs WHERE state = 'scheduled' ORDER BY run_at LIMIT 1`;
const orphansSql =
  `SELECT ${runningColumns} FROM jobs WHERE state = 'running' ` +
  `AND node_id <> ALL($1::text[]) ORDER BY id LIMIT $2`;
const byWorkerSql = `SELECT ${runningColumns} FROM jobs WHERE state = 'running' AND worker_id = $1 ORDER BY id`;
const queuedRefsSql =
  `SELECT id, needs_id, priority, ahead FROM jobs WHERE state = 'queued' AND id > $1 ` +
  `ORDER BY id LIMIT $2`;

const failedTotalSql = `SELECT count(*) AS n FROM jobs WHERE state = 'failed'`;
/**
 * The failed queue by error group, from its own index; jobs that failed before groups existed
 * have none: they make the group ''. By queue or type: the failed rows, through jobs_state
 * (see migration 3). Exported for the query-plan test.
 */
export const failedBySql = (column: 'queue' | 'type' | 'error_group'): string =>
  `SELECT coalesce(${column}, '') AS key, count(*) AS n, max(id) AS newest FROM jobs ` +
  `WHERE state = 'failed' GROUP BY ${column} ORDER BY n DESC, newest DESC LIMIT $1`;

/** One job with everything it carries. */
export async function jobGet(c: Queryable, id: number): Promise<JobRecord | undefined> {
  const { rows } = await c.query<JobRow>(getSql, [id]);
  const row = rows[0];
  return row === undefined ? undefined : jobFromRow(row);
}

/** A page of one job's log lines after `afterSeq`, oldest first. */
export async function jobLogs(
  c: Queryable,
  id: number,
  afterSeq: number,
  limit: number,
): Promise<LogEntry[]> {
  if (limit <= 0) return [];
  const { rows } = await c.query<LogRow>(logsSql, [id, afterSeq, Math.floor(limit)]);
  return rows.map(logFromRow);
}

/** Jobs per state, every state present. */
export async function jobCounts(c: Queryable): Promise<JobCounts> {
  const counts = Object.fromEntries(jobStates.map((s) => [s, 0])) as JobCounts;
  const { rows } = await c.query<{ state: JobState; n: number }>(countsSql);
  for (const r of rows) counts[r.state] = r.n;
  return counts;
}

/** Jobs per queue and state: a scan of the table (callers cache it). */
export async function jobCountsByQueue(c: Queryable): Promise<QueueStateCount[]> {
  const { rows } = await c.query<QueueStateCount>(queueCountsSql);
  return rows;
}

/** When the scheduler must next look: the earliest scheduled run time, or null. */
export async function jobNextRunAt(c: Queryable): Promise<number | null> {
  const { rows } = await c.query<{ run_at: number }>(nextRunSql);
  return rows[0]?.run_at ?? null;
}

/** Running jobs whose node is not live, oldest first. */
export async function jobListOrphans(
  c: Queryable,
  liveNodeIds: readonly string[],
  limit: number,
): Promise<RunningJob[]> {
  if (limit <= 0) return [];
  const { rows } = await c.query<RunningRow>(orphansSql, [liveNodeIds, Math.floor(limit)]);
  return rows.map(runningFromRow);
}

/** One worker's running jobs, oldest first. */
export async function jobListRunningByWorker(
  c: Queryable,
  workerId: string,
): Promise<RunningJob[]> {
  const { rows } = await c.query<RunningRow>(byWorkerSql, [workerId]);
  return rows.map(runningFromRow);
}

/** A page of queued jobs by id, for the `multi` queue manager's start-up. */
export async function jobQueuedRefs(
  c: Queryable,
  afterId: number,
  limit: number,
): Promise<QueuedRef[]> {
  if (limit <= 0) return [];
  const { rows } = await c.query<{
    id: number;
    needs_id: number;
    priority: number;
    ahead: boolean;
  }>(queuedRefsSql, [afterId, Math.floor(limit)]);
  return rows.map((r) => ({ id: r.id, needsId: r.needs_id, priority: r.priority, ahead: r.ahead }));
}

/** The failed queue's size, and its largest groups (the newest job of each is its largest id). */
export async function failedGroups(
  c: Queryable,
  by: 'queue' | 'type' | 'error',
  limit: number,
): Promise<{ total: number; groups: FailedGroupRow[] }> {
  const { rows: totals } = await c.query<{ n: number }>(failedTotalSql);
  const total = totals[0]?.n ?? 0;
  if (limit <= 0) return { total, groups: [] };
  const { rows } = await c.query<{ key: string; n: number; newest: number }>(
    failedBySql(by === 'error' ? 'error_group' : by),
    [Math.floor(limit)],
  );
  return { total, groups: rows.map((r) => ({ key: r.key, count: r.n, newestId: r.newest })) };
}
