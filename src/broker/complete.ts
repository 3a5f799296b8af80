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
  planEnd,
  type EndPolicy,
  type Outcome,
  type StateChange,
} from '../domain/transitions.js';
import type { QueuedRef, RunningJob, StoreTx } from '../store/store.js';
import type { BatchContext } from './committer.js';
import type { Control } from './control.js';
import type { Dispatcher } from './dispatcher.js';
import type { EventBus } from './events.js';
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
}

/** A running attempt and how it ended. */
export interface Ending {
  job: RunningJob;
  outcome: Outcome;
}

/** What cancelling one job found: its state before, and the job after (unchanged if it had ended). */
export interface Canceled {
  before: JobState;
  job: JobRecord;
}

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
    ctx.afterCommit(() => {
      for (let i = 0; i < changes.length; i++) {
        if (applied[i]) this.announce(changes[i]!, endings[i]!.job);
      }
    });
    return applied;
  }

  /**
   * Cancels jobs that have not ended. A running one's attempt is recorded as canceled and the
   * node whose worker runs it is told to stop it (its late result then no longer applies).
   * Returns what was found per id; unknown ids are left out.
   */
  async cancel(
    tx: StoreTx,
    ctx: BatchContext,
    ids: readonly number[],
  ): Promise<Map<number, Canceled>> {
    const now = this.deps.clock.now();
    const found = await tx.jobGetForUpdate(ids);
    const out = new Map<number, Canceled>();
    const changes: StateChange[] = [];
    for (const job of found) {
      const change = planCancel(job, now);
      if (change === null) out.set(job.id, { before: job.state, job });
      else changes.push(change);
    }
    const applied = await tx.jobSetStateIfMany(changes);
    const changed = changes.filter((_, i) => applied[i]);
    for (const change of changed) {
      const lease = change.lease;
      if (lease !== undefined) {
        await this.deps.control.send(tx, ctx, lease.nodeId, {
          kind: 'stop',
          jobId: change.id,
          attempt: lease.attempt,
          reason: 'canceled',
        });
      }
    }
    const byId = new Map(changed.map((c) => [c.id, c]));
    for (const job of await tx.jobGetForUpdate([...byId.keys()])) {
      const change = byId.get(job.id)!;
      out.set(job.id, { before: change.from, job });
      ctx.afterCommit(() => this.announce(change, job));
    }
    return out;
  }

  /** After the commit: an applied change is an event, and a retry arms the scheduler. */
  private announce(change: StateChange, job: { attempt: number; workerId: string | null }): void {
    const { events, scheduler } = this.deps;
    if (change.to === 'scheduled' && change.runAt !== undefined) scheduler.note(change.runAt);
    if (!events.wants('job:state')) return;
    events.emit('job:state', {
      id: change.id,
      from: change.from,
      to: change.to,
      attempt: job.attempt,
      workerId: job.workerId,
      error: change.error ?? null,
    });
  }
}
