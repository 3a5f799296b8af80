/**
 * What people read about queues: the listing (jobs per state, rates in and out, the oldest
 * wait, settings) and, for a queued job, why it waits and when it should start (its ETA).
 *
 * ETA (documented in the README): a queued job starts once the jobs ahead of it have started.
 * `ahead` is how many queued jobs of its needs (queue, type, requirements, limits) come before
 * it in dispatch order under the queue's discipline (counted up to 100,000). If fewer are ahead
 * than matching workers have free slots, and no gate is shut, it starts now. Otherwise it starts
 * after `ahead - free + 1` more starts, at the queue's recent rate of starts across all nodes
 * (over the last minute, from its first start on; the last 5 or 15 minutes when the last
 * minute saw none), capped by the queue's rate limit. Without starts in 15 minutes there is no estimate (null).
 */
import type { Clock } from '../domain/clock.js';
import type { QueueSettings } from '../domain/queues.js';
import type { JobRecord, JobState } from '../domain/job.js';
import type { Needs } from '../domain/matching.js';
import type { QueueSummaryRow, Store } from '../store/store.js';
import type { Dispatcher } from './dispatcher.js';
import { runningUsage, type RunningUsage } from './gates.js';
import type { NeedsRegistry } from './needs.js';
import {
  addCounts,
  noCounts,
  parseSnapshot,
  ratesOf,
  type QueueFlow,
  type QueueRegistry,
  type Rates,
  type WindowCounts,
} from './queues.js';

/** Ahead counts stop here: a job this deep has a long wait whatever the exact number. */
export const AHEAD_CAP = 100_000;
/** Another node's counts are used while its heartbeat is this fresh. */
const REMOTE_STATS_MS = 10_000;

export interface QueueListing {
  name: string;
  paused: boolean;
  settings: QueueSettings;
  counts: Record<JobState, number>;
  rates: { in: Rates; out: Rates };
  /** Seconds the longest-waiting queued job has been due, or null. */
  oldestWait: number | null;
  limits: string[];
}

export interface Eta {
  /** When it should start (ms), or null: no estimate. */
  at: number | null;
  ahead: number;
  /** Starts per second the estimate assumes. */
  rate: number;
}

export interface QueueViewsDeps {
  store: Store;
  queues: QueueRegistry;
  flow: QueueFlow;
  needs: NeedsRegistry;
  dispatcher: Dispatcher;
  clock: Clock;
  nodeId: string;
  workersFor(needs: Needs): { matching: number; free: number };
}

const STATES: readonly JobState[] = [
  'queued',
  'running',
  'scheduled',
  'waiting',
  'held',
  'failed',
  'succeeded',
  'canceled',
];

export class QueueViews {
  /** The scan of the jobs table under way: requests made meanwhile share it. */
  private summary: Promise<QueueSummaryRow[]> | null = null;

  constructor(private readonly deps: QueueViewsDeps) {}

  async list(): Promise<QueueListing[]> {
    const [summary, windows] = await Promise.all([this.summaryRows(), this.clusterWindows()]);
    const names = new Set<string>();
    for (const r of this.deps.queues.all()) names.add(r.name);
    for (const n of this.deps.needs.all()) names.add(n.queue);
    for (const r of summary) names.add(r.queue);
    const now = this.deps.clock.now();
    const byQueue = new Map<string, QueueSummaryRow[]>();
    for (const r of summary) {
      const list = byQueue.get(r.queue);
      if (list) list.push(r);
      else byQueue.set(r.queue, [r]);
    }
    return [...names]
      .sort()
      .map((name) => this.listing(name, byQueue.get(name) ?? [], windows, now));
  }

  async one(name: string): Promise<QueueListing | undefined> {
    const all = await this.list();
    return all.find((q) => q.name === name);
  }

  /** What running jobs take now, all nodes together (a read of the running jobs). */
  async usage(): Promise<RunningUsage> {
    return runningUsage(await this.deps.store.runningCounts(), this.deps.needs);
  }

  /** The named limits that jobs of known needs take. */
  limitNames(): Set<string> {
    const names = new Set<string>();
    for (const n of this.deps.needs.all()) for (const l of n.limits) names.add(l.name);
    return names;
  }

  /** Why a queued job waits (beyond what JobService.reason says), or undefined. */
  async reason(job: JobRecord): Promise<string | undefined> {
    if (job.state !== 'queued') return undefined;
    const { queues, dispatcher } = this.deps;
    if (queues.paused(job.queue)) return `queue ${job.queue} is paused`;
    const settings = queues.settings(job.queue);
    const limits = job.options?.limits ?? [];
    if (
      settings.concurrency !== null ||
      limits.some((l) => queues.limitMax(l.name) !== undefined)
    ) {
      const usage = await this.usage();
      const inQueue = usage.inQueue.get(job.queue) ?? 0;
      const used = usage.used;
      if (settings.concurrency !== null && inQueue >= settings.concurrency) {
        return (
          `queue ${job.queue} is at its concurrency limit ` +
          `(${inQueue} running, at most ${settings.concurrency})`
        );
      }
      for (const l of limits) {
        const max = queues.limitMax(l.name);
        const u = used.get(l.name) ?? 0;
        if (max !== undefined && u + l.units > max) {
          return `limit ${l.name} is full (${u} of ${max} in use; this job takes ${l.units})`;
        }
      }
    }
    const blocked = dispatcher.gates.blockedBy(job.needsId);
    if (blocked?.kind === 'rate') {
      const rate =
        settings.groupRate !== null && settings.rate === null ? settings.groupRate : settings.rate;
      return `waiting for queue ${job.queue}'s rate limit (${rate ?? '?'} per second${settings.rate === null ? ' per group' : ''})`;
    }
    return undefined;
  }

  /** The job's estimated start (see the file comment); undefined when it is not queued. */
  async eta(job: JobRecord): Promise<Eta | undefined> {
    if (job.state !== 'queued') return undefined;
    const ahead = await this.deps.store.jobQueuedAhead(job.id, AHEAD_CAP);
    if (ahead === null) return undefined;
    const now = this.deps.clock.now();
    const settings = this.deps.queues.settings(job.queue);
    const windows = await this.clusterWindows();
    const rate = startRate(windows.get(job.queue), settings);
    if (this.deps.queues.paused(job.queue)) return { at: null, ahead, rate };
    const { free } = this.deps.workersFor({
      type: job.type,
      queue: job.queue,
      requires: job.requires,
    });
    const gated = this.deps.dispatcher.gates.blockedBy(job.needsId) !== undefined;
    if (ahead < free && !gated) return { at: now, ahead, rate };
    if (rate <= 0) return { at: null, ahead, rate };
    const starts = ahead - (gated ? 0 : free) + 1;
    return { at: Math.round(now + (starts / rate) * 1_000), ahead, rate };
  }

  private listing(
    name: string,
    rows: readonly QueueSummaryRow[],
    windows: Map<string, WindowCounts>,
    now: number,
  ): QueueListing {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<JobState, number>;
    let oldest: number | null = null;
    for (const r of rows) {
      counts[r.state] = (counts[r.state] ?? 0) + r.count;
      if (r.state === 'queued' && r.oldestRunAt !== null) oldest = r.oldestRunAt;
    }
    const limits = new Set<string>();
    for (const n of this.deps.needs.all()) {
      if (n.queue === name) for (const l of n.limits) limits.add(l.name);
    }
    const row = this.deps.queues.get(name);
    return {
      name,
      paused: row?.paused ?? false,
      settings: this.deps.queues.settings(name),
      counts,
      rates: ratesOf(windows.get(name) ?? noCounts()),
      oldestWait: oldest === null ? null : Math.max(0, now - oldest) / 1000,
      limits: [...limits].sort(),
    };
  }

  private summaryRows(): Promise<QueueSummaryRow[]> {
    if (this.summary === null) {
      const rows = this.deps.store.queueSummary();
      this.summary = rows;
      const done = (): void => {
        if (this.summary === rows) this.summary = null;
      };
      rows.then(done, done);
    }
    return this.summary;
  }

  /** This node's counts plus every other live node's last heartbeat's. */
  private async clusterWindows(): Promise<Map<string, WindowCounts>> {
    const local = this.deps.flow.windows();
    if (!this.deps.store.capabilities.multiNode) return local;
    const now = this.deps.clock.now();
    const total = new Map(local);
    for (const node of await this.deps.store.nodeList()) {
      if (node.id === this.deps.nodeId || now - node.heartbeatAt > REMOTE_STATS_MS) continue;
      if (node.queueStats == null) continue;
      const remote = parseSnapshot(node.queueStats);
      if (remote === undefined) continue;
      for (const [queue, counts] of remote) {
        total.set(queue, addCounts(total.get(queue) ?? noCounts(), counts));
      }
    }
    return total;
  }
}

/**
 * Starts per second: over the part of the last minute since its first start, else over the
 * last 5 or 15 minutes; capped by the queue's rate limit.
 */
function startRate(counts: WindowCounts | undefined, settings: QueueSettings): number {
  const c = counts ?? noCounts();
  const r = ratesOf(c).out;
  const seen = c[3] > 0 ? c[3] / c[6] : r['5m'] > 0 ? r['5m'] : r['15m'];
  if (settings.rate === null) return seen;
  return seen > 0 ? Math.min(seen, settings.rate) : settings.rate;
}
