/**
 * Client-facing job operations: submit (one or a batch, one commit), cancel, and the reasons a
 * queued job gives for waiting. Answers only after the change is committed.
 */
import { rankOf } from '../domain/queues.js';
import type { Placed, QueueFlow, QueueRegistry } from './queues.js';
import { SwitchyardError, invalid, notFound } from '../domain/errors.js';
import { isTerminal, type HoldInfo, type JobRecord, type JobState } from '../domain/job.js';
import {
  brokenDependency,
  planCancel,
  planHold,
  planRelease,
  planRetry,
  planRunNow,
} from '../domain/transitions.js';
import { isDuplicate } from '../domain/uniqueness.js';
import { errorLabel } from '../domain/error-groups.js';

/** One group of the failed queue, with its newest job. */
export interface FailedGroup {
  key: string;
  label: string;
  count: number;
  newest: JobRecord;
}
import { describeNeeds, type Needs } from '../domain/matching.js';
import type { Clock, Timer } from '../domain/clock.js';
import { MAX_JOB_WAIT_S, type SubmitJob } from '../protocol/api.js';
import type { JobSelector, Store, StoreTx, UniqueHolder } from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';
import type { Changed, Completion } from './complete.js';
import type { Journal } from './journal.js';
import { claimedInBatch, type Dispatcher } from './dispatcher.js';
import type { EventBus } from './events.js';
import type { Metrics } from './metrics.js';
import type { NeedsRegistry } from './needs.js';
import type { Scheduler } from './scheduler.js';
import { insertedRecord, prepareJob, type PreparedJob } from './submission.js';

/** One answer of a submission: the job, and whether it is an existing one (a duplicate). */
export interface Submitted {
  job: JobRecord;
  deduplicated: boolean;
}

/** An action on one job or on many (contract: POST /jobs/actions). */
export type Action =
  | { kind: 'cancel' }
  | { kind: 'hold'; hold: Omit<HoldInfo, 'at'> }
  | { kind: 'release' }
  | { kind: 'retry' }
  | { kind: 'run-now' }
  | { kind: 'delete' }
  | { kind: 'priority'; priority: number }
  | { kind: 'move'; queue: string };

/** What a filtered action walks per commit: small enough that dispatch goes on in between. */
export const ACTION_CHUNK = 100;

/** States an action may change (the rest are counted as matched, not changed). */
const actionStates: Record<Action['kind'], readonly JobState[]> = {
  cancel: ['waiting', 'scheduled', 'queued', 'running', 'held'],
  hold: ['scheduled', 'queued', 'running'],
  release: ['held'],
  retry: ['failed', 'canceled'],
  'run-now': ['scheduled'],
  delete: ['waiting', 'scheduled', 'queued', 'running', 'held', 'succeeded', 'failed', 'canceled'],
  priority: ['waiting', 'scheduled', 'queued', 'held'],
  move: ['waiting', 'scheduled', 'queued', 'held'],
};

export interface JobServiceDeps {
  store: Store;
  committer: Committer;
  completion: Completion;
  needs: NeedsRegistry;
  dispatcher: Dispatcher;
  scheduler: Scheduler;
  events: EventBus;
  journal: Journal;
  clock: Clock;
  rejectUnmatchable: boolean;
  isFrozen(): boolean;
  /** How many connected workers match these needs, and how many of those have a free slot. */
  workersFor(needs: Needs): { matching: number; free: number };
  metrics?: Metrics | null;
  queues: QueueRegistry;
  /** Counts jobs submitted per queue (the queue listing's rates). */
  flow?: QueueFlow | null;
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

  async submit(inputs: readonly SubmitJob[], batch: boolean): Promise<Submitted[]> {
    const { committer, needs, dispatcher, scheduler, events, journal, clock } = this.deps;
    if (this.deps.isFrozen()) throw new SwitchyardError('frozen', 'The broker is frozen.');
    const now = clock.now();
    const prepared = inputs.map((input, i) =>
      prepareJob(input, now, batch ? `jobs[${i}].` : '', batch ? i : null),
    );
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
    // Uniqueness and dependencies look at other jobs, one submission after the other.
    const linked = prepared.some((p) => p.options?.unique !== undefined || p.dependsOn);
    return committer.run(async (tx, ctx) => {
      for (const p of prepared) {
        const n = needsOf(p);
        p.needsId = needs.known(n) ?? (await needs.resolve(tx, n));
      }
      await this.deps.queues.place(tx, prepared);
      const answers = linked
        ? await this.insertLinked(tx, prepared, batch)
        : (await tx.jobInsertMany(prepared)).map((id, i) => ({
            job: insertedRecord(id, prepared[i]!),
            deduplicated: false,
          }));
      const queued = [];
      let nextRun: number | null = null;
      for (const { job, deduplicated } of answers) {
        if (deduplicated) continue;
        journal.state(ctx, job.id, null, job.createdAt, job.queue, {
          from: null,
          to: job.state,
          workerId: null,
          error: job.error,
          ...(job.hold !== null ? { hold: job.hold } : {}),
        });
        if (job.state === 'queued')
          queued.push({ id: job.id, needsId: job.needsId, priority: job.priority });
        // (the ref's priority orders own queues of `multi`, which hold only priority queues)
        else if (job.state === 'scheduled' && (nextRun === null || job.runAt < nextRun))
          nextRun = job.runAt;
      }
      if (queued.length > 0) dispatcher.queued(queued);
      ctx.afterCommit(() => {
        if (nextRun !== null) scheduler.note(nextRun);
        // Jobs dispatched in this very commit are answered as running.
        const claimed = claimedInBatch(ctx);
        const announce = events.wants('job:created');
        const metrics = this.deps.metrics;
        const flow = this.deps.flow;
        for (const { job: r, deduplicated } of answers) {
          if (deduplicated) continue;
          metrics?.jobSubmitted(r.queue);
          flow?.count(r.queue, 'in');
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
      return answers;
    });
  }

  /**
   * Inserts jobs that are unique or depend on others, in order. Every key of the submission is
   * taken at once; a key held by a job it duplicates answers with that job, a key given twice
   * in one submission with the first of them. Dependencies (ids, or positions of earlier jobs of
   * the batch) must exist, and decide the state: waiting while one has not succeeded, canceled
   * if one failed or was canceled. Runs of jobs without dependencies are inserted together.
   */
  private async insertLinked(
    tx: StoreTx,
    prepared: readonly PreparedJob[],
    batch: boolean,
  ): Promise<Submitted[]> {
    const now = this.deps.clock.now();
    const answers: Submitted[] = new Array<Submitted>(prepared.length);
    const keys = prepared.flatMap((p) => (p.options?.unique ? [p.options.unique.key] : []));
    const holders = keys.length > 0 ? await tx.uniqueTakeMany(keys) : new Map();
    const duplicated = new Map<number, JobRecord>();
    const holderIds = [...holders.values()]
      .filter((h): h is UniqueHolder => h !== null && isDuplicate(h, now))
      .map((h) => h.jobId);
    for (const job of await tx.jobGetForUpdate(holderIds)) duplicated.set(job.id, job);
    /** Keys given to a job of this submission: by its position. */
    const taken = new Map<string, number>();
    const sameAs = new Map<number, number>();
    let plain: number[] = [];
    const flush = async (): Promise<void> => {
      if (plain.length === 0) return;
      const ids = await tx.jobInsertMany(plain.map((i) => prepared[i]!));
      plain.forEach((at, k) => {
        answers[at] = { job: insertedRecord(ids[k]!, prepared[at]!), deduplicated: false };
      });
      plain = [];
    };
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      const unique = p.options?.unique;
      if (unique !== undefined) {
        const holder = holders.get(unique.key) as UniqueHolder | null | undefined;
        const existing = holder ? duplicated.get(holder.jobId) : undefined;
        if (existing !== undefined) {
          answers[i] = { job: existing, deduplicated: true };
          continue;
        }
        const first = taken.get(unique.key);
        if (first !== undefined) {
          sameAs.set(i, first);
          continue;
        }
        taken.set(unique.key, i);
      }
      if (p.dependsOn === undefined) {
        plain.push(i);
        continue;
      }
      await flush();
      const where = batch ? `jobs[${i}].` : '';
      const dependsOn = [
        ...new Set(
          p.dependsOn.map((d) => ('id' in d ? d.id : this.positionId(answers, sameAs, d.position))),
        ),
      ];
      const found = new Map((await tx.jobGetForUpdate(dependsOn)).map((j) => [j.id, j]));
      const missing = dependsOn.find((id) => !found.has(id));
      if (missing !== undefined) throw invalid(`${where}dependsOn: job ${missing} does not exist`);
      const broken = brokenDependency(dependsOn.map((id) => found.get(id)!));
      if (broken !== null) {
        p.state = 'canceled';
        p.error = broken;
      } else if (dependsOn.every((id) => found.get(id)!.state === 'succeeded')) {
        p.state = p.runAt > now ? 'scheduled' : 'queued';
      }
      const [id] = await tx.jobInsertMany([p]);
      answers[i] = { job: insertedRecord(id!, p), deduplicated: false };
      await tx.jobDependenciesAdd(dependsOn.map((d) => ({ jobId: id!, dependsOn: d })));
    }
    await flush();
    for (const [i, first] of sameAs) answers[i] = { job: answers[first]!.job, deduplicated: true };
    const given = [...taken].map(([key, i]) => {
      const unique = prepared[i]!.options!.unique!;
      return {
        key,
        jobId: answers[i]!.job.id,
        rule: { forMs: unique.forMs, while: unique.while },
      };
    });
    await tx.uniqueSetMany(given);
    return answers;
  }

  /** The id of the job at a position of this batch (inserted, or the one it duplicates). */
  private positionId(
    answers: readonly Submitted[],
    sameAs: ReadonlyMap<number, number>,
    position: number,
  ): number {
    const at = sameAs.get(position) ?? position;
    return answers[at]!.job.id;
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
    return this.actOnOne(id, { kind: 'cancel' });
  }

  /**
   * An action on one job; a job the action does not apply to is a conflict naming its state.
   * Answers with the job after the change.
   */
  async actOnOne(id: number, action: Action): Promise<JobRecord> {
    const outcome = (await this.actOn([id], action, true)).get(id);
    if (!outcome) throw notFound('job', String(id));
    if (!outcome.changed) {
      throw new SwitchyardError('conflict', conflictMessage(id, action, outcome.before), {
        state: outcome.before,
      });
    }
    return outcome.job!;
  }

  /**
   * An action on jobs named by id, in one commit; returns per id what it found and did (unknown
   * ids are left out), with the jobs as they are after it when `records` (for one job's answer).
   */
  async actOn(
    ids: readonly number[],
    action: Action,
    records = false,
  ): Promise<Map<number, Changed>> {
    return this.deps.committer.run((tx, ctx) => this.applyAction(tx, ctx, ids, action, records));
  }

  /**
   * An action on every job the selector matches, walked by id in chunks of one commit each,
   * so that a retry of 100,000 failed jobs leaves room for dispatch between its commits. A job
   * that came to match after the walk passed it is not included. `dryRun` counts, changes nothing.
   */
  async actOnAll(
    selector: JobSelector,
    action: Action,
    dryRun: boolean,
    signal?: AbortSignal,
  ): Promise<{ matched: number; changed: number }> {
    const { store } = this.deps;
    if (dryRun) {
      const matched = await store.jobCount(selector);
      const eligible = eligibleStates(selector, action);
      const changed =
        eligible.length === 0 ? 0 : await store.jobCount({ ...selector, states: eligible });
      return { matched, changed };
    }
    let matched = 0;
    let changed = 0;
    let after = 0;
    for (;;) {
      if (signal?.aborted) break;
      const ids = await store.jobSelectIds(selector, after, ACTION_CHUNK);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      const result = await this.actOn(ids, action);
      matched += result.size;
      for (const r of result.values()) if (r.changed) changed++;
      // Let the event loop serve dispatch and requests before the next chunk.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { matched, changed };
  }

  /** Counts what an action on these ids would change, without changing anything. */
  async dryRunIds(
    ids: readonly number[],
    action: Action,
  ): Promise<{ matched: number; changed: number }> {
    let matched = 0;
    let changed = 0;
    const eligible = actionStates[action.kind];
    for (const id of new Set(ids)) {
      const job = await this.deps.store.jobGet(id);
      if (job === undefined) continue;
      matched++;
      if (eligible.includes(job.state)) changed++;
    }
    return { matched, changed };
  }

  private async applyAction(
    tx: StoreTx,
    ctx: BatchContext,
    ids: readonly number[],
    action: Action,
    records: boolean,
  ): Promise<Map<number, Changed>> {
    const { completion, clock } = this.deps;
    const now = clock.now();
    switch (action.kind) {
      case 'cancel':
        return completion.cancel(tx, ctx, ids, records);
      case 'hold': {
        const hold: HoldInfo = { ...action.hold, at: now };
        return completion.change(tx, ctx, ids, (job) => planHold(job, hold, now), records);
      }
      case 'run-now':
        return completion.change(tx, ctx, ids, (job) => planRunNow(job, now), records);
      case 'release':
        return completion.change(tx, ctx, ids, (job) => planRelease(job, now), records);
      case 'retry':
        return completion.change(tx, ctx, ids, (job) => planRetry(job, now), records);
      case 'delete':
        return this.deleteJobs(tx, ctx, ids, records);
      case 'priority':
      case 'move':
        return this.replan(tx, ids, action);
    }
  }

  /**
   * Deletes jobs: a running one is told to stop first (its late result finds no job); jobs
   * waiting for a deleted one are canceled, naming it.
   */
  private async deleteJobs(
    tx: StoreTx,
    ctx: BatchContext,
    ids: readonly number[],
    records: boolean,
  ): Promise<Map<number, Changed>> {
    const { completion, clock } = this.deps;
    const now = clock.now();
    // The answer for one job is the job as it was.
    const before = records ? await tx.jobGetForUpdate(ids) : [];
    // Stop what runs, as a cancellation would, then erase.
    const stopped = await completion.change(
      tx,
      ctx,
      ids,
      (job) => (job.state === 'running' ? planCancel(job, now) : null),
      false,
    );
    const deleted = [...stopped.keys()];
    await tx.jobDelete(deleted);
    this.deps.journal.forget(ctx, deleted);
    ctx.afterCommit(() => {
      for (const id of deleted) this.deps.events.emit('job:deleted', { id });
    });
    const out = new Map<number, Changed>();
    for (const [id, found] of stopped) out.set(id, { before: found.before, changed: true });
    for (const job of before) out.get(job.id)!.job = job;
    await completion.settle(tx, ctx, [...out.keys()]);
    return out;
  }

  /** Changes the priority or the queue of jobs that wait (queued ones are dispatched by it). */
  private async replan(
    tx: StoreTx,
    ids: readonly number[],
    action: Extract<Action, { kind: 'priority' | 'move' }>,
  ): Promise<Map<number, Changed>> {
    const { needs, dispatcher, clock } = this.deps;
    const now = clock.now();
    const found = await tx.jobGetForUpdate(ids);
    const allowed = actionStates[action.kind];
    const targets = found.filter((j) => allowed.includes(j.state));
    const changes = [];
    const placed: Placed[] = [];
    for (const job of targets) {
      if (action.kind === 'priority') {
        // Its place in its queue follows (not its fair tag: it keeps its turn).
        const rank = rankOf(this.deps.queues.settings(job.queue).discipline, action.priority);
        changes.push({ id: job.id, from: job.state, priority: action.priority, rank, now });
      } else {
        const target = {
          queue: action.queue,
          type: job.type,
          requires: job.requires,
          limits: job.options?.limits,
        };
        const needsId = needs.known(target) ?? (await needs.resolve(tx, target));
        placed.push({
          queue: action.queue,
          needsId,
          priority: job.priority,
          group: job.group,
          rank: job.priority,
          tag: 0,
        });
        changes.push({ id: job.id, from: job.state, queue: action.queue, needsId, now });
      }
    }
    if (placed.length > 0) {
      // Moved jobs enter their new queue now, under its discipline.
      await this.deps.queues.place(tx, placed);
      let k = 0;
      for (const c of changes) {
        if (c.queue === undefined) continue;
        const p = placed[k++]!;
        Object.assign(c, { rank: p.rank, tag: p.tag });
      }
    }
    const applied = await tx.jobReplan(changes);
    const out = new Map<number, Changed>();
    for (const job of found) out.set(job.id, { before: job.state, job, changed: false });
    const changedIds = changes.filter((_, i) => applied[i]).map((c) => c.id);
    const queued = [];
    for (const job of await tx.jobGetForUpdate(changedIds)) {
      out.set(job.id, { before: job.state, job, changed: true });
      if (job.state === 'queued') {
        queued.push({ id: job.id, needsId: job.needsId, priority: job.priority });
      }
    }
    // A queued job in its new place (or queue) is dispatchable in this commit.
    if (queued.length > 0) dispatcher.queued(queued);
    return out;
  }

  /** The failed queue in groups, each with its newest job and a label for people. */
  async failedGroups(
    by: 'queue' | 'type' | 'error',
    limit: number,
  ): Promise<{ by: typeof by; total: number; groups: FailedGroup[] }> {
    const { store } = this.deps;
    const { total, groups } = await store.failedGroups(by, limit);
    const out: FailedGroup[] = [];
    for (const g of groups) {
      const newest = await store.jobGet(g.newestId);
      if (newest === undefined) continue; // deleted meanwhile
      const label =
        by !== 'error'
          ? g.key
          : newest.error === null
            ? '(no error recorded)'
            : errorLabel(newest.error);
      out.push({ key: g.key, label, count: g.count, newest });
    }
    return { by, total, groups: out };
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

/** What a prepared job's needs are: its limits take part (they are in its options). */
function needsOf(p: PreparedJob): Needs {
  const limits = p.options?.limits;
  return limits === undefined ? p : { type: p.type, queue: p.queue, requires: p.requires, limits };
}

/** The states among the selector's that the action may change. */
function eligibleStates(selector: JobSelector, action: Action): JobState[] {
  const allowed = actionStates[action.kind];
  return selector.states === undefined
    ? [...allowed]
    : selector.states.filter((s) => allowed.includes(s));
}

function conflictMessage(id: number, action: Action, state: JobState): string {
  const verb: Record<Action['kind'], string> = {
    cancel: 'canceled',
    hold: 'held',
    release: 'released',
    retry: 'retried',
    'run-now': 'run now',
    delete: 'deleted',
    priority: 'given another priority',
    move: 'moved',
  };
  const can = actionStates[action.kind].join(', ');
  if (isTerminal(state) && action.kind === 'cancel') {
    return `job ${id} has already ended: it is ${state}`;
  }
  return `job ${id} cannot be ${verb[action.kind]}: it is ${state} (only ${can} jobs can)`;
}
