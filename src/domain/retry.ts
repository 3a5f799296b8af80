/**
 * The default retry policy: exponential back-off with jitter. Pure; randomness is injected.
 *
 * After the n-th failed attempt (n ≥ 1) the job waits
 *     delay = min(maxMs, baseMs · factor^(n−1)) · (1 + jitter · (2·r − 1)),   r ∈ [0, 1)
 * so with the defaults (base 1 s, factor 2, max 1 h, jitter 0.2) the waits are about
 * 1 s, 2 s, 4 s, 8 s … each within ±20 %, never more than 1 h 12 min. A job may bring its own
 * (`backoff` at submission).
 */
import type { Backoff } from './job.js';

export interface RetryPolicy {
  baseMs: number;
  factor: number;
  maxMs: number;
  /** Fraction of the delay, 0..1, by which it is spread up or down at random. */
  jitter: number;
}

/** A job's own back-off as a policy: fixed is exponential with factor 1. */
export function backoffPolicy(backoff: Backoff): RetryPolicy {
  return {
    baseMs: backoff.delayMs,
    factor: backoff.type === 'fixed' ? 1 : 2,
    maxMs: backoff.maxDelayMs,
    jitter: backoff.jitter,
  };
}

export const defaultRetryPolicy: RetryPolicy = {
  baseMs: 1_000,
  factor: 2,
  maxMs: 3_600_000,
  jitter: 0.2,
};

/** The delay before the attempt that follows failed attempt number `attempt` (1-based). */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy = defaultRetryPolicy,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = Math.min(policy.maxMs, policy.baseMs * Math.pow(policy.factor, n - 1));
  const spread = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(raw * spread));
}

/** When the job runs again after failed attempt `attempt`. */
export function nextRunAt(
  now: number,
  attempt: number,
  policy: RetryPolicy = defaultRetryPolicy,
  random: () => number = Math.random,
): number {
  return now + backoffDelay(attempt, policy, random);
}

/** What happens to a job after an attempt ended in the job's own failure. */
export type FailureDecision = { action: 'retry'; runAt: number } | { action: 'fail' };

/**
 * A retryable failure is retried with back-off while attempts remain; a permanent one, or one
 * that used the last attempt, fails the job.
 */
export function decideFailure(args: {
  now: number;
  attempt: number;
  maxAttempts: number;
  retryable: boolean;
  policy?: RetryPolicy;
  random?: () => number;
}): FailureDecision {
  if (!args.retryable || args.attempt >= args.maxAttempts) return { action: 'fail' };
  return { action: 'retry', runAt: nextRunAt(args.now, args.attempt, args.policy, args.random) };
}

/** What happens to a job whose run was lost to the infrastructure (ReCodEx's request failure). */
export type LossDecision = { action: 'requeue' } | { action: 'fail'; message: string };

/**
 * A job whose worker died (or whose process could not start) goes back to the queue until its
 * failure count reaches `max_request_failures`; then it fails with a message naming the count
 * and the last error.
 */
export function decideLoss(args: {
  requestFailures: number;
  maxRequestFailures: number;
  lastError: string;
}): LossDecision {
  if (args.requestFailures < args.maxRequestFailures) return { action: 'requeue' };
  return {
    action: 'fail',
    message:
      `job failed ${args.requestFailures} times (max_request_failures is ` +
      `${args.maxRequestFailures}); last error: ${args.lastError}`,
  };
}
