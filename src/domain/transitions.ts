/**
 * Changes of a job's state as data. Every change the broker makes (an end of an attempt, a
 * cancellation, and later hold, release, retry, move) is planned here as a `StateChange`: pure,
 * checked against the transition table of ./job.ts, and applied by the store's one conditional
 * operation (`jobSetStateIfMany`: "set the state to Y where it is still X"). Rules live here;
 * the stores only apply plans.
 */
import { errorGroupOf } from './error-groups.js';
import {
  canTransition,
  isTerminal,
  type Attempt,
  type AttemptOutcome,
  type HoldInfo,
  type JobError,
  type JobOptions,
  type JobState,
} from './job.js';
import { backoffPolicy, decideFailure, decideLoss, type RetryPolicy } from './retry.js';

/** Who runs a job's current attempt: what a change of a running job must still find. */
export interface Lease {
  attempt: number;
  workerId: string;
  nodeId: string;
}

/** What planning the end of a running attempt reads of its job. */
export interface LeasedJob extends Lease {
  id: number;
  workerName: string;
  startedAt: number;
  maxAttempts: number;
  requestFailures: number;
  /** Attempts that do not count against maxAttempts (held, or before a retry by hand). */
  uncounted: number;
  options: JobOptions | null;
}

/**
 * A conditional change of one job: applied only if the job is still in `from` (and, for a
 * running job, still under `lease`); otherwise nothing happens and the store says so. Fields
 * left undefined keep their value.
 */
export interface StateChange {
  id: number;
  from: JobState;
  /** For `from: 'running'`: the lease that must still be current. */
  lease?: Lease;
  to: JobState;
  now: number;
  /** When a `scheduled` or `queued` job may run. */
  runAt?: number;
  /** A `queued` job goes ahead of the others of its priority (a run lost to the system). */
  front?: boolean;
  result?: unknown;
  error?: JobError | null;
  requestFailures?: number;
  /** Appended to the job's attempts: the end of its running attempt. */
  record?: Attempt;
  /** Set when the job is held, cleared (null) when it leaves `held`. */
  hold?: HoldInfo | null;
  uncounted?: number;
  /** A failed job's group in the failed queue; null clears it. */
  errorGroup?: string | null;
  /** Replaces the job's attributes (a held service's endpoint is gone with it). */
  attributes?: Record<string, string>;
}

/** Thrown for a plan the transition table forbids: a bug in the broker, never a client error. */
export class TransitionError extends Error {
  constructor(
    readonly from: JobState,
    readonly to: JobState,
  ) {
    super(`a job cannot go from ${from} to ${to}`);
    this.name = 'TransitionError';
  }
}

/** The change, once the transition table allows it. */
export function checked(change: StateChange): StateChange {
  if (!canTransition(change.from, change.to)) throw new TransitionError(change.from, change.to);
  return change;
}

/**
 * The transitions the stores make in bulk by SQL of their own instead of by a plan: a claim
 * (queued → running, many jobs per statement) and a promotion of due jobs (scheduled →
 * queued). Checked against the table when this module loads, so that the table is the
 * authority for them too.
 */
function bulk<F extends JobState, T extends JobState>(from: F, to: T): { from: F; to: T } {
  if (!canTransition(from, to)) throw new TransitionError(from, to);
  return { from, to };
}
export const CLAIM = bulk('queued', 'running');
export const PROMOTE = bulk('scheduled', 'queued');

/** How a worker (or the broker, for a lost worker) says an attempt ended. */
export type Outcome =
  /** The job succeeded. */
  | { kind: 'done'; result: unknown }
  /** The job failed; `infrastructure` when the run was lost to the system, not the job. */
  | { kind: 'fail'; error: JobError; retryable: boolean; infrastructure: boolean; result?: unknown }
  /** The worker died or came back without the job. */
  | { kind: 'lost'; error: JobError }
  /**
   * The broker stopped the run to take the job back (its worker was put to sleep or drained
   * now): back to the front of the queue; the attempt counts neither against maxAttempts nor
   * against max_request_failures.
   */
  | { kind: 'requeue'; error: JobError };

export interface EndPolicy {
  now: number;
  maxRequestFailures: number;
  retry: RetryPolicy;
  random?: () => number;
}

/** The record of a running attempt that ends now. */
export function attemptRecord(
  job: LeasedJob,
  now: number,
  outcome: AttemptOutcome,
  error: JobError | null,
): Attempt {
  return {
    attempt: job.attempt,
    workerId: job.workerId,
    workerName: job.workerName,
    startedAt: job.startedAt,
    finishedAt: now,
    outcome,
    error,
  };
}

/** What the end of a running attempt means for its job: retry, re-queue or end. */
export function planEnd(job: LeasedJob, outcome: Outcome, policy: EndPolicy): StateChange {
  // Built field by field, without spreads: this runs once per job and spreading a shared base
  // into each literal cost more than the rest of the end together.
  const end = (
    to: JobState,
    runAt: number | undefined,
    result: unknown,
    error: JobError | null,
    outcomeOfAttempt: AttemptOutcome,
    attemptError: JobError | null,
    requestFailures: number,
  ): StateChange => {
    const planned: StateChange = {
      id: job.id,
      from: 'running',
      lease: job,
      to,
      now: policy.now,
      result,
      error,
      requestFailures,
      record: attemptRecord(job, policy.now, outcomeOfAttempt, attemptError),
    };
    if (runAt !== undefined) planned.runAt = runAt;
    if (to === 'failed' && error !== null) planned.errorGroup = errorGroupOf(error);
    return checked(planned);
  };

  if (outcome.kind === 'done') {
    return end(
      'succeeded',
      undefined,
      outcome.result ?? null,
      null,
      'succeeded',
      null,
      job.requestFailures,
    );
  }

  if (outcome.kind === 'requeue') {
    const change = end(
      'queued',
      policy.now,
      null,
      outcome.error,
      'aborted',
      outcome.error,
      job.requestFailures,
    );
    change.front = true;
    change.uncounted = job.uncounted + 1;
    return change;
  }

  if (outcome.kind === 'lost' || outcome.infrastructure) {
    const requestFailures = job.requestFailures + 1;
    const decision = decideLoss({
      requestFailures,
      maxRequestFailures: policy.maxRequestFailures,
      lastError: outcome.error.message,
    });
    const result = outcome.kind === 'fail' ? (outcome.result ?? null) : null;
    if (decision.action === 'requeue') {
      // A run lost to the system goes back ahead of the jobs that waited behind it (ReCodEx).
      const change = end(
        'queued',
        policy.now,
        result,
        outcome.error,
        'aborted',
        outcome.error,
        requestFailures,
      );
      change.front = true;
      return change;
    }
    return end(
      'failed',
      undefined,
      result,
      { code: 'max_request_failures', message: decision.message },
      'aborted',
      outcome.error,
      requestFailures,
    );
  }

  // Runs lost to the infrastructure are bounded by max_request_failures, not by maxAttempts;
  // runs stopped by a hold, and those before a retry by hand, do not count either.
  const counted = job.attempt - job.requestFailures - job.uncounted;
  const backoff = job.options?.backoff;
  const decision = decideFailure({
    now: policy.now,
    attempt: counted,
    maxAttempts: job.maxAttempts,
    retryable: outcome.retryable,
    policy: backoff === undefined ? policy.retry : backoffPolicy(backoff),
    ...(policy.random ? { random: policy.random } : {}),
  });
  const result = outcome.result ?? null;
  if (decision.action === 'retry') {
    return end(
      'scheduled',
      decision.runAt,
      result,
      outcome.error,
      'failed',
      outcome.error,
      job.requestFailures,
    );
  }
  const error: JobError =
    outcome.retryable && counted >= job.maxAttempts
      ? {
          ...outcome.error,
          message: `${outcome.error.message} (attempt ${counted} of ${job.maxAttempts}; no attempts left)`,
        }
      : outcome.error;
  return end('failed', undefined, result, error, 'failed', outcome.error, job.requestFailures);
}

/** What planning a cancellation reads of a job: its state, and its lease while it runs. */
export interface JobStateView {
  id: number;
  state: JobState;
  attempt: number;
  workerId: string | null;
  workerName: string | null;
  nodeId: string | null;
  startedAt: number | null;
  maxAttempts: number;
  requestFailures: number;
  uncounted: number;
  options: JobOptions | null;
  runAt: number;
}

/** The running job's lease, as planning needs it; undefined unless it runs. */
export function leaseOf(job: JobStateView): LeasedJob | undefined {
  if (job.state !== 'running') return undefined;
  if (job.workerId === null || job.workerName === null || job.nodeId === null) return undefined;
  if (job.startedAt === null) return undefined;
  return {
    id: job.id,
    attempt: job.attempt,
    workerId: job.workerId,
    workerName: job.workerName,
    nodeId: job.nodeId,
    startedAt: job.startedAt,
    maxAttempts: job.maxAttempts,
    requestFailures: job.requestFailures,
    uncounted: job.uncounted,
    options: job.options,
  };
}

/**
 * Cancelling a job that has not ended; a running one's attempt is recorded as canceled (its
 * process is stopped by whoever runs it). Null for a job that already ended.
 */
export function planCancel(job: JobStateView, now: number): StateChange | null {
  if (isTerminal(job.state)) return null;
  const change: StateChange = { id: job.id, from: job.state, to: 'canceled', now };
  const lease = leaseOf(job);
  if (lease !== undefined) {
    change.lease = lease;
    change.record = attemptRecord(lease, now, 'canceled', null);
  }
  return checked(change);
}

/**
 * Holding a job (HTCondor's condor_hold): a scheduled or queued one stays out of dispatch; a
 * running one's attempt is recorded as held, does not count against maxAttempts, and its process
 * is stopped by whoever runs it. A waiting job cannot be held (its release would skip its
 * dependencies). Null for a job that cannot be held.
 */
export function planHold(job: JobStateView, hold: HoldInfo, now: number): StateChange | null {
  if (job.state !== 'scheduled' && job.state !== 'queued' && job.state !== 'running') return null;
  const change: StateChange = { id: job.id, from: job.state, to: 'held', now, hold };
  const lease = leaseOf(job);
  if (lease !== undefined) {
    change.lease = lease;
    change.record = attemptRecord(lease, now, 'held', null);
    change.uncounted = job.uncounted + 1;
    change.attributes = {};
  }
  return checked(change);
}

/** Releasing a held job: back to the queue now. Null for a job that is not held. */
export function planRelease(job: JobStateView, now: number): StateChange | null {
  if (job.state !== 'held') return null;
  return checked({ id: job.id, from: 'held', to: 'queued', now, runAt: now, hold: null });
}

/**
 * Retrying an ended job by hand: back to the queue with all its attempts again (the earlier ones
 * stop counting) and a clean error. It runs whatever became of its dependencies: retry those
 * first. Null for a job that cannot be retried (it has not ended, or it succeeded).
 */
export function planRetry(job: JobStateView, now: number): StateChange | null {
  if (job.state !== 'failed' && job.state !== 'canceled') return null;
  return checked({
    id: job.id,
    from: job.state,
    to: 'queued',
    now,
    runAt: now,
    result: null,
    error: null,
    errorGroup: null,
    requestFailures: 0,
    uncounted: job.attempt,
  });
}

/** A scheduled job (delayed, or backing off) runs now. Null for one that is not scheduled. */
export function planRunNow(job: JobStateView, now: number): StateChange | null {
  if (job.state !== 'scheduled') return null;
  return checked({ id: job.id, from: 'scheduled', to: 'queued', now, runAt: now });
}

/** What a waiting job's dependencies are: each one's id and state. */
export interface DependencyState {
  id: number;
  state: JobState;
}

/**
 * A waiting job once a dependency ended: queued (or scheduled, before its run time) when all
 * succeeded; canceled, naming the dependency, when one failed or was canceled; otherwise it
 * keeps waiting (null).
 */
export function planDependencies(
  job: { id: number; state: JobState; runAt: number },
  dependencies: readonly DependencyState[],
  now: number,
): StateChange | null {
  if (job.state !== 'waiting') return null;
  const broken = brokenDependency(dependencies);
  if (broken !== null) {
    return checked({ id: job.id, from: 'waiting', to: 'canceled', now, error: broken });
  }
  if (!dependencies.every((d) => d.state === 'succeeded')) return null;
  return checked(
    job.runAt > now
      ? { id: job.id, from: 'waiting', to: 'scheduled', now, runAt: job.runAt }
      : { id: job.id, from: 'waiting', to: 'queued', now, runAt: now },
  );
}

/**
 * The error of a job whose dependency failed or was canceled (it can never run), naming the
 * first such dependency; null while none did.
 */
export function brokenDependency(dependencies: readonly DependencyState[]): JobError | null {
  const broken = dependencies.find((d) => d.state === 'failed' || d.state === 'canceled');
  if (broken === undefined) return null;
  return {
    code: 'dependency_failed',
    message: `job ${broken.id}, which this job depends on, ${broken.state === 'failed' ? 'failed' : 'was canceled'}`,
    details: { dependency: String(broken.id), state: broken.state },
  };
}
