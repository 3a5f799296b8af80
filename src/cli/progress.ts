/**
 * The live view of `submit --wait` on stderr: a line per state change, and the job's
 * `::progress` as a bar redrawn in place on a terminal, or as plain lines otherwise.
 */
import type { JobBody } from '../protocol/api.js';
import type { Output } from './context.js';

const BAR_WIDTH = 30;

/** `[#########.....................]  30% compiling`, cut to `columns`. */
export function renderBar(percent: number | null, message: string | null, columns = 80): string {
  const pct = percent === null ? null : Math.max(0, Math.min(100, percent));
  const filled = pct === null ? 0 : Math.round((pct / 100) * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
  const text = `${bar} ${pct === null ? '   ?' : `${Math.round(pct)}%`.padStart(4)}${message ? ` ${message}` : ''}`;
  return [...text].slice(0, Math.max(10, columns - 1)).join('');
}

/** A state change in words: `running on w1 (attempt 1 of 5)`. */
export function describeState(job: JobBody): string {
  switch (job.state) {
    case 'running':
      return `running${job.workerName ? ` on ${job.workerName}` : ''} (attempt ${job.attempt} of ${job.maxAttempts})`;
    case 'queued':
    case 'held':
      return job.reason ? `${job.state} (${job.reason})` : job.state;
    case 'scheduled':
      return `scheduled to run at ${job.runAt}`;
    default:
      return job.state;
  }
}

/** Renders the updates of one job as `Client.wait` reports them. */
export class ProgressView {
  private lastState: string | null = null;
  private lastProgress: string | null = null;
  private barShown = false;

  constructor(
    private readonly out: Output,
    private readonly id: string,
  ) {}

  /** Shows what changed since the previous update. */
  update(job: JobBody): void {
    const state = `${job.state}/${job.attempt}`;
    if (state !== this.lastState) {
      this.lastState = state;
      this.lastProgress = null;
      this.clearBar();
      this.out.write(`job ${this.id}: ${describeState(job)}\n`);
    }
    const p = job.progress;
    if (job.state !== 'running' || p === null) return;
    const key = `${p.percent}|${p.message}`;
    if (key === this.lastProgress) return;
    this.lastProgress = key;
    if (this.out.isTTY === true) {
      this.out.write(`\r\x1b[2K${renderBar(p.percent, p.message, this.out.columns)}`);
      this.barShown = true;
    } else {
      const pct = p.percent === null ? '' : `${p.percent}%`;
      this.out.write(`job ${this.id}: ${[pct, p.message ?? ''].filter(Boolean).join(' ')}\n`);
    }
  }

  /** Removes the bar, leaving the cursor at the start of a clean line. */
  finish(): void {
    this.clearBar();
  }

  private clearBar(): void {
    if (!this.barShown) return;
    this.out.write('\r\x1b[2K');
    this.barShown = false;
  }
}
