/**
 * The columns of a JobStateRow (what planning a change by hand reads) and their one mapping,
 * shared by both stores: only how `options` is read differs (JSON text in SQLite, jsonb in
 * PostgreSQL).
 */
import type { JobOptions, JobState } from '../domain/job.js';
import type { JobStateRow } from './store.js';

export const stateColumns =
  'id, needs_id, priority, state, attempt, worker_id, worker_name, node_id, started_at, ' +
  'max_attempts, request_failures, uncounted, options, run_at';

/** A row of `stateColumns`, with `options` as the driver gives it. */
export interface StateColumns<O> {
  id: number;
  needs_id: number;
  priority: number;
  state: JobState;
  attempt: number;
  worker_id: string | null;
  worker_name: string | null;
  node_id: string | null;
  started_at: number | null;
  max_attempts: number;
  request_failures: number;
  uncounted: number;
  options: O;
  run_at: number;
}

export function stateRowOf<O>(r: StateColumns<O>, options: JobOptions | null): JobStateRow {
  return {
    id: r.id,
    needsId: r.needs_id,
    priority: r.priority,
    state: r.state,
    attempt: r.attempt,
    workerId: r.worker_id,
    workerName: r.worker_name,
    nodeId: r.node_id,
    startedAt: r.started_at,
    maxAttempts: r.max_attempts,
    requestFailures: r.request_failures,
    uncounted: r.uncounted,
    options,
    runAt: r.run_at,
  };
}
