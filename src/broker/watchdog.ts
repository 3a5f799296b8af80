/**
 * The broker's own watch over the attempts its workers run: `timeout` (wall time) and
 * `silenceTimeout` (time without any report). The worker enforces the timeout too, and normally
 * reports it first; the broker steps in when the worker does not (it hangs, or its clock or its
 * process table is wrong), so that a job never stays running forever (Flamenco's hole). An
 * expired attempt ends like a failure — retried with back-off or failed — in one commit, and its
 * worker is told to stop the process (kill signal, SIGKILL after the grace time).
 *
 * The watch is a sweep over the attempts this node's workers hold, once a second: a job without
 * timeouts costs one comparison per sweep, nothing on its own path.
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../domain/clock.js';
import type { JobError } from '../domain/job.js';
import type { Committer } from './committer.js';
import type { Completion } from './complete.js';
import type { HeldJob, WorkerSession } from './endpoint/session.js';

/** How often attempts are looked at. */
export const WATCH_INTERVAL_MS = 1_000;
/** The worker's own timeout report wins unless it is this late past the kill grace. */
export const TIMEOUT_MARGIN_MS = 2_000;

export interface WatchdogDeps {
  clock: Clock;
  committer: Committer;
  completion: Completion;
  logger: Logger;
  /** The sessions of this node's workers. */
  sessions(): Iterable<WorkerSession>;
  /** Tells the worker holding the attempt to stop it. */
  stop(jobId: number, attempt: number): void;
}

/** Why an attempt is over, or null while it may go on. */
export function expiry(held: HeldJob, now: number): JobError | null {
  const job = held.job;
  if (job.timeoutMs !== null) {
    const deadline = job.startedAt + job.timeoutMs + job.killGraceMs + TIMEOUT_MARGIN_MS;
    if (now >= deadline) {
      return {
        code: 'timeout',
        message:
          `the job timed out after ${job.timeoutMs} ms and its worker did not report its end ` +
          `(the broker ended the attempt ${now - job.startedAt} ms after it started)`,
      };
    }
  }
  const silence = job.options?.silenceTimeoutMs;
  if (silence !== undefined && now - held.heardAt >= silence) {
    return {
      code: 'silence_timeout',
      message:
        `the job reported nothing (no output, progress or attribute) for ${now - held.heardAt} ms ` +
        `(silenceTimeout ${silence} ms): it counts as hung`,
    };
  }
  return null;
}

export class Watchdog {
  private timer: Timer | null = null;
  /** Attempts being ended, so that a slow commit does not end them twice. */
  private readonly ending = new Set<HeldJob>();

  constructor(private readonly deps: WatchdogDeps) {}

  start(): void {
    this.timer ??= this.deps.clock.setInterval(() => this.sweep(), WATCH_INTERVAL_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Ends the attempts whose time is up. Exposed for tests on a manual clock. */
  sweep(): void {
    const now = this.deps.clock.now();
    const expired: Array<{ held: HeldJob; error: JobError }> = [];
    for (const session of this.deps.sessions()) {
      for (const held of session.held.values()) {
        if (held.stopping || this.ending.has(held)) continue;
        if (held.job.timeoutMs === null && held.job.options === null) continue;
        const error = expiry(held, now);
        if (error !== null) expired.push({ held, error });
      }
    }
    if (expired.length > 0) this.end(expired);
  }

  private end(expired: ReadonlyArray<{ held: HeldJob; error: JobError }>): void {
    const { committer, completion, logger } = this.deps;
    for (const e of expired) this.ending.add(e.held);
    committer
      .run(async (tx, ctx) => {
        const applied = await completion.endAttempts(
          tx,
          ctx,
          expired.map((e) => ({
            job: e.held.job,
            outcome: { kind: 'fail', error: e.error, retryable: true, infrastructure: false },
          })),
        );
        ctx.afterCommit(() => {
          expired.forEach((e, i) => {
            if (!applied[i]) return;
            e.held.stopping = true;
            logger.warn(
              { job: e.held.job.id, attempt: e.held.job.attempt, code: e.error.code },
              e.error.message,
            );
            this.deps.stop(e.held.job.id, e.held.job.attempt);
          });
        });
      })
      .catch((err: unknown) => logger.warn({ err }, 'could not end expired attempts (will retry)'))
      .finally(() => {
        for (const e of expired) this.ending.delete(e.held);
      });
  }
}
