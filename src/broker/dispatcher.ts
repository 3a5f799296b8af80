/**
 * Dispatch: matching queued jobs to workers with free slots, inside the same transaction as the
 * batch that made them dispatchable, so that a submission or a freed slot costs no extra commit.
 *
 * Queue managers (ReCodEx, BEHAVIOURS 14):
 * - `single` (default): one queue; a worker with a free slot takes the highest-priority, oldest
 *   job it can run; jobs it cannot run do not block it.
 * - `multi`: each new job goes at once to one matching worker's own queue, round robin, and
 *   waits there for that worker even if another becomes free (lower dispatch overhead, worse
 *   balance). Per-worker queues live in memory; after a restart or a worker's death their jobs
 *   are handed out again. Only jobs of queues ordered by priority with no gate are bound so;
 *   the others are claimed as with `single`.
 *
 * Queues (src/broker/queues.ts) shape dispatch: a paused queue's needs are passed over, and
 * gated needs (rate, concurrency and named limits) are claimed by src/broker/gates.ts, once per
 * batch for every worker with a free slot. Disciplines need nothing here: the order of the
 * claim (rank, ahead, tag, id) is each discipline's (src/domain/queues.ts).
 */
import { CLAIM } from '../domain/transitions.js';
import type { Journal } from './journal.js';
import type { Clock } from '../domain/clock.js';
import type { QueueManager } from '../config/types.js';
import type { QueuedRef, RunningJob, Store, StoreTx } from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';
import type { NeedsRegistry } from './needs.js';
import type { WorkerSession } from './endpoint/session.js';
import { Gates, type GatedWant } from './gates.js';
import type { QueueRegistry } from './queues.js';

const RELEASED = Symbol('released');
const CLAIMED = Symbol('claimed');

/** The jobs dispatched in a batch (by id), once its hooks have run; for answering submitters. */
export function claimedInBatch(ctx: BatchContext): Map<number, RunningJob> | undefined {
  return ctx.scratch.get(CLAIMED) as Map<number, RunningJob> | undefined;
}

export class Dispatcher {
  private readonly sessions: WorkerSession[] = [];
  /** Needs that may have queued jobs; cleared when a claim finds none left. */
  private readonly nonEmpty = new Set<number>();
  /** Jobs to retry on another worker than the one that could not start them. */
  private readonly avoid = new Map<number, { needsId: number; workerId: string }>();
  /** multi: each worker's own queue, and the jobs no connected worker matched. */
  private readonly own = new Map<WorkerSession, QueuedRef[]>();
  /** multi: whose own queue each bound job waits in. */
  private readonly bound = new Map<number, WorkerSession>();
  private unbound: QueuedRef[] = [];
  private roundRobin = 0;
  private bindNext = 0;
  private wanted = true;
  /** Needs of jobs queued in the batch being written, announced to other nodes with its commit. */
  private announce = new Set<number>();
  /** Gated needs whose gate a job's end here may have opened, announced likewise. */
  private reopened = new Set<number>();
  readonly gates: Gates;
  /** Jobs started, per queue, once committed (the queue listing's rates). */
  onStarted: ((queue: string, n: number) => void) | null = null;

  constructor(
    private readonly committer: Committer,
    private readonly store: Store,
    private readonly needs: NeedsRegistry,
    private readonly mode: QueueManager,
    private readonly nodeId: string,
    private readonly clock: Clock,
    private readonly journal: Journal,
    private readonly queues: QueueRegistry,
    private readonly deliver: (session: WorkerSession, jobs: RunningJob[]) => void,
  ) {
    this.gates = new Gates(needs, queues, clock, (ids) => this.queuedElsewhere(ids));
    queues.onChange((queue) => {
      // A resumed queue, a raised limit: its needs may have jobs to start now.
      for (const n of this.needs.all())
        if (queue === null || n.queue === queue) this.nonEmpty.add(n.id);
      this.gates.changed(queue);
      this.wake();
    });
    committer.addHook((tx, ctx) => this.dispatch(tx, ctx));
    if (store.capabilities.multiNode) committer.addHook((tx) => this.announceQueued(tx));
    committer.onRollback(() => {
      this.announce.clear();
      this.reopened.clear();
      // Claims made in the rolled-back batch never happened; look everywhere again.
      for (const n of this.needs.all()) this.nonEmpty.add(n.id);
      this.wanted = true;
    });
  }

  /** After start-up: every needs may have queued jobs (and multi loads its queues). */
  async start(): Promise<void> {
    for (const n of this.needs.all()) this.nonEmpty.add(n.id);
    if (this.mode === 'multi') {
      let after = 0;
      for (;;) {
        const page = await this.store.jobQueuedRefs(after, 10_000);
        if (page.length === 0) break;
        this.unbound.push(...page);
        after = page[page.length - 1]!.id;
      }
    }
    this.wake();
  }

  add(session: WorkerSession): void {
    this.sessions.push(session);
    if (this.mode === 'multi') {
      this.own.set(session, []);
      this.rebind(this.unbound.splice(0));
    }
    this.wake();
  }

  remove(session: WorkerSession): void {
    const i = this.sessions.indexOf(session);
    if (i >= 0) this.sessions.splice(i, 1);
    if (this.mode === 'multi') {
      const orphans = this.own.get(session) ?? [];
      this.own.delete(session);
      for (const job of orphans) this.bound.delete(job.id);
      this.rebind(orphans);
    }
    this.wake();
  }

  /** multi: the worker whose own queue a queued job waits in, if it was bound to one. */
  boundTo(jobId: number): WorkerSession | undefined {
    return this.bound.get(jobId);
  }

  /** New queued jobs of these needs (inserted, re-queued, promoted or released) in this batch. */
  queued(jobs: readonly QueuedRef[]): void {
    for (const j of jobs) this.nonEmpty.add(j.needsId);
    if (this.store.capabilities.multiNode) for (const j of jobs) this.announce.add(j.needsId);
    if (this.mode === 'multi') this.rebind(jobs);
    this.wake();
  }

  /**
   * Look at every needs again. With several nodes, a wake-up sent while this node's listening
   * connection was down is lost; the maintenance calls this every heartbeat, so such a job
   * waits at most a heartbeat interval. Costs a claim query only when a worker has a free slot.
   */
  rescan(): void {
    if (!this.sessions.some((s) => this.freeSlotsNow(s) > 0)) return;
    for (const n of this.needs.all()) this.nonEmpty.add(n.id);
    this.gates.openAll();
    this.wake();
  }

  /**
   * A job of `queue` left `running` in this batch: a gate it held shut (its queue's concurrency,
   * a named limit) may open, here and, announced with the commit, on other nodes.
   */
  leftRunning(queue: string): void {
    const concerned = this.gates.leftRunning(queue);
    if (concerned.length === 0) return;
    if (this.store.capabilities.multiNode) for (const id of concerned) this.reopened.add(id);
    this.wanted = true;
  }

  private freeSlotsNow(session: WorkerSession): number {
    return session.accepting && session.socket !== null ? session.free : 0;
  }

  /**
   * Another node queued jobs of these needs, or ended jobs under their gates (committed): look
   * at them again. Also called when a gate opens here.
   */
  queuedElsewhere(needsIds: readonly number[]): void {
    for (const id of needsIds) this.nonEmpty.add(id);
    this.gates.opened(needsIds);
    this.wake();
  }

  /** Re-queued after its process could not start: try another worker first. */
  retryElsewhere(jobId: number, needsId: number, workerId: string): void {
    this.avoid.set(jobId, { needsId, workerId });
  }

  /** A held job's slot is free from this batch on (its end is being committed with it). */
  release(ctx: BatchContext, session: WorkerSession): void {
    const released =
      (ctx.scratch.get(RELEASED) as Map<WorkerSession, number> | undefined) ?? new Map();
    released.set(session, (released.get(session) ?? 0) + 1);
    ctx.scratch.set(RELEASED, released);
    this.wanted = true;
  }

  /** Something may be dispatchable: run a batch soon. */
  wake(): void {
    this.wanted = true;
    this.committer.poke();
  }

  /** Queued jobs bound to a worker's own queue (multi), for stats and tests. */
  ownQueueLength(session: WorkerSession): number {
    return this.own.get(session)?.length ?? 0;
  }

  /** Runs after dispatch in the same transaction: PostgreSQL delivers the wake-up on commit. */
  private async announceQueued(tx: StoreTx): Promise<void> {
    if (this.announce.size === 0 && this.reopened.size === 0) return;
    // Needs whose queued jobs this node's workers took in this very batch need no other node.
    const needsIds = [...this.announce].filter((id) => this.nonEmpty.has(id));
    for (const id of this.reopened) if (!this.announce.has(id)) needsIds.push(id);
    this.announce.clear();
    this.reopened.clear();
    if (needsIds.length === 0) return;
    await tx.publish('wake', JSON.stringify({ from: this.nodeId, needs: needsIds }));
  }

  private freeSlots(session: WorkerSession, ctx: BatchContext): number {
    if (!session.accepting || session.socket === null) return 0;
    const released = ctx.scratch.get(RELEASED) as Map<WorkerSession, number> | undefined;
    return session.free + (released?.get(session) ?? 0);
  }

  private async dispatch(tx: StoreTx, ctx: BatchContext): Promise<void> {
    if (!this.wanted || this.sessions.length === 0) return;
    this.wanted = false;
    const now = this.clock.now();
    const given = new Map<WorkerSession, RunningJob[]>();
    const take = (session: WorkerSession, jobs: RunningJob[]) => {
      if (jobs.length === 0) return;
      const list = given.get(session);
      if (list) list.push(...jobs);
      else given.set(session, jobs);
    };
    const free = new Map<WorkerSession, number>();
    for (const s of this.sessions) free.set(s, this.freeSlots(s, ctx));

    if (this.avoid.size > 0) await this.dispatchAvoiding(tx, free, take, now);

    const n = this.sessions.length;
    const start = this.roundRobin++ % n;
    let gated: Array<GatedWant<WorkerSession>> | undefined;
    for (let k = 0; k < n; k++) {
      const session = this.sessions[(start + k) % n]!;
      let slots = free.get(session) ?? 0;
      if (slots <= 0) continue;
      if (this.mode === 'multi') {
        const own = await this.claimOwn(tx, session, slots, now);
        slots -= own.length;
        take(session, own);
      }
      const wanted = this.wantedNeeds(session);
      if (wanted.plain.length > 0 && slots > 0) {
        const jobs = await this.claimShared(tx, session, wanted.plain, slots, now);
        slots -= jobs.length;
        take(session, jobs);
      }
      free.set(session, slots);
      if (wanted.gated.length > 0 && slots > 0) {
        (gated ??= []).push({
          session,
          needsIds: wanted.gated,
          lessee: { workerId: session.id, workerName: session.name, nodeId: this.nodeId },
        });
      }
    }
    if (gated !== undefined) {
      await this.gates.dispatch(tx, gated, free, take, (id) => this.nonEmpty.delete(id), now);
      for (const want of gated) {
        for (const id of want.needsIds) if (this.gates.blockedBy(id)) this.nonEmpty.delete(id);
      }
    }

    if (given.size > 0) {
      const claimed = new Map<number, RunningJob>();
      for (const [session, jobs] of given) {
        for (const j of jobs) {
          claimed.set(j.id, j);
          this.journal.state(ctx, j.id, j.attempt, now, j.queue, {
            from: CLAIM.from,
            to: CLAIM.to,
            workerId: session.id,
            error: null,
          });
        }
      }
      ctx.scratch.set(CLAIMED, claimed);
      ctx.afterCommit(() => {
        for (const [session, jobs] of given) this.deliver(session, jobs);
        const started = this.onStarted;
        if (started !== null) for (const j of claimed.values()) started(j.queue, 1);
      });
    }
  }

  /**
   * The needs a worker matches that may have queued jobs, by how they are claimed: plain or
   * gated (paused queues' are left out). With `multi`, plain needs bound to own queues are
   * claimed from there instead.
   */
  private wantedNeeds(session: WorkerSession): { plain: number[]; gated: number[] } {
    const plain: number[] = [];
    const gated: number[] = [];
    for (const id of session.matching) {
      if (!this.nonEmpty.has(id)) continue;
      const kind = this.gates.kind(id);
      if (kind === 'plain') {
        if (this.mode !== 'multi' || !this.bindable(id)) plain.push(id);
      } else if (kind === 'gated') gated.push(id);
    }
    return { plain, gated };
  }

  /** multi: jobs of plain queues ordered by priority go to workers' own queues. */
  private bindable(needsId: number): boolean {
    const n = this.needs.get(needsId);
    if (n === undefined) return true;
    return (
      this.gates.kind(needsId) === 'plain' &&
      this.queues.settings(n.queue).discipline === 'priority'
    );
  }

  private async claimShared(
    tx: StoreTx,
    session: WorkerSession,
    needsIds: readonly number[],
    limit: number,
    now: number,
  ): Promise<RunningJob[]> {
    const result = await tx.jobClaim({
      needsIds,
      limit,
      workerId: session.id,
      workerName: session.name,
      nodeId: this.nodeId,
      now,
    });
    for (const id of result.exhausted) this.nonEmpty.delete(id);
    return result.jobs;
  }

  private async claimOwn(
    tx: StoreTx,
    session: WorkerSession,
    limit: number,
    now: number,
  ): Promise<RunningJob[]> {
    const queue = this.own.get(session);
    if (!queue || queue.length === 0) return [];
    // Jobs of a queue paused (or gated) since they were bound wait in place.
    const picked: QueuedRef[] = [];
    for (let i = 0; i < queue.length && picked.length < limit;) {
      if (this.bindable(queue[i]!.needsId)) picked.push(...queue.splice(i, 1));
      else i++;
    }
    if (picked.length === 0) return [];
    for (const job of picked) this.bound.delete(job.id);
    const jobs = await tx.jobClaimIds(
      picked.map((r) => r.id),
      { workerId: session.id, workerName: session.name, nodeId: this.nodeId, now },
    );
    return jobs;
  }

  private async dispatchAvoiding(
    tx: StoreTx,
    free: Map<WorkerSession, number>,
    take: (s: WorkerSession, jobs: RunningJob[]) => void,
    now: number,
  ): Promise<void> {
    for (const [jobId, { needsId, workerId: avoidWorker }] of this.avoid) {
      this.avoid.delete(jobId);
      const other = this.sessions.find(
        (s) => s.id !== avoidWorker && (free.get(s) ?? 0) > 0 && s.matching.has(needsId),
      );
      if (!other) continue;
      const jobs = await tx.jobClaimIds([jobId], {
        workerId: other.id,
        workerName: other.name,
        nodeId: this.nodeId,
        now,
      });
      if (jobs.length > 0) {
        free.set(other, (free.get(other) ?? 0) - jobs.length);
        take(other, jobs);
        if (this.mode === 'multi') this.dropOwn(jobId);
      }
    }
  }

  private dropOwn(jobId: number): void {
    for (const queue of this.own.values()) {
      const i = queue.findIndex((r) => r.id === jobId);
      if (i >= 0) {
        queue.splice(i, 1);
        this.bound.delete(jobId);
        return;
      }
    }
  }

  /** multi: hands jobs out round robin over the connected workers that match each. */
  private rebind(jobs: readonly QueuedRef[]): void {
    for (const job of jobs) {
      // Jobs of other queues are claimed as with `single` (nonEmpty has their needs).
      if (!this.bindable(job.needsId)) continue;
      const candidates = this.sessions.filter((s) => s.matching.has(job.needsId));
      if (candidates.length === 0) {
        this.unbound.push(job);
        continue;
      }
      const session = candidates[this.bindNext++ % candidates.length]!;
      insertByPriority(this.own.get(session)!, job);
      this.bound.set(job.id, session);
    }
  }
}

/** Keeps a worker's own queue ordered: higher priority first, then older (smaller id). */
function insertByPriority(queue: QueuedRef[], job: QueuedRef): void {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = queue[mid]!;
    if (m.priority > job.priority || (m.priority === job.priority && m.id < job.id)) lo = mid + 1;
    else hi = mid;
  }
  queue.splice(lo, 0, job);
}
