/**
 * Rows as SQLite returns them, and the one place each becomes a domain record (JSON parsed,
 * NULLs kept as null). Column lists live next to their mappers so that a query selects exactly
 * what its mapper reads.
 */
import type {
  Attempt,
  HoldInfo,
  JobError,
  JobOptions,
  JobRecord,
  JobState,
  Labels,
  Progress,
} from '../../domain/job.js';
import type { DependencyState } from '../../domain/transitions.js';
import type { LimitUse } from '../../domain/queues.js';
import type {
  LogEntry,
  NeedsRecord,
  NodeRecord,
  RunningJob,
  UniqueHolder,
  WorkerRecord,
} from '../store.js';
import { decodeText } from '../text.js';

/** A `jobs` row, every column. */
export interface JobRow {
  id: number;
  needs_id: number;
  type: string;
  queue: string;
  payload: string;
  requires: string;
  meta: string;
  priority: number;
  state: JobState;
  max_attempts: number;
  attempt: number;
  request_failures: number;
  timeout_ms: number | null;
  kill_signal: string;
  kill_grace_ms: number;
  run_at: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
  worker_name: string | null;
  node_id: string | null;
  progress: string | null;
  attributes: string;
  result: string | null;
  error: string | null;
  attempts: string;
  ahead: 0 | 1;
  output_dropped: number;
  output_gap_after: number | null;
  uncounted: number;
  options: string | null;
  hold: string | null;
  error_group: string | null;
  grp: string | null;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

/** JSON text for a value that may be absent; absent (or unserializable as JSON) is NULL. */
export function jsonOrNull(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value) ?? null;
}

/** The one mapping of a jobs row to a JobRecord: the API, the CLI and the tests see this. */
export function jobFromRow(row: JobRow): JobRecord {
  return {
    id: row.id,
    needsId: row.needs_id,
    type: row.type,
    queue: row.queue,
    payload: JSON.parse(row.payload),
    requires: JSON.parse(row.requires) as Record<string, string>,
    meta: JSON.parse(row.meta) as Record<string, unknown>,
    priority: row.priority,
    group: row.grp,
    state: row.state,
    maxAttempts: row.max_attempts,
    attempt: row.attempt,
    requestFailures: row.request_failures,
    timeoutMs: row.timeout_ms,
    killSignal: row.kill_signal,
    killGraceMs: row.kill_grace_ms,
    runAt: row.run_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    workerId: row.worker_id,
    workerName: row.worker_name,
    nodeId: row.node_id,
    progress: parse(row.progress) as Progress | null,
    attributes: JSON.parse(row.attributes) as Record<string, string>,
    result: parse(row.result),
    error: parse(row.error) as JobError | null,
    attempts: attemptsOf(row),
    uncounted: row.uncounted,
    options: parse(row.options) as JobOptions | null,
    hold: parse(row.hold) as HoldInfo | null,
    errorGroup: row.error_group,
    outputDropped: row.output_dropped,
    outputGapAfter: row.output_gap_after,
  };
}

/**
 * The attempts JSON holds every ended attempt but a successful one, which is the row's own
 * lease columns (a success is always the last attempt, and ending it keeps them). Anything that
 * would run a succeeded job again must first append this derived attempt to the JSON.
 */
function attemptsOf(row: JobRow): Attempt[] {
  const attempts = JSON.parse(row.attempts) as Attempt[];
  if (row.state === 'succeeded') {
    attempts.push({
      attempt: row.attempt,
      // The lease columns of the running job it was; the schema guaranteed them then.
      workerId: row.worker_id as string,
      workerName: row.worker_name as string,
      startedAt: row.started_at as number,
      finishedAt: row.finished_at as number,
      outcome: 'succeeded',
      error: null,
    });
  }
  return attempts;
}

/** The columns a RunningJob is made of (for SELECT and RETURNING). */
export const runningColumns =
  'id, needs_id, attempt, type, queue, payload, requires, priority, max_attempts, ' +
  'request_failures, timeout_ms, kill_signal, kill_grace_ms, run_at, started_at, worker_id, ' +
  'worker_name, node_id, uncounted, options';

/** A row of `runningColumns` of a job in state running (the schema guarantees the NOT NULLs). */
export interface RunningRow {
  id: number;
  needs_id: number;
  attempt: number;
  type: string;
  queue: string;
  payload: string;
  requires: string;
  priority: number;
  max_attempts: number;
  request_failures: number;
  timeout_ms: number | null;
  kill_signal: string;
  kill_grace_ms: number;
  run_at: number;
  started_at: number;
  worker_id: string;
  worker_name: string;
  node_id: string;
  uncounted: number;
  options: string | null;
}

/** What the broker keeps of a running job; the schema guarantees its non-null columns. */
export function runningFromRow(row: RunningRow): RunningJob {
  return {
    id: row.id,
    needsId: row.needs_id,
    attempt: row.attempt,
    type: row.type,
    queue: row.queue,
    payload: JSON.parse(row.payload),
    requires: JSON.parse(row.requires) as Record<string, string>,
    priority: row.priority,
    maxAttempts: row.max_attempts,
    requestFailures: row.request_failures,
    timeoutMs: row.timeout_ms,
    killSignal: row.kill_signal,
    killGraceMs: row.kill_grace_ms,
    runAt: row.run_at,
    startedAt: row.started_at,
    workerId: row.worker_id,
    workerName: row.worker_name,
    nodeId: row.node_id,
    uncounted: row.uncounted,
    options: parse(row.options) as JobOptions | null,
  };
}

/** A `needs` row. */
export interface NeedsRow {
  id: number;
  key: string;
  queue: string;
  type: string;
  requires: string;
  limits: string | null;
}

/** A needs row as a record. */
export function needsFromRow(row: NeedsRow): NeedsRecord {
  return {
    id: row.id,
    key: row.key,
    queue: row.queue,
    type: row.type,
    requires: JSON.parse(row.requires) as Record<string, string>,
    limits: row.limits === null ? [] : (JSON.parse(row.limits) as LimitUse[]),
  };
}

/** A `job_logs` row; `seq` is its rowid, so it grows across all jobs. */
export interface LogRow {
  seq: number;
  job_id: number;
  attempt: number;
  stream: 'stdout' | 'stderr';
  at: number;
  data: string;
}

/** A log row as an entry. */
export function logFromRow(row: LogRow): LogEntry {
  return {
    seq: row.seq,
    jobId: row.job_id,
    attempt: row.attempt,
    stream: row.stream,
    at: row.at,
    data: decodeText(row.data),
  };
}

/** A `workers` row; SQLite has no booleans, so `online` is 0 or 1. */
export interface WorkerRow {
  id: string;
  name: string;
  node_id: string;
  labels: string;
  types: string;
  queues: string;
  slots: number;
  address: string | null;
  connected_at: number;
  last_seen_at: number;
  online: 0 | 1;
  secret_hash: string | null;
}

/** A worker row as a record. */
export function workerFromRow(row: WorkerRow): WorkerRecord {
  return {
    id: row.id,
    name: row.name,
    nodeId: row.node_id,
    labels: JSON.parse(row.labels) as Labels,
    types: JSON.parse(row.types) as string[],
    queues: JSON.parse(row.queues) as string[],
    slots: row.slots,
    address: row.address,
    connectedAt: row.connected_at,
    lastSeenAt: row.last_seen_at,
    online: row.online === 1,
    secretHash: row.secret_hash,
  };
}

/** A `nodes` row. */
export interface NodeRow {
  id: string;
  address: string;
  started_at: number;
  heartbeat_at: number;
  queue_stats: string | null;
}

/** A node row as a record. */
export function nodeFromRow(row: NodeRow): NodeRecord {
  return {
    id: row.id,
    address: row.address,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    queueStats: row.queue_stats,
  };
}

/**
 * A `job_deps` row with its dependency's state: NULL when the dependency was deleted, which
 * counts as canceled (it can never succeed).
 */
export interface DependencyRow {
  job_id: number;
  depends_on: number;
  state: JobState | null;
}

/** A dependency as planning reads it. */
export function dependencyFromRow(row: DependencyRow): DependencyState {
  return { id: row.depends_on, state: row.state ?? 'canceled' };
}

/** A `unique_keys` row with the times of the job holding the key (NULL: it is gone). */
export interface UniqueRow {
  job_id: number;
  for_ms: number | null;
  while_states: string | null;
  state: JobState | null;
  created_at: number | null;
  started_at: number | null;
  finished_at: number | null;
}

/** The holder of a key; null when no job holds it (the job is gone). */
export function uniqueHolderFromRow(row: UniqueRow): UniqueHolder | null {
  if (row.state === null || row.created_at === null) return null;
  return {
    jobId: row.job_id,
    state: row.state,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    forMs: row.for_ms,
    while: parse(row.while_states) as JobState[] | null,
  };
}
