/**
 * Client-facing job operations: submit (one or a batch, one commit), cancel, and the reasons a
 * queued job gives for waiting. Answers only after the change is committed.
 */
import { SwitchyardError, notFound } from '../domain/errors.js';
import { isTerminal, type JobRecord } from '../domain/job.js';
import { describeNeeds, type Needs } from '../domain/matching.js';
import type { Clock } from '../domain/clock.js';
import type { SubmitJob } from '../protocol/api.js';
import type { NewJob, Store } from '../store/store.js';
import type { Committer } from './committer.js';
import { claimedInBatch, type Dispatcher } from './dispatcher.js';
import type { EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';
import type { Scheduler } from './scheduler.js';
import { insertedRecord, prepareJob } from './submission.js';

export interface JobServiceDeps {
  store: Store;
  committer: Committer;
  needs: NeedsRegistry;
  dispatcher: Dispatcher;
  scheduler: Scheduler;
  events: EventBus;
  clock: Clock;
  rejectUnmatchable: boolean;
  isFrozen(): boolean;
  /** Tells the worker running a job to stop it (the job was canceled). */
  stopRunning(job: JobRecord, reason: 'canceled'): void;
  /** How many connected workers match these needs, and how many of those have a free slot. */
  workersFor(needs: Needs): { matching: number; free: number };
}

export class JobService {
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
      const rows: NewJob[] = new Array<NewJob>(prepared.length);
      for (let i = 0; i < prepared.length; i++) {
        const p = prepared[i]!;
        rows[i] = { ...p, needsId: needs.known(p) ?? (await needs.resolve(tx, p)) };
      }
      const ids = await tx.jobInsertMany(rows);
      const records = ids.map((id, i) => insertedRecord(id, prepared[i]!));
      const queued = [];
      let nextRun: number | null = null;
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
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

  async cancel(id: number): Promise<JobRecord> {
    const { committer, events, clock } = this.deps;
    const outcome = await committer.run(async (tx, ctx) => {
      const r = await tx.jobCancel(id, clock.now());
      if (r && !isTerminal(r.before)) {
        ctx.afterCommit(() => {
          events.emit('job:state', {
            id,
            from: r.before,
            to: 'canceled',
            attempt: r.job.attempt,
            workerId: r.job.workerId,
            error: null,
          });
          if (r.before === 'running') this.deps.stopRunning(r.job, 'canceled');
        });
      }
      return r;
    });
    if (!outcome) throw notFound('job', String(id));
    if (isTerminal(outcome.before)) {
      throw new SwitchyardError('conflict', `job ${id} has already ended: it is ${outcome.before}`);
    }
    return outcome.job;
  }

  /** Why a queued job is not running, for people reading it. */
  reason(job: JobRecord): string | undefined {
    if (job.state !== 'queued') return undefined;
    const { matching, free } = this.deps.workersFor(job);
    if (matching === 0) return `no worker matches (needs ${describeNeeds(job)})`;
    if (free === 0) return `waiting for a free slot on one of ${matching} matching worker(s)`;
    return 'about to be dispatched';
  }
}
