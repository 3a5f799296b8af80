/**
 * Jobs and their lifecycle: the glossary of DESIGN.md in types. Pure: no I/O.
 */
import type { LimitUse } from './queues.js';

/** The states of a job (contract). */
export type JobState =
  /** Waiting for the jobs it depends on to succeed. */
  | 'waiting'
  /** Waiting for its run time: a delayed job, or a retry in back-off. */
  | 'scheduled'
  /** Waiting for a capable worker with a free slot. */
  | 'queued'
  /** Leased to a worker, which runs it. */
  | 'running'
  /** Kept out of dispatch until released. */
  | 'held'
  /** Ended well. Terminal. */
  | 'succeeded'
  /** Ended badly: not retryable, or attempts exhausted. Terminal; the failed queue. */
  | 'failed'
  /** Ended by a person. Terminal. */
  | 'canceled';

export const jobStates: readonly JobState[] = [
  'waiting',
  'scheduled',
  'queued',
  'running',
  'held',
  'succeeded',
  'failed',
  'canceled',
];

export const terminalStates: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'canceled']);

export function isTerminal(state: JobState): boolean {
  return terminalStates.has(state);
}

/**
 * The allowed transitions. A retry (automatic or by hand) puts a job back to `queued`, or to
 * `scheduled` while it backs off; a worker's death puts its jobs back to `queued`.
 */
const transitions: Readonly<Record<JobState, readonly JobState[]>> = {
  waiting: ['queued', 'scheduled', 'held', 'failed', 'canceled'],
  scheduled: ['queued', 'held', 'canceled'],
  queued: ['running', 'held', 'canceled'],
  running: ['succeeded', 'failed', 'scheduled', 'queued', 'held', 'canceled'],
  held: ['queued', 'scheduled', 'canceled'],
  succeeded: [],
  failed: ['queued'],
  canceled: ['queued'],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return transitions[from].includes(to);
}

export function allowedTransitions(from: JobState): readonly JobState[] {
  return transitions[from];
}

/** A job's error, as workers report it and the API shows it. */
export interface JobError {
  /** Stable, machine-readable: `exit_code`, `timeout`, `worker_lost`, `spawn_failed`, ... */
  code: string;
  message: string;
  details?: unknown;
}

/** How one attempt ended. */
export type AttemptOutcome =
  /** The job reported success. */
  | 'succeeded'
  /** The job reported a failure (retryable or not). */
  | 'failed'
  /** The run was lost to the infrastructure: the worker died or the process could not start. */
  | 'aborted'
  /** Stopped because the job was canceled. */
  | 'canceled'
  /** Stopped because the job was held. */
  | 'held';

/** One run of a job on one worker. */
export interface Attempt {
  attempt: number;
  workerId: string;
  workerName: string;
  startedAt: number;
  finishedAt: number;
  outcome: AttemptOutcome;
  error: JobError | null;
}

export interface Progress {
  /** 0..100, or null when only a message was given. */
  percent: number | null;
  message: string | null;
  at: number;
  /** A named step the report is about (ReCodEx's `TASK <id> COMPLETED|FAILED|SKIPPED`). */
  step?: { id: string; status: StepStatus };
}

/** What became of a named step of a job. */
export type StepStatus = 'started' | 'completed' | 'failed' | 'skipped';
export const stepStatuses: readonly StepStatus[] = ['started', 'completed', 'failed', 'skipped'];

/** Label name → value a worker must have (`meta.*` keys are metadata, never matched). */
export type Requirements = Record<string, string>;

/** Label name → the values a worker has for it (a worker may have several per label). */
export type Labels = Record<string, string[]>;

/** A job's own back-off for retryable failures (times in ms). */
export interface Backoff {
  type: 'exponential' | 'fixed';
  delayMs: number;
  maxDelayMs: number;
  jitter: number;
}

/** Deduplication of submissions by key (Desaster's timed requeue blacklist). */
export interface Uniqueness {
  key: string;
  /** A job with the key submitted, started or ended this recently is a duplicate; null: any age. */
  forMs: number | null;
  /** Only while the existing job is in one of these states; null: any state. */
  while: JobState[] | null;
}

/**
 * What a job asked for beyond the defaults: kept together (one column, absent for most jobs),
 * so that a job using none of it costs nothing to store or to load.
 */
export interface JobOptions {
  backoff?: Backoff;
  silenceTimeoutMs?: number;
  unique?: Uniqueness;
  /** How many jobs it depends on (their links are in the store). */
  dependencies?: number;
  /** The job's own callback when it ends (src/domain/notify.ts), asked for at submission. */
  notify?: { url: string; events: Array<'succeeded' | 'failed' | 'canceled'> };
  /** The named concurrency limits it takes while it runs (src/domain/queues.ts). */
  limits?: LimitUse[];
}

/** Why and by whom a held job is held. */
export interface HoldInfo {
  reason: string;
  /** `submission` (submitted held), `token:<hash>` (a client), `local` (no tokens configured). */
  by: string;
  at: number;
}

/** A job as the store holds it. Times are milliseconds since the epoch. */
export interface JobRecord {
  id: number;
  /** The job's needs (src/store/store.ts NeedsRecord): what the dispatcher matches. */
  needsId: number;
  type: string;
  queue: string;
  payload: unknown;
  requires: Requirements;
  meta: Record<string, unknown>;
  priority: number;
  /** The job's group (fair queueing and per-group rates of its queue), or null. */
  group: string | null;
  state: JobState;
  maxAttempts: number;
  /** Attempts started so far; the running attempt's number while running. */
  attempt: number;
  /** Infrastructure failures so far (lost workers, processes that failed to start). */
  requestFailures: number;
  timeoutMs: number | null;
  killSignal: string;
  killGraceMs: number;
  runAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The worker running the job, or the last one that ran it. */
  workerId: string | null;
  workerName: string | null;
  /** The broker node whose worker runs it (or last ran it). */
  nodeId: string | null;
  progress: Progress | null;
  attributes: Record<string, string>;
  result: unknown;
  error: JobError | null;
  attempts: Attempt[];
  /** Attempts that do not count against maxAttempts: stopped by a hold, or before a retry by hand. */
  uncounted: number;
  options: JobOptions | null;
  hold: HoldInfo | null;
  /** A failed job's group in the failed queue (src/domain/error-groups.ts). */
  errorGroup: string | null;
  /** Bytes of output dropped between the head and the tail that are kept. */
  outputDropped: number;
  /** The log seq after which the dropped output was (0: before the first), or null. */
  outputGapAfter: number | null;
}

/** Defaults for what a submission leaves out. One place, documented in the README. */
export const jobDefaults = {
  queue: 'default',
  priority: 0,
  maxAttempts: 5,
  killSignal: 'SIGTERM',
  killGraceMs: 10_000,
} as const;

export const priorityRange = { min: -1_000_000, max: 1_000_000 } as const;
