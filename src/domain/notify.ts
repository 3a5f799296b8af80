/**
 * The notifier's rules (ReCodEx's REST notifier): which ends of jobs make a callback, what a
 * callback says, how it is signed, and when a failed delivery is tried again or given up. Pure:
 * no I/O; time and randomness are passed in.
 *
 * Glossary: a *callback* is one HTTP POST about one *event* (a job that ended, or a backend
 * error), kept in the store's outbox until it is delivered (a 2xx answer) or given up. Every
 * callback has an idempotency key, the same on every try of it and unique per event, so that a
 * receiver can drop the duplicates that at-least-once delivery brings.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JobError, JobState } from './job.js';
import { backoffDelay, type RetryPolicy } from './retry.js';

/** The ends of a job a callback can be asked for. */
export type NotifyEvent = Extract<JobState, 'succeeded' | 'failed' | 'canceled'>;
export const notifyEvents: readonly NotifyEvent[] = ['succeeded', 'failed', 'canceled'];

/** What the global notifier can be asked for: the ends of jobs, and backend errors. */
export type NotifierEvent = NotifyEvent | 'backend_error';
export const notifierEvents: readonly NotifierEvent[] = [...notifyEvents, 'backend_error'];

/** A job's own callback, asked for at submission (kept in its options). */
export interface JobNotify {
  url: string;
  events: NotifyEvent[];
}

/** Whether a job that entered `state` ended in one of `events`. */
export function endsIn(state: JobState, events: readonly NotifierEvent[]): boolean {
  return (
    (state === 'succeeded' || state === 'failed' || state === 'canceled') && events.includes(state)
  );
}

/** A job's end as its callback tells it. */
export interface JobEndBody {
  event: `job.${NotifyEvent}`;
  /** The idempotency key (also sent as the `Idempotency-Key` header). */
  id: string;
  /** When the job ended (ms since the epoch). */
  at: number;
  job: {
    id: string;
    type: string;
    queue: string;
    state: NotifyEvent;
    attempt: number;
    error: JobError | null;
    result: unknown;
    /** Present (true) when the result was too large to be sent and `result` is null. */
    resultOmitted?: true;
  };
}

/** A backend error as its callback tells it. */
export interface BackendErrorBody {
  event: 'backend.error';
  id: string;
  at: number;
  message: string;
  details: unknown;
}

/**
 * A result larger than this (as JSON) is left out of a callback, and so are an error's details:
 * the receiver can GET the job. Bounds what one callback stores and sends.
 */
export const maxResultBytes = 64 * 1024;
/** An error message longer than this is cut in a callback. */
export const maxMessageChars = 4096;

/** The job's error as a callback carries it: bounded (details dropped and message cut if large). */
function boundedError(error: JobError | null): JobError | null {
  if (error === null) return null;
  const json = JSON.stringify(error) as string | undefined;
  if (json !== undefined && Buffer.byteLength(json) <= maxResultBytes) return error;
  const message =
    error.message.length > maxMessageChars
      ? `${error.message.slice(0, maxMessageChars)}…`
      : error.message;
  return { code: String(error.code).slice(0, 200), message };
}

/** What a job's end callback needs to know of the job. */
export interface EndedJob {
  id: number;
  type: string;
  queue: string;
  state: NotifyEvent;
  attempt: number;
  error: JobError | null;
  result: unknown;
}

/** The body of a job's end callback, as JSON text. */
export function jobEndBody(key: string, at: number, job: EndedJob): string {
  let result = job.result ?? null;
  let omitted = false;
  if (result !== null) {
    const json = JSON.stringify(result) as string | undefined;
    if (json === undefined || Buffer.byteLength(json) > maxResultBytes) {
      result = null;
      omitted = true;
    }
  }
  const body: JobEndBody = {
    event: `job.${job.state}`,
    id: key,
    at,
    job: {
      id: String(job.id),
      type: job.type,
      queue: job.queue,
      state: job.state,
      attempt: job.attempt,
      error: boundedError(job.error),
      result,
      ...(omitted ? { resultOmitted: true as const } : {}),
    },
  };
  return JSON.stringify(body);
}

/** The body of a backend error's callback, as JSON text. */
export function backendErrorBody(
  key: string,
  at: number,
  message: string,
  details: unknown,
): string {
  const body: BackendErrorBody = {
    event: 'backend.error',
    id: key,
    at,
    message,
    details: details ?? null,
  };
  return JSON.stringify(body);
}

/** The header carrying the signature. */
export const signatureHeader = 'Switchyard-Signature';

/**
 * The signature of a body sent at `unixSeconds` (Stripe's scheme): `t=<unix s>,v1=<hex>` where
 * hex is HMAC-SHA256, keyed with the secret, of `<unix s>.<body>`. The timestamp is signed with
 * the body, so that a receiver can refuse old replays.
 */
export function sign(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * A receiver's check of a signature header (also what the README shows): the header parses,
 * some `v1` matches (compared in constant time), and its timestamp is within `toleranceS` of
 * `nowSeconds`.
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceS = 300,
): boolean {
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    if (name === 'v1' && /^[0-9a-f]{64}$/.test(value)) v1.push(value);
  }
  if (t === null || v1.length === 0 || Math.abs(nowSeconds - t) > toleranceS) return false;
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'),
    'utf8',
  );
  return v1.some((v) => timingSafeEqual(Buffer.from(v, 'utf8'), expected));
}

/** How deliveries of callbacks are retried. */
export interface DeliveryPolicy {
  /** Tries in all (the first included); then the callback is given up. */
  maxAttempts: number;
  backoff: RetryPolicy;
}

export const defaultDeliveryPolicy: DeliveryPolicy = {
  maxAttempts: 10,
  backoff: { baseMs: 1_000, factor: 2, maxMs: 600_000, jitter: 0.2 },
};

/** What follows a failed try of a callback. */
export type RedeliveryDecision = { action: 'retry'; at: number } | { action: 'give_up' };

/**
 * After try number `attempts` (1-based) failed: tried again after an exponential, jittered and
 * bounded back-off while tries remain, else given up.
 */
export function planRedelivery(
  now: number,
  attempts: number,
  policy: DeliveryPolicy,
  random: () => number = Math.random,
): RedeliveryDecision {
  if (attempts >= policy.maxAttempts) return { action: 'give_up' };
  return { action: 'retry', at: now + backoffDelay(attempts, policy.backoff, random) };
}
