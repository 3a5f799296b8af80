/**
 * Reads of jobs and their logs. Run on the pool, outside any write: committed state only.
 */
import { jobStates, type JobRecord, type JobState } from '../../domain/job.js';
import type { JobCounts, JobQuery, LogEntry, QueuedRef, RunningJob } from '../store.js';
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
/** Exported for the query-plan test. */
export const nextRunSql = `SELECT run_at FROM jobs WHERE state = 'scheduled' ORDER BY run_at LIMIT 1`;
const orphansSql =
  `SELECT ${runningColumns} FROM jobs WHERE state = 'running' ` +
  `AND node_id <> ALL($1::text[]) ORDER BY id LIMIT $2`;
const byWorkerSql = `SELECT ${runningColumns} FROM jobs WHERE state = 'running' AND worker_id = $1 ORDER BY id`;
const queuedRefsSql =
  `SELECT id, needs_id, priority, ahead FROM jobs WHERE state = 'queued' AND id > $1 ` +
  `ORDER BY id LIMIT $2`;

/** One job with everything it carries. */
export async function jobGet(c: Queryable, id: number): Promise<JobRecord | undefined> {
  const { rows } = await c.query<JobRow>(getSql, [id]);
  const row = rows[0];
  return row === undefined ? undefined : jobFromRow(row);
}

/** The SQL and parameters of one list query; filters absent from the query are left out. */
function listQuery(q: JobQuery, states: readonly JobState[] | undefined, limit: number) {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, value: unknown): void => {
    params.push(value);
    where.push(condition.replace('?', `$${params.length}`));
  };
  if (states !== undefined) add('state = ANY(?::text[])', states);
  if (q.queue !== undefined) add('queue = ?', q.queue);
  if (q.type !== undefined) add('type = ?', q.type);
  if (q.worker !== undefined) {
    params.push(q.worker);
    where.push(`(worker_id = $${params.length} OR worker_name = $${params.length})`);
  }
  const desc = q.order === 'desc';
  if (q.cursor !== undefined) add(desc ? 'id < ?' : 'id > ?', q.cursor);
  params.push(limit);
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
  const sql =
    `SELECT * FROM jobs${filter} ORDER BY id ${desc ? 'DESC' : 'ASC'} ` + `LIMIT $${params.length}`;
  return { sql, params };
}

/** An empty `states` list matches no job. */
export async function jobList(c: Queryable, q: JobQuery): Promise<JobRecord[]> {
  const limit = Math.floor(q.limit);
  if (limit <= 0) return [];
  const states = q.states === undefined ? undefined : [...new Set(q.states)];
  if (states !== undefined && states.length === 0) return [];
  const { sql, params } = listQuery(q, states, limit);
  const { rows } = await c.query<JobRow>(sql, params);
  return rows.map(jobFromRow);
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
