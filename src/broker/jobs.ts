/**
 * Client-facing job operations: submit (one or a batch, one commit), cancel, and the reasons a
 * queued job gives for waiting. Answers only after the change is committed.
 */
import { SwitchyardError, notFound } from '../domain/errors.js';
import { isTerminal, type JobRecord, type JobState } from '../domain/job.js';
import { describeNeeds, type Needs } from '../domain/matching.js';
import type { Clock, Timer } from '../domain/clock.js';
import { MAX_JOB_WAIT_S, type SubmitJob } from '../protocol/api.js';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { Completion } from './complete.js';
import { claimedInBatch, type Dispatcher } from './dispatcher.js';
import type { EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';
import type { Scheduler } from './scheduler.js';
import { insertedRecord, prepareJob } from './submission.js';

export interface JobServiceDeps {
  store: Store;
  committer: Committer;
  completion: Completion;
  needs: NeedsRegistry;
  dispatcher: Dispatcher;
  scheduler: Scheduler;
  events: EventBus;
  clock: Clock;
  rejectUnmatchable: boolean;
  isFrozen(): boolean;
  /** How many connected workers match these needs, and how many of those have a free slot. */
  workersFor(needs: Needs): { matching: number; free: number };
}

export class JobService {
  /** Requests waiting for a job to end, by job id; woken by its terminal state event. */
  private readonly endWaiters = new Map<number, Set<() => void>>();
  private listening = false;
  /** The broker is stopping: waits answer at once. */
  private stopping = false;
  private readonly onState = (e: { id: number; to: JobState }): void => {
    if (!isTerminal(e.to)) return;
    const waiters = this.endWaiters.get(e.id);
    if (waiters === undefined) return;
    this.endWaiters.delete(e.id);
    for (const wake of waiters) wake();
  };

  constructor(private readonly deps: JobServiceDeps) {}

  async submit(inputs: readonly SubmitJob[], batch: boolean): Promise<JobRecord[]> {
    const { committer, needs, dispatcher, scheduler, events, clock } = this.deps;
    if (this.deps.isFrozen()) throw new SwitchyardError('frozen', 'The broker is frozen.');
    const now = clock.now();
    const prepared = inputs.map((input, i) => prepareJob(input, now, batch ? `jobs[${i}].` : ''));
    if (this.deps.rejectUnmatchable) {
      prepared.forEach((p, i) => {
        if (!needs.anyMatch(p)) {
          throw new SwitchyardError(
            'unmatchable',
            `${batch ? `jobs[${i}]: ` : ''}no connected worker could run this job (needs ${describeNeeds(p)})`,
            { requires: p.requires, type: p.type, queue: p.queue },
          );
        }
      });
    }
    return committer.run(async (tx, ctx) => {
      for (const p of prepared) p.needsId = needs.known(p) ?? (await needs.resolve(tx, p));
      const ids = await tx.jobInsertMany(prepared);
      const records = ids.map((id, i) => insertedRecord(id, prepared[i]!));
      const queued = [];
      let nextRun: number | null = null;
      for (let i = 0; i < prepared.length; i++) {
        const row = prepared[i]!;
        if (row.state === 'queued')
          queued.push({ id: ids[i]!, needsId: row.needsId, priority: row.priority });
        else if (row.state === 'scheduled' && (nextRun === null || row.runAt < nextRun))
          nextRun = row.runAt;
      }
      if (queued.length > 0) dispatcher.queued(queued);
      ctx.afterCommit(() => {
        if (nextRun !== null) scheduler.note(nextRun);
        // Jobs dispatched in this very commit are answered as running.
        const claimed = claimedInBatch(ctx);
        const announce = events.wants('job:created');
        for (const r of records) {
          if (announce)
            events.emit('job:created', { id: r.id, type: r.type, queue: r.queue, state: r.state });
          const run = claimed?.get(r.id);
          if (run) {
            r.state = 'running';
            r.attempt = run.attempt;
            r.startedAt = run.startedAt;
            r.workerId = run.workerId;
            r.workerName = run.workerName;
          }
        }
      });
      return records;
    });
  }

  async get(id: number): Promise<JobRecord> {
    const job = await this.deps.store.jobGet(id);
    if (!job) throw notFound('job', String(id));
    return job;
  }

  /**
   * The job once it has ended (succeeded, failed or canceled), or as it is when `waitMs` has
   * passed or `signal` aborts. Woken by the job's terminal state event, which the events of
   * other nodes reach too; the waiter is registered before the first read, so an end between
   * the two is not missed.
   */
  async getEnded(id: number, waitMs: number, signal?: AbortSignal): Promise<JobRecord> {
    if (waitMs <= 0 || signal?.aborted || this.stopping) return this.get(id);
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.addWaiter(id, wake);
    let timer: Timer | undefined;
    signal?.addEventListener('abort', wake, { once: true });
    try {
      const job = await this.get(id);
      if (isTerminal(job.state)) return job;
      timer = this.deps.clock.setTimeout(wake, Math.min(waitMs, MAX_JOB_WAIT_S * 1000));
      await woken;
      return await this.get(id);
    } finally {
      timer?.cancel();
      signal?.removeEventListener('abort', wake);
      this.removeWaiter(id, wake);
    }
  }

  /** Answers every waiting request now (the broker is stopping). */
  wakeWaiters(): void {
    this.stopping = true;
    const all = [...this.endWaiters.values()];
    this.endWaiters.clear();
    this.listen(false);
    for (const waiters of all) for (const wake of waiters) wake();
  }

  /** Subscribed only while someone waits: state events are built only when someone listens. */
  private listen(on: boolean): void {
    if (on === this.listening) return;
    this.listening = on;
    if (on) this.deps.events.on('job:state', this.onState);
    else this.deps.events.off('job:state', this.onState);
  }

  private addWaiter(id: number, wake: () => void): void {
    this.listen(true);
    let waiters = this.endWaiters.get(id);
    if (waiters === undefined) this.endWaiters.set(id, (waiters = new Set()));
    waiters.add(wake);
  }

  private removeWaiter(id: number, wake: () => void): void {
    const waiters = this.endWaiters.get(id);
    if (waiters !== undefined) {
      waiters.delete(wake);
      if (waiters.size === 0) this.endWaiters.delete(id);
    }
    if (this.endWaiters.size === 0) this.listen(false);
  }

  async cancel(id: number): Promise<JobRecord> {
    const { committer, completion } = this.deps;
    const outcome = await committer.run(async (tx, ctx) =>
      (await completion.cancel(tx, ctx, [id])).get(id),
    );
    if (!outcome) throw notFound('job', String(id));
    if (isTerminal(outcome.before)) {
      throw new SwitchyardError('conflict', `job ${id} has already ended: it is ${outcome.before}`);
    }
    return outcome.job;
  }

  /** Why a queued job is not running, for people reading it. */
  reason(job: JobRecord): string | undefined {
    if (job.state !== 'queued') return undefined;
    // multi: the job waits for the one worker whose own queue it was given, whoever is free.
    const owner = this.deps.dispatcher.boundTo(job.id);
    if (owner !== undefined) {
      return owner.available
        ? 'about to be dispatched'
        : `waiting in the queue of worker ${owner.name} (queue_manager multi), which has no free slot`;
    }
    const { matching, free } = this.deps.workersFor(job);
    if (matching === 0) return `no worker matches (needs ${describeNeeds(job)})`;
    if (free === 0) return `waiting for a free slot on one of ${matching} matching worker(s)`;
    return 'about to be dispatched';
  }
}
