/**
 * The one end of an attempt. Every way a job's run ends (a worker's success or failure, a
 * worker lost or come back without the job, an orphan rescued after a node died, a
 * cancellation) is planned in the domain (src/domain/transitions.ts) and applied here, inside
 * the caller's batch, with all of its effects: the attempt record and the retry or failure (in
 * the plan), re-queued jobs dispatchable in the same commit, the scheduler told of a retry's run
 * time, the worker running a canceled job told to stop it wherever it runs, the job's message
 * of its change (src/broker/journal.ts: stored in the commit, published once it is durable), the
 * jobs waiting for an ended job settled, and the callbacks of ended jobs recorded in the
 * notifier's outbox (the job's own and the global notifier's, in the same commit as the end; a
 * job that used up its reassignments is a backend error too). Nothing else writes an end.
 */
import { countsAgainstWorker, type Block } from '../domain/blocklist.js';
import type { Clock } from '../domain/clock.js';
import type { JobRecord, JobState } from '../domain/job.js';
import type { RetryPolicy } from '../domain/retry.js';
import {
  planCancel,
  planDependencies,
  planEnd,
  type EndPolicy,
  type Outcome,
  type StateChange,
} from '../domain/transitions.js';
import type { Dependent, JobStateRow, QueuedRef, RunningJob, StoreTx } from '../store/store.js';
import type { BatchContext } from './committer.js';
import type { Control } from './control.js';
import type { Dispatcher } from './dispatcher.js';
import type { Journal } from './journal.js';
import { OTHER_QUEUE, type Metrics } from './metrics.js';
import type { NeedsRegistry } from './needs.js';
import type { JobEnd, Notifier } from './notifier.js';
import type { Scheduler } from './scheduler.js';

export interface CompletionSettings {
  maxRequestFailures: number;
  retry: RetryPolicy;
}

export interface CompletionDeps {
  dispatcher: Dispatcher;
  scheduler: Scheduler;
  journal: Journal;
  control: Control;
  notifier: Notifier;
  clock: Clock;
  settings: CompletionSettings;
  /** Names the queue of a job by its needs (for events and metrics). */
  needs?: Pick<NeedsRegistry, 'get'>;
  metrics?: Metrics | null;
  /**
   * The blocklist (src/domain/blocklist.ts): a real failure of a job on a worker is counted in
   * the same commit; `blocked` hears of the failure that reached the threshold.
   */
  blocklist?: { threshold: number; blocked(ctx: BatchContext, block: Block): void };
}

/** What recording a change needs to know of the job besides the change. */
interface Recorded {
  attempt: number | null;
  workerId: string | null;
  /** Its queue, when known without a lookup. */
  queue?: string;
  needsId?: number;
}

/** A running attempt and how it ended. */
export interface Ending {
  job: RunningJob;
  outcome: Outcome;
}

/**
 * What a change of one job by hand found: its state before, whether the plan applied, and (when
 * asked for) the job after.
 */
export interface Changed {
  before: JobState;
  changed: boolean;
  job?: JobRecord;
}

/** Plans a change of one job as it is now (null: it does not apply to the job). */
export type Planner = (job: JobStateRow) => StateChange | null;

export class Completion {
  constructor(private readonly deps: CompletionDeps) {}

  private policy(): EndPolicy {
    const { settings, clock } = this.deps;
    return {
      now: clock.now(),
      maxRequestFailures: settings.maxRequestFailures,
      retry: settings.retry,
    };
  }

  /**
   * Ends running attempts in this batch. Returns, per ending, whether it applied: an attempt
   * that is no longer current (canceled meanwhile, or taken over by another run) is left alone.
   */
  async endAttempts(
    tx: StoreTx,
    ctx: BatchContext,
    endings: readonly Ending[],
  ): Promise<boolean[]> {
    if (endings.length === 0) return [];
    const policy = this.policy();
    const changes = endings.map((e) => planEnd(e.job, e.outcome, policy));
    const applied = await tx.jobSetStateIfMany(changes);
    const { dispatcher } = this.deps;
    const requeued: QueuedRef[] = [];
    for (let i = 0; i < endings.length; i++) {
      if (!applied[i] || changes[i]!.to !== 'queued') continue;
      const { job, outcome } = endings[i]!;
      requeued.push({ id: job.id, needsId: job.needsId, priority: job.priority, ahead: true });
      // A process that could not start here may start on another worker.
      if (outcome.kind === 'fail') dispatcher.retryElsewhere(job.id, job.needsId, job.workerId);
    }
    // Jobs going back to the queue are dispatchable in this very commit.
    if (requeued.length > 0) dispatcher.queued(requeued);
    const blocklist = this.deps.blocklist;
    if (blocklist !== undefined && blocklist.threshold > 0) {
      // Failures only, never the common end: a job that succeeds pays nothing for this.
      for (let i = 0; i < endings.length; i++) {
        const { job, outcome } = endings[i]!;
        if (!applied[i] || !countsAgainstWorker(outcome)) continue;
        const block = await tx.blocklistFailure({
          workerId: job.workerId,
          queue: job.queue,
          type: job.type,
          threshold: blocklist.threshold,
          now: policy.now,
        });
        if (block !== null) blocklist.blocked(ctx, block);
      }
    }
    const ended: number[] = [];
    const { notifier } = this.deps;
    let notified: JobEnd[] | null = null;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const to = change.to;
      if (!applied[i] || (to !== 'succeeded' && to !== 'failed')) continue;
      ended.push(change.id);
      const job = endings[i]!.job;
      if (notifier.wants(to, job.options)) {
        (notified ??= []).push({
          id: job.id,
          type: job.type,
          queue: job.queue,
          state: to,
          attempt: job.attempt,
          error: change.error ?? null,
          result: change.result ?? null,
          options: job.options,
        });
      }
      if (to === 'failed' && change.error?.code === 'max_request_failures') {
        await notifier.backendError(tx, ctx, `job ${job.id}: ${change.error.message}`, {
          jobId: String(job.id),
          type: job.type,
          queue: job.queue,
          requestFailures: change.requestFailures,
        });
      }
    }
    if (notified !== null) await notifier.jobsEnded(tx, ctx, notified);
    const now = policy.now;
    for (let i = 0; i < changes.length; i++) {
      if (applied[i]) this.record(ctx, changes[i]!, endings[i]!.job);
    }
    const metrics = this.deps.metrics;
    if (metrics) {
      ctx.afterCommit(() => {
        for (let i = 0; i < changes.length; i++) {
          const job = endings[i]!.job;
          if (applied[i]) metrics.attemptRan(job.queue, now - job.startedAt);
        }
      });
    }
    await this.settle(tx, ctx, ended);
    return applied;
  }

  /**
   * The jobs waiting for jobs that just ended (or were deleted), in the same commit as the end:
   * queued once all their dependencies succeeded, canceled (naming the dependency) when one
   * failed or was canceled — which in turn settles the jobs waiting for them.
   */
  async settle(tx: StoreTx, ctx: BatchContext, endedIds: readonly number[]): Promise<void> {
    let ids = endedIds;
    while (ids.length > 0) {
      const dependents = await tx.jobDependents(ids);
      ids = await this.settleWaiting(tx, ctx, dependents);
    }
  }

  /** Plans and applies what waiting jobs' dependencies mean now; returns the ones canceled. */
  private async settleWaiting(
    tx: StoreTx,
    ctx: BatchContext,
    dependents: readonly Dependent[],
  ): Promise<number[]> {
    if (dependents.length === 0) return [];
    const now = this.deps.clock.now();
    const changes: StateChange[] = [];
    const byId = new Map<number, Dependent>();
    for (const d of dependents) {
      const change = planDependencies(d, d.dependencies, now);
      if (change !== null && !byId.has(d.id)) {
        changes.push(change);
        byId.set(d.id, d);
      }
    }
    const applied = await tx.jobSetStateIfMany(changes);
    const queued: QueuedRef[] = [];
    const canceled: number[] = [];
    changes.forEach((change, i) => {
      if (!applied[i]) return;
      const d = byId.get(change.id)!;
      if (change.to === 'queued')
        queued.push({ id: d.id, needsId: d.needsId, priority: d.priority });
      if (change.to === 'canceled') canceled.push(d.id);
      this.record(ctx, change, { attempt: null, workerId: null, needsId: d.needsId });
    });
    if (queued.length > 0) this.deps.dispatcher.queued(queued);
    await this.notifyEnded(
      tx,
      ctx,
      canceled.map((id) => ({ id, state: 'canceled', options: byId.get(id)!.options })),
    );
    return canceled;
  }

  /**
   * Cancels jobs that have not ended. A running one's attempt is recorded as canceled and the
   * node whose worker runs it is told to stop it (its late result then no longer applies).
   * Returns what was found per id; unknown ids are left out.
   */
  cancel(
    tx: StoreTx,
    ctx: BatchContext,
    ids: readonly number[],
    records = true,
  ): Promise<Map<number, Changed>> {
    const now = this.deps.clock.now();
    return this.change(tx, ctx, ids, (job) => planCancel(job, now), records);
  }

  /**
   * Changes jobs by hand (cancel, hold, release, retry, run now), each as `plan` says for the
   * job as it is now (its row locked until the commit with several nodes). A running job that
   * leaves `running` is stopped wherever it runs; jobs entering the queue are dispatchable in
   * this commit; jobs ending settle their dependents. Unknown ids are left out of the answer;
   * with `records`, each answer carries the job as it is after the change (an action on
   * thousands of jobs leaves them out).
   */
  async change(
    tx: StoreTx,
    ctx: BatchContext,
    ids: readonly number[],
    plan: Planner,
    records = true,
  ): Promise<Map<number, Changed>> {
    const found = await tx.jobStatesForUpdate(ids);
    const out = new Map<number, Changed>();
    const changes: StateChange[] = [];
    const rows = new Map<number, JobStateRow>();
    for (const job of found) {
      const change = plan(job);
      out.set(job.id, { before: job.state, changed: false });
      if (change !== null) {
        changes.push(change);
        rows.set(job.id, job);
      }
    }
    const applied = await tx.jobSetStateIfMany(changes);
    const queued: QueuedRef[] = [];
    const ended: number[] = [];
    const endedRows: Array<Pick<JobEnd, 'id' | 'state' | 'options'>> = [];
    for (let i = 0; i < changes.length; i++) {
      if (!applied[i]) continue;
      const change = changes[i]!;
      const job = rows.get(change.id)!;
      out.get(change.id)!.changed = true;
      const lease = change.lease;
      if (lease !== undefined) {
        await this.deps.control.send(tx, ctx, lease.nodeId, {
          kind: 'stop',
          jobId: change.id,
          attempt: lease.attempt,
          reason: change.to === 'held' ? 'held' : 'canceled',
        });
      }
      if (change.to === 'queued') {
        queued.push({ id: job.id, needsId: job.needsId, priority: job.priority });
      }
      if (change.to === 'canceled' || change.to === 'failed') {
        ended.push(change.id);
        endedRows.push({ id: change.id, state: change.to, options: job.options });
      }
      const attempt = change.record?.attempt ?? (job.attempt > 0 ? job.attempt : null);
      this.record(ctx, change, { attempt, workerId: job.workerId, needsId: job.needsId });
      // A run stopped by hand (cancel, hold) ends here: its worker's late result will not apply.
      const metrics = this.deps.metrics;
      if (metrics && lease !== undefined && job.startedAt !== null) {
        const ranMs = this.deps.clock.now() - job.startedAt;
        const queue = this.deps.needs?.get(job.needsId)?.queue ?? OTHER_QUEUE;
        ctx.afterCommit(() => metrics.attemptRan(queue, ranMs));
      }
    }
    if (queued.length > 0) this.deps.dispatcher.queued(queued);
    await this.notifyEnded(tx, ctx, endedRows);
    await this.settle(tx, ctx, ended);
    if (records) {
      for (const job of await tx.jobGetForUpdate([...out.keys()])) out.get(job.id)!.job = job;
    }
    return out;
  }

  /**
   * The callbacks of jobs ended by hand or by a dependency: what planning them did not read (the
   * type, the queue, the error as recorded) is read back for the few that want a callback.
   */
  private async notifyEnded(
    tx: StoreTx,
    ctx: BatchContext,
    ended: ReadonlyArray<Pick<JobEnd, 'id' | 'state' | 'options'>>,
  ): Promise<void> {
    const { notifier } = this.deps;
    const ids = ended.filter((e) => notifier.wants(e.state, e.options)).map((e) => e.id);
    if (ids.length === 0) return;
    const jobs = await tx.jobGetForUpdate(ids);
    await notifier.jobsEnded(
      tx,
      ctx,
      jobs.map((j) => ({
        id: j.id,
        type: j.type,
        queue: j.queue,
        state: j.state,
        attempt: j.attempt,
        error: j.error,
        result: j.result ?? null,
        options: j.options,
      })),
    );
  }

  /**
   * An applied change is a message of the job (committed with it, then published), and a
   * change to `scheduled` arms the scheduler once committed.
   */
  private record(ctx: BatchContext, change: StateChange, job: Recorded): void {
    const { journal, scheduler, metrics } = this.deps;
    const runAt = change.runAt;
    if (change.to === 'scheduled' && runAt !== undefined)
      ctx.afterCommit(() => scheduler.note(runAt));
    const queue =
      job.queue ??
      (job.needsId === undefined ? undefined : this.deps.needs?.get(job.needsId)?.queue);
    const to = change.to;
    // A slot under its queue's gates (concurrency, named limits) is free from this commit on.
    if (change.from === 'running' && queue !== undefined) this.deps.dispatcher.leftRunning(queue);
    if (metrics && (to === 'succeeded' || to === 'failed' || to === 'canceled'))
      ctx.afterCommit(() => metrics.jobEnded(queue ?? OTHER_QUEUE, to));
    journal.state(ctx, change.id, job.attempt, change.now, queue, {
      from: change.from,
      to: change.to,
      workerId: job.workerId,
      error: change.error ?? null,
      ...(change.to === 'succeeded' && change.result !== undefined
        ? { result: change.result }
        : {}),
      ...(change.hold ? { hold: change.hold } : {}),
    });
  }
}
