/**
 * The workers' usage series (src/domain/usage.ts) kept in the store, so that any node can serve
 * any worker's graph. Heartbeats feed each worker's series in memory (one minute's sums); the
 * samples to keep are written in batches through the Committer every FLUSH_MS, and old ones
 * pruned every PRUNE_MS. Bounded: at most one fine sample per worker per 5 s, MAX_PENDING rows
 * waiting (the newest are dropped past it, while the store is down), and a worker's series is
 * forgotten after a minute without heartbeats (its last minute written first).
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../domain/clock.js';
import { COARSE_KEEP_MS, FINE_KEEP_MS, UsageSeries, type UsageSample } from '../domain/usage.js';
import type { Heartbeat } from '../protocol/worker.js';
import type { UsageRow } from '../store/store.js';
import type { Committer } from './committer.js';

const FLUSH_MS = 5_000;
const PRUNE_MS = 5 * 60_000;
const FORGET_MS = 2 * 60_000;
const MAX_PENDING = 10_000;

export interface UsageRecorderDeps {
  committer: Committer;
  clock: Clock;
  logger: Logger;
}

export class UsageRecorder {
  private readonly series = new Map<string, { series: UsageSeries; lastAt: number }>();
  private pending: UsageRow[] = [];
  private flushTimer: Timer | null = null;
  private pruneTimer: Timer | null = null;

  constructor(private readonly deps: UsageRecorderDeps) {}

  start(): void {
    this.flushTimer ??= this.deps.clock.setInterval(() => void this.flush(), FLUSH_MS);
    this.pruneTimer ??= this.deps.clock.setInterval(() => void this.prune(), PRUNE_MS);
  }

  async stop(): Promise<void> {
    this.flushTimer?.cancel();
    this.pruneTimer?.cancel();
    this.flushTimer = this.pruneTimer = null;
    await this.flush();
  }

  /** One heartbeat of a worker (called for each, so: cheap). */
  heartbeat(workerId: string, at: number, hb: Heartbeat): void {
    let entry = this.series.get(workerId);
    if (entry === undefined) {
      entry = { series: new UsageSeries(), lastAt: at };
      this.series.set(workerId, entry);
    }
    entry.lastAt = at;
    const sample: UsageSample = {
      at,
      cpu: hb.cpu ?? null,
      memory: hb.memory ?? null,
      jobs: (hb.jobs ?? []).map((j) => ({
        jobId: j.jobId,
        cpu: j.cpu ?? null,
        rss: j.rss ?? null,
      })),
    };
    const writes = entry.series.add(sample);
    if (writes.fine !== null) this.keep({ workerId, resolution: 'fine', sample: writes.fine });
    if (writes.minute !== null)
      this.keep({ workerId, resolution: 'minute', sample: writes.minute });
  }

  private keep(row: UsageRow): void {
    if (this.pending.length < MAX_PENDING) this.pending.push(row);
  }

  /** Writes what is pending (and forgets the series of workers gone quiet). */
  async flush(): Promise<void> {
    const now = this.deps.clock.now();
    for (const [id, entry] of this.series) {
      if (now - entry.lastAt < FORGET_MS) continue;
      const last = entry.series.flush();
      if (last !== null) this.keep({ workerId: id, resolution: 'minute', sample: last });
      this.series.delete(id);
    }
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    try {
      await this.deps.committer.run((tx) => tx.usageAdd(rows));
    } catch (err) {
      // Graphs lose a few samples; nothing else depends on them.
      this.deps.logger.warn({ err, samples: rows.length }, 'writing worker usage failed');
    }
  }

  private async prune(): Promise<void> {
    const now = this.deps.clock.now();
    try {
      await this.deps.committer.run((tx) =>
        tx.usagePrune({ fine: now - FINE_KEEP_MS, minute: now - COARSE_KEEP_MS }),
      );
    } catch (err) {
      this.deps.logger.warn({ err }, 'pruning worker usage failed');
    }
  }
}
