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
  // Built field by field, without spreads: this runs once per job and spreading a shared base
  // into each literal cost more than the rest of the end together.
  const end = (
    state: AttemptEnd['state'],
    runAt: number | undefined,
    result: unknown,
    error: JobError | null,
    outcomeOfAttempt: AttemptOutcome,
    attemptError: JobError | null,
    requestFailures: number,
  ): AttemptEnd => {
    const planned: AttemptEnd = {
      id: job.id,
      attempt: job.attempt,
      workerId: job.workerId,
      state,
      result,
      error,
      record: {
        attempt: job.attempt,
        workerId: job.workerId,
        workerName: job.workerName,
        startedAt: job.startedAt,
        finishedAt: policy.now,
        outcome: outcomeOfAttempt,
        error: attemptError,
      },
      requestFailures,
      now: policy.now,
    };
    if (runAt !== undefined) planned.runAt = runAt;
    return planned;
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

  if (outcome.kind === 'lost' || outcome.infrastructure) {
    const requestFailures = job.requestFailures + 1;
    const decision = decideLoss({
      requestFailures,
      maxRequestFailures: policy.maxRequestFailures,
      lastError: outcome.error.message,
    });
    const result = outcome.kind === 'fail' ? (outcome.result ?? null) : null;
    if (decision.action === 'requeue') {
      return end(
        'queued',
        policy.now,
        result,
        outcome.error,
        'aborted',
        outcome.error,
        requestFailures,
      );
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
