/**
 * Shared fixtures of the store contract suite. Nothing here knows which backend runs: stores
 * come from the factory each backend's test file passes in, one fresh store per test.
 */
import { afterEach, beforeEach } from 'vitest';
import type { Attempt, AttemptOutcome, JobError, JobRecord } from '../../../src/domain/job.js';
import { defaultRetryPolicy } from '../../../src/domain/retry.js';
import { attemptRecord, planEnd } from '../../../src/domain/transitions.js';
import type {
  ClaimParams,
  ClaimResult,
  NewJob,
  RunningJob,
  StateChange,
  Store,
} from '../../../src/store/store.js';

/** Makes a fresh, empty store; `cleanup` closes it and removes what it made. */
export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/** A fixed "now" for the suite: stores must not read the clock themselves. */
export const T0 = 1_700_000_000_000;

/** Registers a fresh store per test; read `.store` inside a test. */
export function useStore(factory: StoreFactory): { readonly store: Store } {
  let current: { store: Store; cleanup(): Promise<void> } | undefined;
  beforeEach(async () => {
    current = await factory();
  });
  afterEach(async () => {
    const c = current;
    current = undefined;
    await c?.cleanup();
  });
  return {
    get store(): Store {
      if (current === undefined) throw new Error('no store outside a test');
      return current.store;
    },
  };
}

/** Creates (or finds) the needs of a queue and type; returns its id. */
export function addNeeds(
  store: Store,
  queue = 'default',
  type = 'shell',
  requires: Record<string, string> = {},
): Promise<number> {
  const key = JSON.stringify([queue, type, requires]);
  return store.write((tx) => tx.needsUpsert({ key, queue, type, requires, limits: [] }));
}

/** The hold of a job submitted held, unless a test gives its own. */
export const testHold = { reason: 'held by a test', by: 'local', at: T0 } as const;

/**
 * A queued job of `needsId` with plain defaults; `overrides` replace any field. A held job
 * gets `testHold` (exactly the held jobs have a hold).
 */
export function newJob(needsId: number, overrides: Partial<NewJob> = {}): NewJob {
  return {
    type: 'shell',
    queue: 'default',
    needsId,
    payload: { cmd: 'true' },
    requires: {},
    meta: {},
    priority: 0,
    maxAttempts: 3,
    timeoutMs: null,
    killSignal: 'SIGTERM',
    killGraceMs: 10_000,
    state: 'queued',
    runAt: T0,
    createdAt: T0,
    options: null,
    hold: overrides.state === 'held' ? { ...testHold } : null,
    group: null,
    // Under the default discipline a job's rank is its priority.
    rank: overrides.priority ?? 0,
    tag: 0,
    ...overrides,
  };
}

/** Inserts jobs in one write; returns their ids. */
export function insertJobs(store: Store, jobs: readonly NewJob[]): Promise<number[]> {
  return store.write((tx) => tx.jobInsertMany(jobs));
}

/** Inserts one job; returns its id. */
export async function insertJob(store: Store, job: NewJob): Promise<number> {
  const [id] = await insertJobs(store, [job]);
  if (id === undefined) throw new Error('jobInsertMany returned no id');
  return id;
}

/** Who claims, unless a test says otherwise. */
export const worker1 = { workerId: 'w1', workerName: 'alpha', nodeId: 'n1' } as const;
/** Another worker, on another node. */
export const worker2 = { workerId: 'w2', workerName: 'beta', nodeId: 'n2' } as const;

/** Claims up to `limit` jobs of the needs for a worker, in one write. */
export function claim(
  store: Store,
  needsIds: readonly number[],
  limit: number,
  who: Omit<ClaimParams, 'needsIds' | 'limit' | 'now'> = worker1,
  now = T0 + 1_000,
): Promise<ClaimResult> {
  return store.write((tx) => tx.jobClaim({ needsIds, limit, now, ...who }));
}

/** Claims one named job (which must be queued) for a worker. */
export async function claimId(
  store: Store,
  id: number,
  who: Omit<ClaimParams, 'needsIds' | 'limit' | 'now'> = worker1,
  now = T0 + 1_000,
): Promise<RunningJob> {
  const [job] = await store.write((tx) => tx.jobClaimIds([id], { now, ...who }));
  if (job === undefined) throw new Error(`job ${id} could not be claimed`);
  return job;
}

/** Inserts a job and claims it: a job running its first attempt. */
export async function runningJob(
  store: Store,
  needsId: number,
  who: Omit<ClaimParams, 'needsIds' | 'limit' | 'now'> = worker1,
  overrides: Partial<NewJob> = {},
): Promise<RunningJob> {
  const id = await insertJob(store, newJob(needsId, overrides));
  return claimId(store, id, who);
}

/** The attempt record a worker's end of `job` would carry. */
export function attemptOf(
  job: RunningJob,
  outcome: AttemptOutcome,
  finishedAt: number,
  error: JobError | null = null,
): Attempt {
  return attemptRecord(job, finishedAt, outcome, error);
}

/** The states an attempt's end may leave its job in. */
export type EndState = 'succeeded' | 'failed' | 'scheduled' | 'queued';

/** The end of `job`'s current attempt in `state`; `extra` replaces any field. */
export function endOf(
  job: RunningJob,
  state: EndState,
  extra: Partial<StateChange> = {},
): StateChange {
  const now = extra.now ?? T0 + 5_000;
  const error: JobError | null =
    state === 'succeeded' ? null : { code: 'exit_code', message: 'exited with 1' };
  const outcome: AttemptOutcome = state === 'succeeded' ? 'succeeded' : 'failed';
  return {
    id: job.id,
    from: 'running',
    lease: { attempt: job.attempt, workerId: job.workerId, nodeId: job.nodeId },
    to: state,
    ...(state === 'succeeded' ? { result: { ok: true } } : {}),
    ...(state === 'scheduled' || state === 'queued' ? { runAt: now + 1_000 } : {}),
    error,
    record: attemptOf(job, outcome, now, error),
    requestFailures: job.requestFailures,
    now,
    ...extra,
  };
}

/** Applies changes of state in one write. */
export function setStates(store: Store, changes: readonly StateChange[]): Promise<boolean[]> {
  return store.write((tx) => tx.jobSetStateIfMany(changes));
}

/** Ends attempts in one write (changes from running). */
export const endAttempts = setStates;

/** A job known to exist. */
export async function getJob(store: Store, id: number): Promise<JobRecord> {
  const job = await store.jobGet(id);
  if (job === undefined) throw new Error(`job ${id} not found`);
  return job;
}

/** A job as planning reads it: in a write, as the broker reads it. */
export async function forUpdate(store: Store, id: number): Promise<JobRecord> {
  const [job] = await store.write((tx) => tx.jobGetForUpdate([id]));
  if (job === undefined) throw new Error(`job ${id} not found`);
  return job;
}

/**
 * Inserts a job that runs once and fails for good at `now`, as planEnd plans it (with its
 * error group); returns its id, group and error.
 */
export async function failedJob(
  store: Store,
  needsId: number,
  message = 'exited with 1',
  now = T0 + 5_000,
  overrides: Partial<NewJob> = {},
): Promise<{ id: number; errorGroup: string; error: JobError | null | undefined }> {
  const job = await runningJob(store, needsId, worker1, { maxAttempts: 1, ...overrides });
  const end = planEnd(
    job,
    { kind: 'fail', error: { code: 'exit_code', message }, retryable: true, infrastructure: false },
    { now, maxRequestFailures: 3, retry: defaultRetryPolicy },
  );
  if (end.to !== 'failed' || end.errorGroup == null) throw new Error('planned no failure');
  const [applied] = await endAttempts(store, [end]);
  if (applied !== true) throw new Error(`job ${job.id} could not be failed`);
  return { id: job.id, errorGroup: end.errorGroup, error: end.error };
}
