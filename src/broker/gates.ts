/**
 * Gated dispatch: jobs whose start is limited by more than a free slot. A needs is *gated* when
 * its queue has a rate limit (a token bucket, per queue or per group), a concurrency limit, or
 * when its jobs take named concurrency limits (HTCondor's `concurrency_limits`; a job's limits
 * are part of its needs). Other needs take the plain claim, and pay nothing for this.
 *
 * The dispatcher hands the gated needs of every worker with a free slot to one call per batch,
 * which, in the batch's transaction:
 * 1. takes the gates' locks (PostgreSQL advisory locks, in sorted order; a single-node store
 *    needs none), so that of several nodes one at a time reads and claims under a gate;
 * 2. reads what runs (per needs, committed: the previous holder of the lock has committed its
 *    claims), the limits' totals and the rate buckets;
 * 3. claims per needs at most what every gate allows, and writes the buckets back.
 *
 * A needs whose gate is shut is *blocked*: it leaves the dispatcher's set of needs to look at,
 * so that a queue at its limit costs nothing while it stays there. A rate gate opens by a timer
 * at the bucket's next token; a concurrency or named limit when a job of its queue, or of a
 * queue whose jobs take limits, leaves `running` (on this node, or announced by the node where
 * it ran), and at every maintenance rescan in case an announcement was lost. A job blocked by
 * a gate never blocks another needs, and per-group rates skip the groups without tokens.
 */
import type { Clock, Timer } from '../domain/clock.js';
import { burstOf, isGated, type QueueSettings } from '../domain/queues.js';
import { available, refill, untilNextToken, type Bucket } from '../domain/token-bucket.js';
import type { NeedsRecord, RunningCount, RunningJob, StoreTx } from '../store/store.js';
import type { NeedsRegistry } from './needs.js';
import type { QueueRegistry } from './queues.js';

export type GateKind = 'plain' | 'paused' | 'gated';

/** One worker's gated needs with queued jobs, and who it is (for the lease). */
export interface GatedWant<S> {
  session: S;
  needsIds: number[];
  lessee: { workerId: string; workerName: string; nodeId: string };
}

/** Per-group rates look this many candidates ahead per job wanted (at most MAX_CANDIDATES). */
const CANDIDATES_PER_JOB = 8;
const MAX_CANDIDATES = 1_000;

export const queueBucketKey = (queue: string): string => `queue:${queue}`;
export const groupBucketKey = (queue: string, group: string | null): string =>
  `group:${queue}:${group ?? ''}`;

/** What shut a needs' gate, for the job's reason. */
export type BlockReason =
  | { kind: 'rate'; queue: string }
  | { kind: 'concurrency'; queue: string }
  | { kind: 'limit'; name: string };

/** What running jobs take: jobs per queue, and units per named limit. */
export interface RunningUsage {
  inQueue: Map<string, number>;
  used: Map<string, number>;
}

/** Running jobs per needs (the store's count) as what they take of queues and named limits. */
export function runningUsage(
  running: readonly RunningCount[],
  needs: Pick<NeedsRegistry, 'get'>,
): RunningUsage {
  const inQueue = new Map<string, number>();
  const used = new Map<string, number>();
  for (const r of running) {
    inQueue.set(r.queue, (inQueue.get(r.queue) ?? 0) + r.count);
    for (const l of needs.get(r.needsId)?.limits ?? [])
      used.set(l.name, (used.get(l.name) ?? 0) + r.count * l.units);
  }
  return { inQueue, used };
}

export class Gates {
  /** Needs whose gate is shut, with why. */
  private readonly blocked = new Map<number, BlockReason>();
  private rateTimer: Timer | null = null;
  private rateDue = Infinity;
  private limitQueuesFor = -1;
  private limitQueues = new Set<string>();

  constructor(
    private readonly needs: NeedsRegistry,
    private readonly queues: QueueRegistry,
    private readonly clock: Clock,
    /** Called with needs whose gate opened: look at them again. */
    private readonly reopen: (needsIds: readonly number[]) => void,
  ) {}

  kind(needsId: number): GateKind {
    const n = this.needs.get(needsId);
    if (n === undefined) return 'plain';
    const row = this.queues.get(n.queue);
    if (row === undefined) return n.limits.length > 0 ? 'gated' : 'plain';
    if (row.paused) return 'paused';
    return n.limits.length > 0 || isGated(row.settings) ? 'gated' : 'plain';
  }

  /** Why a needs is blocked, if it is. */
  blockedBy(needsId: number): BlockReason | undefined {
    return this.blocked.get(needsId);
  }

  /**
   * A job of `queue` left `running` here: opens the gates it may have held shut. Returns the
   * needs other nodes should look at again (gated needs that job's end concerns).
   */
  leftRunning(queue: string): number[] {
    const settings = this.queues.settings(queue);
    const slotGated = settings.concurrency !== null;
    const takesLimits = this.queuesWithLimits().has(queue);
    if (!slotGated && !takesLimits) return [];
    const concerned: number[] = [];
    for (const n of this.needs.all()) {
      if ((slotGated && n.queue === queue) || (takesLimits && n.limits.length > 0))
        concerned.push(n.id);
    }
    this.open(concerned, (r) => r.kind !== 'rate');
    return concerned;
  }

  /** Another node says these needs may start jobs again. */
  opened(needsIds: readonly number[]): void {
    this.open(needsIds, () => true);
  }

  /** Every blocked needs is looked at again (the maintenance rescan). */
  openAll(): void {
    this.open([...this.blocked.keys()], () => true);
  }

  /** A queue's settings changed, or a limit's total: its needs are looked at again. */
  changed(queue: string | null): void {
    const ids: number[] = [];
    for (const [id] of this.blocked) {
      const n = this.needs.get(id);
      if (queue === null || n === undefined || n.queue === queue) ids.push(id);
    }
    this.open(ids, () => true);
  }

  stop(): void {
    this.rateTimer?.cancel();
    this.rateTimer = null;
  }

  /**
   * Claims for the gated needs of the wanting workers (see the file comment). `free` is each
   * worker's free slots, updated; `exhausted` is told of needs with no queued job left.
   */
  async dispatch<S>(
    tx: StoreTx,
    wants: ReadonlyArray<GatedWant<S>>,
    free: Map<S, number>,
    give: (session: S, jobs: RunningJob[]) => void,
    exhausted: (needsId: number) => void,
    now: number,
  ): Promise<void> {
    const involved = new Map<number, NeedsRecord>();
    for (const w of wants) {
      for (const id of w.needsIds) {
        const n = this.needs.get(id);
        if (n !== undefined) involved.set(id, n);
      }
    }
    if (involved.size === 0) return;
    const lockKeys = new Set<string>();
    const limitNames = new Set<string>();
    const bucketKeys = new Set<string>();
    for (const n of involved.values()) {
      const s = this.queues.settings(n.queue);
      if (isGated(s)) lockKeys.add(`queue:${n.queue}`);
      if (s.rate !== null) bucketKeys.add(queueBucketKey(n.queue));
      for (const l of n.limits) {
        lockKeys.add(`limit:${l.name}`);
        limitNames.add(l.name);
      }
    }
    await tx.gateLock([...lockKeys]);
    const maxes = await tx.limitMaxes([...limitNames]);
    const { inQueue: runningInQueue, used } = runningUsage(await tx.runningCounts(), this.needs);
    const stored = await tx.bucketsGet([...bucketKeys]);
    const buckets = new Map<string, Bucket>();
    const dirty = new Set<string>();
    const bucketOf = (key: string, rate: number, burst: number | null): Bucket => {
      let b = buckets.get(key);
      if (b === undefined) {
        b = refill(stored.get(key), rate, burstOf(rate, burst), now);
        buckets.set(key, b);
      }
      return b;
    };

    for (const want of wants) {
      for (const needsId of want.needsIds) {
        const slots = free.get(want.session) ?? 0;
        if (slots <= 0) break;
        const n = involved.get(needsId);
        if (n === undefined) continue;
        const s = this.queues.settings(n.queue);
        let allowed = slots;
        let shut: BlockReason | undefined;
        const narrow = (limit: number, reason: BlockReason): void => {
          if (limit < allowed) allowed = Math.max(0, limit);
          if (limit <= 0 && shut === undefined) shut = reason;
        };
        if (s.concurrency !== null) {
          narrow(s.concurrency - (runningInQueue.get(n.queue) ?? 0), {
            kind: 'concurrency',
            queue: n.queue,
          });
        }
        for (const l of n.limits) {
          const max = maxes.get(l.name);
          if (max === undefined) continue;
          narrow(Math.floor((max - (used.get(l.name) ?? 0)) / l.units), {
            kind: 'limit',
            name: l.name,
          });
        }
        let bucket: Bucket | undefined;
        if (s.rate !== null) {
          bucket = bucketOf(queueBucketKey(n.queue), s.rate, s.burst);
          narrow(available(bucket), { kind: 'rate', queue: n.queue });
        }
        if (shut !== undefined || allowed <= 0) {
          this.block(needsId, shut ?? { kind: 'rate', queue: n.queue }, s, bucket, now);
          continue;
        }
        const jobs =
          s.groupRate !== null
            ? await this.claimByGroup(
                tx,
                n,
                s,
                allowed,
                want.lessee,
                now,
                stored,
                bucketOf,
                dirty,
                exhausted,
              )
            : await this.claimPlain(tx, needsId, allowed, want.lessee, now, exhausted);
        if (jobs.length === 0) continue;
        give(want.session, jobs);
        free.set(want.session, slots - jobs.length);
        runningInQueue.set(n.queue, (runningInQueue.get(n.queue) ?? 0) + jobs.length);
        for (const l of n.limits) used.set(l.name, (used.get(l.name) ?? 0) + jobs.length * l.units);
        if (bucket !== undefined) {
          bucket.tokens -= jobs.length;
          dirty.add(queueBucketKey(n.queue));
        }
      }
    }
    if (dirty.size > 0) {
      await tx.bucketsPut([...dirty].map((key) => ({ key, bucket: buckets.get(key)! })));
    }
  }

  private async claimPlain(
    tx: StoreTx,
    needsId: number,
    limit: number,
    lessee: GatedWant<unknown>['lessee'],
    now: number,
    exhausted: (needsId: number) => void,
  ): Promise<RunningJob[]> {
    const result = await tx.jobClaim({ needsIds: [needsId], limit, ...lessee, now });
    for (const id of result.exhausted) exhausted(id);
    return result.jobs;
  }

  /** Per-group rates: the best candidates whose group has a token, skipping the others. */
  private async claimByGroup(
    tx: StoreTx,
    n: NeedsRecord,
    s: QueueSettings,
    limit: number,
    lessee: GatedWant<unknown>['lessee'],
    now: number,
    stored: Map<string, Bucket>,
    bucketOf: (key: string, rate: number, burst: number | null) => Bucket,
    dirty: Set<string>,
    exhausted: (needsId: number) => void,
  ): Promise<RunningJob[]> {
    const rate = s.groupRate!;
    const window = Math.min(MAX_CANDIDATES, limit * CANDIDATES_PER_JOB);
    const candidates = await tx.jobQueuedCandidates([n.id], window);
    if (candidates.length === 0) {
      exhausted(n.id);
      return [];
    }
    const groupKeys = [...new Set(candidates.map((c) => groupBucketKey(n.queue, c.group)))];
    const unread = groupKeys.filter((k) => !stored.has(k));
    for (const [key, b] of await tx.bucketsGet(unread)) stored.set(key, b);
    const picked: number[] = [];
    const keyOf = new Map<number, string>();
    const promised = new Map<string, number>();
    for (const c of candidates) {
      if (picked.length >= limit) break;
      const key = groupBucketKey(n.queue, c.group);
      const spent = promised.get(key) ?? 0;
      if (available(bucketOf(key, rate, s.groupBurst)) - spent < 1) continue;
      promised.set(key, spent + 1);
      picked.push(c.id);
      keyOf.set(c.id, key);
    }
    if (picked.length === 0) {
      // Every candidate's group is out of tokens: wait for the first of them to refill.
      let wait = Infinity;
      for (const key of groupKeys)
        wait = Math.min(wait, untilNextToken(bucketOf(key, rate, s.groupBurst), rate));
      this.block(n.id, { kind: 'rate', queue: n.queue }, s, undefined, now, wait);
      return [];
    }
    const jobs = await tx.jobClaimIds(picked, { ...lessee, now });
    for (const job of jobs) {
      const key = keyOf.get(job.id)!;
      bucketOf(key, rate, s.groupBurst).tokens -= 1;
      dirty.add(key);
    }
    if (candidates.length < window && jobs.length === candidates.length) exhausted(n.id);
    return jobs;
  }

  private block(
    needsId: number,
    reason: BlockReason,
    s: QueueSettings,
    bucket: Bucket | undefined,
    now: number,
    waitMs?: number,
  ): void {
    this.blocked.set(needsId, reason);
    if (reason.kind !== 'rate') return;
    const wait =
      waitMs ?? (bucket !== undefined && s.rate !== null ? untilNextToken(bucket, s.rate) : 1_000);
    this.armRate(now + Math.max(1, wait));
  }

  private armRate(due: number): void {
    if (due >= this.rateDue && this.rateTimer !== null) return;
    this.rateTimer?.cancel();
    this.rateDue = due;
    this.rateTimer = this.clock.setTimeout(
      () => {
        this.rateTimer = null;
        this.rateDue = Infinity;
        this.open([...this.blocked.keys()], (r) => r.kind === 'rate');
      },
      Math.max(1, due - this.clock.now()),
    );
  }

  private open(needsIds: readonly number[], which: (r: BlockReason) => boolean): void {
    if (this.blocked.size === 0) return;
    const opened: number[] = [];
    for (const id of needsIds) {
      const r = this.blocked.get(id);
      if (r !== undefined && which(r)) {
        this.blocked.delete(id);
        opened.push(id);
      }
    }
    if (opened.length > 0) this.reopen(opened);
  }

  /** Queues with needs whose jobs take named limits (recomputed when needs are added). */
  private queuesWithLimits(): Set<string> {
    const count = this.needs.size;
    if (count !== this.limitQueuesFor) {
      this.limitQueues = new Set();
      for (const n of this.needs.all()) if (n.limits.length > 0) this.limitQueues.add(n.queue);
      this.limitQueuesFor = count;
    }
    return this.limitQueues;
  }
}
