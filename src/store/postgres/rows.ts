/**
 * Rows as PostgreSQL returns them through this store's connections (int8 as numbers, json and
 * jsonb already parsed, booleans as booleans), and the one place each becomes a domain record.
 * Column lists live next to their mappers so that a query selects exactly what its mapper reads.
 */
import type { LimitUse } from '../../domain/queues.js';
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
import type {
  LogEntry,
  NeedsRecord,
  NodeRecord,
  RunningJob,
  UniqueHolder,
  WorkerRecord,
} from '../store.js';
import { decodeText, restoreNested } from '../text.js';

/** A `jobs` row, every column. */
export interface JobRow {
  id: number;
  needs_id: number;
  type: string;
  queue: string;
  payload: unknown;
  requires: Record<string, string>;
  meta: Record<string, unknown>;
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
  progress: Progress | null;
  attributes: Record<string, string>;
  result: unknown;
  error: JobError | null;
  attempts: Attempt[];
  ahead: boolean;
  output_dropped: number;
  output_gap_after: number | null;
  uncounted: number;
  options: JobOptions | null;
  hold: HoldInfo | null;
  error_group: string | null;
  grp: string | null;
}

/**
 * JSON text for a parameter of a json column. Always text: given a JS array, pg would send a
 * PostgreSQL array literal instead. `undefined` (absent) is SQL NULL.
 */
export function jsonOrNull(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value) ?? null;
}

/** JSON text for a value that is always present (`undefined` is stored as JSON null). */
export function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/**
 * JSON text for a jsonb column, which cannot hold NUL or lone surrogates: its strings are
 * escaped (src/store/text.ts), and the connection's jsonb parser restores them.
 */
export { storableJson as jsonb } from '../text.js';

/** The one mapping of a jobs row to a JobRecord: the API, the CLI and the tests see this. */
export function jobFromRow(row: JobRow): JobRecord {
  return {
    id: row.id,
    needsId: row.needs_id,
    type: row.type,
    queue: row.queue,
    payload: row.payload,
    requires: row.requires,
    meta: row.meta,
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
    progress: row.progress,
    attributes: row.attributes,
    result: row.result,
    error: row.error,
    attempts: row.attempts,
    uncounted: row.uncounted,
    options: row.options,
    hold: row.hold,
    errorGroup: row.error_group,
    outputDropped: row.output_dropped,
    outputGapAfter: row.output_gap_after,
  };
}

/** The columns a RunningJob is made of (for SELECT and RETURNING), unqualified. */
export const runningColumns =
  'id, needs_id, attempt, type, queue, payload, requires, priority, max_attempts, ' +
  'request_failures, timeout_ms, kill_signal, kill_grace_ms, run_at, started_at, worker_id, ' +
  'worker_name, node_id, uncounted, options';

/** `runningColumns` qualified by a table alias, for statements that join. */
export function runningColumnsOf(alias: string): string {
  return runningColumns
    .split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');
}

/**
 * A row of `runningColumns` of a job in state running (the schema guarantees the NOT NULLs).
 * Also the shape of such a row turned into JSON by `json_agg`: the same names and values, but
 * for the strings of jsonb columns, which come as stored (see `runningFromJson`).
 */
export interface RunningRow {
  id: number;
  needs_id: number;
  attempt: number;
  type: string;
  queue: string;
  payload: unknown;
  requires: Record<string, string>;
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
  options: JobOptions | null;
}

/** What the broker keeps of a running job. */
export function runningFromRow(row: RunningRow): RunningJob {
  return {
    id: row.id,
    needsId: row.needs_id,
    attempt: row.attempt,
    type: row.type,
    queue: row.queue,
    payload: row.payload,
    requires: row.requires,
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
    options: row.options,
  };
}

/**
 * The same, for a row that came through `json_agg` (a claim): options, absent for most jobs,
 * get their strings restored as the jsonb parser would have (src/store/text.ts).
 */
export function runningFromJson(row: RunningRow): RunningJob {
  const job = runningFromRow(row);
  if (job.options !== null) job.options = restoreNested(job.options) as JobOptions;
  return job;
}

/** A `needs` row. */
export interface NeedsRow {
  id: number;
  key: string;
  queue: string;
  type: string;
  requires: Record<string, string>;
  limits: LimitUse[] | null;
}

/** A needs row as a record. */
export function needsFromRow(row: NeedsRow): NeedsRecord {
  return {
    id: row.id,
    key: row.key,
    queue: row.queue,
    type: row.type,
    requires: row.requires,
    limits: row.limits ?? [],
  };
}

/** A `job_logs` row; `seq` comes from one sequence, so it grows across all jobs. */
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

/** A `workers` row. */
export interface WorkerRow {
  id: string;
  name: string;
  node_id: string;
  labels: Labels;
  types: string[];
  queues: string[];
  slots: number;
  address: string | null;
  connected_at: number;
  last_seen_at: number;
  online: boolean;
  secret_hash: string | null;
}

/** A worker row as a record. */
export function workerFromRow(row: WorkerRow): WorkerRecord {
  return {
    id: row.id,
    name: row.name,
    nodeId: row.node_id,
    labels: row.labels,
    types: row.types,
    queues: row.queues,
    slots: row.slots,
    address: row.address,
    connectedAt: row.connected_at,
    lastSeenAt: row.last_seen_at,
    online: row.online,
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

/** A `unique_keys` row. */
export interface UniqueRow {
  job_id: number;
  for_ms: number | null;
  while_states: JobState[] | null;
}

/** The times of the job holding a key, read after the key was locked. */
export interface HolderRow {
  state: JobState;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** The holder of a key, from its row and its job's. */
export function uniqueHolderFromRows(key: UniqueRow, job: HolderRow): UniqueHolder {
  return {
    jobId: key.job_id,
    state: job.state,
    createdAt: job.created_at,
    startedAt: job.started_at,
    finishedAt: job.finished_at,
    forMs: key.for_ms,
    while: key.while_states,
  };
}
