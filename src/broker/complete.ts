/**
 * The one end of an attempt. Every way a job's run ends (a worker's success or failure, a
 * worker lost or come back without the job, an orphan rescued after a node died, a
 * cancellation) is planned in the domain (src/domain/transitions.ts) and applied here, inside
 * the caller's batch, with all of its effects: the attempt record and the retry or failure (in
 * the plan), re-queued jobs dispatchable in the same commit, the scheduler told of a retry's run
 * time, the worker running a canceled job told to stop it wherever it runs, and the events once
 * the commit is durable. Nothing else writes an end. Later effects of an end (dependents,
 * uniqueness, notifications) belong here too.
 */
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
import type { EventBus } from './events.js';
import { OTHER_QUEUE, type Metrics } from './metrics.js';
import type { NeedsRegistry } from './needs.js';
import type { Scheduler } from './scheduler.js';

export interface CompletionSettings {
  maxRequestFailures: number;
  retry: RetryPolicy;
}

export interface CompletionDeps {
  dispatcher: Dispatcher;
  scheduler: Scheduler;
  events: EventBus;
  control: Control;
  clock: Clock;
  settings: CompletionSettings;
  /** Names the queue of a job by its needs (for events and metrics). */
  needs?: Pick<NeedsRegistry, 'get'>;
  metrics?: Metrics | null;
}

/** What announcing a change needs to know of the job besides the change. */
interface Announced {
  attempt: number;
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
    const ended: number[] = [];
    for (let i = 0; i < changes.length; i++) {
      const to = changes[i]!.to;
      if (applied[i] && (to === 'succeeded' || to === 'failed')) ended.push(changes[i]!.id);
    }
    const now = policy.now;
    ctx.afterCommit(() => {
      const metrics = this.deps.metrics;
      for (let i = 0; i < changes.length; i++) {
        if (!applied[i]) continue;
        const job = endings[i]!.job;
        metrics?.attemptRan(job.queue, now - job.startedAt);
        this.announce(changes[i]!, job);
      }
    });
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
      ctx.afterCommit(() =>
        this.announce(change, { attempt: 0, workerId: null, needsId: d.needsId }),
      );
    });
    if (queued.length > 0) this.deps.dispatcher.queued(queued);
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
      if (change.to === 'canceled' || change.to === 'failed') ended.push(change.id);
      const attempt = change.record?.attempt ?? job.attempt;
      // A run stopped by hand (cancel, hold) ends here: its worker's late result will not apply.
      const ranMs =
        lease !== undefined && job.startedAt !== null
          ? this.deps.clock.now() - job.startedAt
          : null;
      ctx.afterCommit(() => {
        if (ranMs !== null) {
          const queue = this.deps.needs?.get(job.needsId)?.queue ?? OTHER_QUEUE;
          this.deps.metrics?.attemptRan(queue, ranMs);
        }
        this.announce(change, { attempt, workerId: job.workerId, needsId: job.needsId });
      });
    }
    if (queued.length > 0) this.deps.dispatcher.queued(queued);
    await this.settle(tx, ctx, ended);
    if (records) {
      for (const job of await tx.jobGetForUpdate([...out.keys()])) out.get(job.id)!.job = job;
    }
    return out;
  }

  /**
   * After the commit: an applied change is an event, an end is counted, and a retry arms the
   * scheduler.
   */
  private announce(change: StateChange, job: Announced): void {
    const { events, scheduler, metrics } = this.deps;
    if (change.to === 'scheduled' && change.runAt !== undefined) scheduler.note(change.runAt);
    const terminal =
      change.to === 'succeeded' || change.to === 'failed' || change.to === 'canceled';
    const wanted = events.wants('job:state');
    if (!wanted && !(terminal && metrics)) return;
    const queue =
      job.queue ??
      (job.needsId === undefined ? undefined : this.deps.needs?.get(job.needsId)?.queue);
    if (terminal) metrics?.jobEnded(queue ?? OTHER_QUEUE, change.to);
    if (!wanted) return;
    events.emit('job:state', {
      id: change.id,
      ...(queue === undefined ? {} : { queue }),
      from: change.from,
      to: change.to,
      attempt: job.attempt,
      workerId: job.workerId,
      error: change.error ?? null,
    });
  }
}
