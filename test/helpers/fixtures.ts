/** Records as the API and the store give them, for unit tests: every field, sensible values. */
import type { JobBody } from '../../src/protocol/api.js';
import type { JobStateView } from '../../src/domain/transitions.js';
import type { RunningJob } from '../../src/store/store.js';

const AT = '2024-01-01T00:00:00.000Z';

/** A queued shell job as the API answers it; `patch` overrides any field. */
export function jobBody(patch: Partial<JobBody> = {}): JobBody {
  return {
    id: '1',
    type: 'shell',
    queue: 'default',
    state: 'queued',
    payload: { command: ['true'] },
    requires: {},
    meta: {},
    priority: 0,
    maxAttempts: 5,
    attempt: 0,
    requestFailures: 0,
    timeout: null,
    killSignal: 'SIGTERM',
    killGrace: 10,
    runAt: AT,
    createdAt: AT,
    updatedAt: AT,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    workerName: null,
    progress: null,
    attributes: {},
    result: null,
    error: null,
    attempts: [],
    backoff: null,
    silenceTimeout: null,
    unique: null,
    notify: null,
    hold: null,
    errorGroup: null,
    group: null,
    limits: [],
    ...patch,
  };
}

/** Job 7, attempt 1 on worker w_1 (alpha) of node n_1 since t = 1000; `over` overrides. */
export function runningJob(over: Partial<RunningJob> = {}): RunningJob {
  return {
    id: 7,
    needsId: 1,
    attempt: 1,
    type: 'shell',
    queue: 'default',
    payload: {},
    requires: {},
    priority: 0,
    maxAttempts: 3,
    requestFailures: 0,
    timeoutMs: null,
    killSignal: 'SIGTERM',
    killGraceMs: 10_000,
    runAt: 500,
    startedAt: 1_000,
    workerId: 'w_1',
    workerName: 'alpha',
    nodeId: 'n_1',
    uncounted: 0,
    options: null,
    ...over,
  };
}

/** Job 9 as planning a change by hand reads it: queued, never run; `over` overrides. */
export function stateView(over: Partial<JobStateView> = {}): JobStateView {
  return {
    id: 9,
    state: 'queued',
    attempt: 0,
    workerId: null,
    workerName: null,
    nodeId: null,
    startedAt: null,
    maxAttempts: 3,
    requestFailures: 0,
    uncounted: 0,
    options: null,
    runAt: 0,
    ...over,
  };
}
