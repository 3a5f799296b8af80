/**
 * How a handler steers its job's outcome (BullMQ's habit): it returns a result, or throws one of
 * these. Anything else it throws is a retryable `handler_error`. `JobAborted` is the other way
 * round: the reason a job's AbortSignal carries when the worker stops it.
 */
import type { JobError } from '../domain/job.js';

/** Extra data a thrown failure may carry to the broker. */
export interface FailureOptions {
  /** Stable, machine-readable error code (`exit_code`, `timeout`, ...). */
  code?: string;
  details?: unknown;
  /** A partial result stored with the failure (a shell job's exit code and output tails). */
  result?: unknown;
  cause?: unknown;
}

/** A failure as the worker reports it in `fail`. */
export interface Failure {
  error: JobError;
  retryable: boolean;
  infrastructure?: boolean;
  result?: unknown;
}

/** The base of the errors a handler throws on purpose. */
export abstract class HandlerError extends Error {
  readonly code: string;
  readonly details: unknown;
  readonly result: unknown;
  abstract readonly retryable: boolean;
  abstract readonly infrastructure: boolean;

  constructor(message: string, options: FailureOptions, defaultCode: string) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? defaultCode;
    this.details = options.details;
    this.result = options.result;
  }
}

/** A failure worth another attempt, with its own code (the default for any other throw). */
export class RetryableError extends HandlerError {
  readonly retryable = true;
  readonly infrastructure = false;
  constructor(message: string, options: FailureOptions = {}) {
    super(message, options, 'handler_error');
    this.name = 'RetryableError';
  }
}

/** A failure that another attempt would repeat (bad input): the job fails at once. */
export class PermanentError extends HandlerError {
  readonly retryable = false;
  readonly infrastructure = false;
  constructor(message: string, options: FailureOptions = {}) {
    super(message, options, 'handler_error');
    this.name = 'PermanentError';
  }
}

/**
 * The run was lost to this machine, not to the job (a process that could not start): the broker
 * counts it against max_request_failures and re-queues the job, for another worker if need be.
 */
export class InfrastructureError extends HandlerError {
  readonly retryable = true;
  readonly infrastructure = true;
  constructor(message: string, options: FailureOptions = {}) {
    super(message, options, 'infrastructure_error');
    this.name = 'InfrastructureError';
  }
}

/** Why the worker stopped a job. `abandoned`: the broker says the job is no longer ours. */
export type AbortKind =
  | 'timeout'
  | 'canceled'
  | 'held'
  | 'lost'
  | 'shutdown'
  | 'abandoned'
  /** The broker took the job back (the worker was put to sleep or drained now). */
  | 'requeued';

/** The reason on an aborted job signal: why, and how a process should be killed. */
export class JobAborted extends Error {
  constructor(
    readonly kind: AbortKind,
    /** The signal to send first (`SIGTERM`, ...). */
    readonly signal: string,
    /** Milliseconds to wait before SIGKILL. */
    readonly graceMs: number,
  ) {
    super(`job stopped (${kind}): ${signal}, then SIGKILL after ${graceMs} ms`);
    this.name = 'JobAborted';
  }
}

const MAX_MESSAGE = 65_536;

/** Only JSON-safe details travel; anything else would break the frame. */
function jsonSafe(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    JSON.stringify(value);
    return value;
  } catch {
    return undefined;
  }
}

/** Turns whatever a handler threw into the failure to report. */
export function failureOf(thrown: unknown): Failure {
  const message = (
    thrown instanceof Error ? thrown.message : String(thrown) || 'the handler failed'
  ).slice(0, MAX_MESSAGE);
  if (!(thrown instanceof HandlerError)) {
    return { error: { code: 'handler_error', message }, retryable: true };
  }
  const code = thrown.code.length > 0 && thrown.code.length <= 100 ? thrown.code : 'handler_error';
  const details = jsonSafe(thrown.details);
  const result = jsonSafe(thrown.result);
  return {
    error: { code, message, ...(details === undefined ? {} : { details }) },
    retryable: thrown.retryable,
    ...(thrown.infrastructure ? { infrastructure: true } : {}),
    ...(result === undefined ? {} : { result }),
  };
}
