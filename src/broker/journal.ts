/**
 * Each job's messages, stored before they are sent: a change of state (with the state before),
 * progress (with its named step, ReCodEx's `TASK <id> COMPLETED`), an attribute set, and (from
 * reports.ts, into job_logs) output. A message is recorded by the operation that makes the
 * change, in the same batch; the batch's last hook appends them all with one store call, so
 * they commit with the change they describe, each with a seq that orders one job's messages of
 * every kind. Once the commit is durable each is published as an event carrying its seq: the
 * monitor replays what a late subscriber missed from the store and follows the events, on any
 * node, after any restart.
 */
import type { HoldInfo, JobError, JobState, Progress } from '../domain/job.js';
import type { NewJobMessage, StoreTx } from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';
import type { EventBus } from './events.js';

/** A change of state as stored and sent. */
export interface StateMessage {
  from: JobState | null;
  to: JobState;
  workerId: string | null;
  error: JobError | null;
  /** A job's result, in the message of its success. */
  result?: unknown;
  /** Why and by whom a job was held, in the message of its hold. */
  hold?: HoldInfo;
}

interface Pending {
  message: NewJobMessage;
  publish(seq: number): void;
}

const PENDING = Symbol('job messages of this batch');

export class Journal {
  constructor(private readonly events: EventBus) {}

  /** Registers the hook that writes each batch's messages, after every other hook's. */
  attach(committer: Committer): void {
    committer.addFinalHook((tx, ctx) => this.flush(tx, ctx));
  }

  /** A change of state of a job, in this batch. */
  state(
    ctx: BatchContext,
    jobId: number,
    attempt: number | null,
    at: number,
    /** The job's queue, for the event (not stored: a message is about its job). */
    queue: string | undefined,
    change: StateMessage,
  ): void {
    this.add(ctx, { jobId, attempt, at, kind: 'state', data: JSON.stringify(change) }, (seq) => {
      if (!this.events.wants('job:state')) return;
      this.events.emit('job:state', {
        id: jobId,
        seq,
        at,
        ...(queue === undefined ? {} : { queue }),
        from: change.from,
        to: change.to,
        attempt: attempt ?? 0,
        workerId: change.workerId,
        error: change.error,
        ...(change.result !== undefined ? { result: change.result } : {}),
        ...(change.hold !== undefined ? { hold: change.hold } : {}),
      });
    });
  }

  /** Progress of a running attempt, in this batch. */
  progress(ctx: BatchContext, jobId: number, attempt: number, progress: Progress): void {
    const { at, ...body } = progress;
    this.add(ctx, { jobId, attempt, at, kind: 'progress', data: JSON.stringify(body) }, (seq) =>
      this.events.emit('job:progress', { id: jobId, seq, attempt, progress }),
    );
  }

  /** An attribute a running attempt set, in this batch. */
  attribute(
    ctx: BatchContext,
    jobId: number,
    attempt: number,
    at: number,
    key: string,
    value: string,
  ): void {
    const data = JSON.stringify({ key, value });
    this.add(ctx, { jobId, attempt, at, kind: 'attribute', data }, (seq) =>
      this.events.emit('job:attribute', { id: jobId, seq, at, attempt, key, value }),
    );
  }

  /**
   * Drops this batch's messages of jobs erased in it (their messages go with them): they are
   * neither stored nor published; watchers learn of the erasure from `job:deleted`.
   */
  forget(ctx: BatchContext, jobIds: readonly number[]): void {
    const pending = ctx.scratch.get(PENDING) as Pending[] | undefined;
    if (pending === undefined || jobIds.length === 0) return;
    const gone = new Set(jobIds);
    ctx.scratch.set(
      PENDING,
      pending.filter((p) => !gone.has(p.message.jobId)),
    );
  }

  private add(ctx: BatchContext, message: NewJobMessage, publish: (seq: number) => void): void {
    let pending = ctx.scratch.get(PENDING) as Pending[] | undefined;
    if (pending === undefined) {
      pending = [];
      ctx.scratch.set(PENDING, pending);
    }
    pending.push({ message, publish });
  }

  private async flush(tx: StoreTx, ctx: BatchContext): Promise<void> {
    const pending = ctx.scratch.get(PENDING) as Pending[] | undefined;
    if (pending === undefined || pending.length === 0) return;
    ctx.scratch.delete(PENDING);
    const seqs = await tx.jobMessageAppend(pending.map((p) => p.message));
    ctx.afterCommit(() => {
      for (let i = 0; i < pending.length; i++) pending[i]!.publish(seqs[i]!);
    });
  }
}
