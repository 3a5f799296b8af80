/**
 * What the end of an attempt means for its job: the plan of the `AttemptEnd` the store applies.
 * Pure: the broker passes the clock's `now` and the policy.
 */
import type { AttemptOutcome, JobError } from '../domain/job.js';
import { decideFailure, decideLoss, type RetryPolicy } from '../domain/retry.js';
import type { AttemptEnd, RunningJob } from '../store/store.js';

/** How a worker (or the broker, for a lost worker) says an attempt ended. */
export type Outcome =
  /** The job succeeded. */
  | { kind: 'done'; result: unknown }
  /** The job failed; `infrastructure` when the run was lost to the system, not the job. */
  | { kind: 'fail'; error: JobError; retryable: boolean; infrastructure: boolean; result?: unknown }
  /** The worker died or came back without the job. */
  | { kind: 'lost'; error: JobError };

export interface EndPolicy {
  now: number;
  maxRequestFailures: number;
  retry: RetryPolicy;
  random?: () => number;
}

export function planEnd(job: RunningJob, outcome: Outcome, policy: EndPolicy): AttemptEnd {
  const base = {
    id: job.id,
    attempt: job.attempt,
    workerId: job.workerId,
    now: policy.now,
  };
  const record = (o: AttemptOutcome, error: JobError | null) => ({
    attempt: job.attempt,
    workerId: job.workerId,
    workerName: job.workerName,
    startedAt: job.startedAt,
    finishedAt: policy.now,
    outcome: o,
    error,
  });

  if (outcome.kind === 'done') {
    return {
      ...base,
      state: 'succeeded',
      result: outcome.result ?? null,
      error: null,
      record: record('succeeded', null),
      requestFailures: job.requestFailures,
    };
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
      return {
        ...base,
        state: 'queued',
        runAt: policy.now,
        result,
        error: outcome.error,
        record: record('aborted', outcome.error),
        requestFailures,
      };
    }
    return {
      ...base,
      state: 'failed',
      result,
      error: { code: 'max_request_failures', message: decision.message },
      record: record('aborted', outcome.error),
      requestFailures,
    };
  }

  // Runs lost to the infrastructure are bounded by max_request_failures, not by maxAttempts.
  const counted = job.attempt - job.requestFailures;
  const decision = decideFailure({
    now: policy.now,
    attempt: counted,
    maxAttempts: job.maxAttempts,
    retryable: outcome.retryable,
    policy: policy.retry,
    ...(policy.random ? { random: policy.random } : {}),
  });
  const result = outcome.result ?? null;
  if (decision.action === 'retry') {
    return {
      ...base,
      state: 'scheduled',
      runAt: decision.runAt,
      result,
      error: outcome.error,
      record: record('failed', outcome.error),
      requestFailures: job.requestFailures,
    };
  }
  const error: JobError =
    outcome.retryable && counted >= job.maxAttempts
      ? {
          ...outcome.error,
          message: `${outcome.error.message} (attempt ${counted} of ${job.maxAttempts}; no attempts left)`,
        }
      : outcome.error;
  return {
    ...base,
    state: 'failed',
    result,
    error,
    record: record('failed', outcome.error),
    requestFailures: job.requestFailures,
  };
}
