/**
 * Scheduled jobs (delayed, or backing off before a retry) become queued when their time comes.
 * One timer, set for the earliest run time known; each firing promotes what is due in batches.
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { Dispatcher } from './dispatcher.js';
import type { Journal } from './journal.js';

const PROMOTE_BATCH = 5_000;

export class Scheduler {
  private timer: Timer | null = null;
  private armedFor: number | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly committer: Committer,
    private readonly dispatcher: Dispatcher,
    private readonly journal: Journal,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const next = await this.store.jobNextRunAt();
    if (next !== null) this.note(next);
  }

  /** A job is scheduled for `runAt`: make sure the timer fires by then. */
  note(runAt: number): void {
    if (this.stopped) return;
    if (this.armedFor !== null && this.armedFor <= runAt) return;
    this.arm(runAt);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(at: number): void {
    this.timer?.cancel();
    this.armedFor = at;
    this.timer = this.clock.setTimeout(() => void this.fire(), Math.max(0, at - this.clock.now()));
  }

  private async fire(): Promise<void> {
    this.timer = null;
    this.armedFor = null;
    if (this.stopped) return;
    try {
      for (;;) {
        const promoted = await this.committer.run(async (tx, ctx) => {
          const now = this.clock.now();
          const r = await tx.jobPromoteDue(now, PROMOTE_BATCH);
          if (r.jobs.length > 0) this.dispatcher.queued(r.jobs);
          for (const job of r.jobs) {
            this.journal.state(ctx, job.id, null, now, undefined, {
              from: 'scheduled',
              to: 'queued',
              workerId: null,
              error: null,
            });
          }
          return r.jobs.length;
        });
        if (promoted < PROMOTE_BATCH || this.stopped) break;
      }
      const next = await this.store.jobNextRunAt();
      if (next !== null) this.note(next);
    } catch (error) {
      this.logger.error({ err: error }, 'promoting scheduled jobs failed; retrying in 1 s');
      this.note(this.clock.now() + 1000);
    }
  }
}
