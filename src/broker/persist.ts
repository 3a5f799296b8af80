/**
 * Writes that must happen eventually, whoever asked for them: a worker's results (until they
 * are recorded, its slots stay taken and the worker keeps them unacknowledged) and a dead
 * worker's jobs going back to the queue (else they stay running on nobody). While the store is
 * unavailable such a write is tried again, with growing pauses, so that nothing is left stuck
 * once the fault clears; any other failure is a bug, logged once.
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../domain/clock.js';
import { isStoreUnavailable } from '../store/faults.js';

/** Pauses between tries while the store is unavailable: doubling from the first to the last. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

export class Persister {
  private readonly timers = new Set<Timer>();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Runs `write` (called afresh for every try) until it succeeds or fails with a bug. */
  run(what: string, context: Record<string, unknown>, write: () => Promise<unknown>): void {
    this.attempt(what, context, write, FIRST_RETRY_MS);
  }

  /** Drops the writes waiting for their next try (the broker is stopping). Idempotent. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  private attempt(
    what: string,
    context: Record<string, unknown>,
    write: () => Promise<unknown>,
    delayMs: number,
  ): void {
    write().catch((err: unknown) => {
      if (this.closed || !isStoreUnavailable(err)) {
        this.logger.error({ err, ...context }, `${what} failed`);
        return;
      }
      this.logger.warn({ err, ...context, retryInMs: delayMs }, `${what} failed; will retry`);
      const timer = this.clock.setTimeout(() => {
        this.timers.delete(timer);
        if (!this.closed) this.attempt(what, context, write, Math.min(2 * delayMs, MAX_RETRY_MS));
      }, delayMs);
      this.timers.add(timer);
    });
  }
}
