/**
 * What running attempts report while they run: output, progress and attributes (HTCondor's
 * chirp). Each report is written in the next group commit and published as an event once that
 * commit is durable; a report of an attempt that is no longer current is dropped by the store.
 *
 * Output is kept within the job's budget (src/domain/output.ts): its head and its tail. What
 * falls outside is dropped before it is written and is not published either: the live view of
 * a job's output is what is stored of it.
 */
import type { Logger } from 'pino';
import {
  outputFrom,
  planOutput,
  recordStored,
  type OutputLimits,
  type OutputState,
} from '../domain/output.js';
import {
  attemptKey,
  type AttributeUpdate,
  type NewLogEntry,
  type ProgressUpdate,
  type StoreTx,
} from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';
import type { EventBus } from './events.js';
import type { Journal } from './journal.js';

export interface ReportsDeps {
  committer: Committer;
  events: EventBus;
  journal: Journal;
  logger: Logger;
  limits: OutputLimits;
}

/** One frame's worth of reports from one worker. */
export interface ReportBatch {
  /** When they were received. */
  at: number;
  /** Reports set on the job but not kept as messages (an attempt past its budget of them). */
  unjournaled?: ReadonlySet<ProgressUpdate | AttributeUpdate>;
  logs: NewLogEntry[];
  progress: ProgressUpdate[];
  attributes: AttributeUpdate[];
}

/** How many jobs' output states are remembered; a forgotten one is read back from the store. */
const REMEMBERED_JOBS = 10_000;
const BATCH_STATES = Symbol('output states of this batch');

/** Deep enough a copy for planning: a plan changes the numbers and the tail list. */
const copy = (s: OutputState): OutputState => ({ ...s, tail: [...s.tail] });

export class Reports {
  /** Output states as of the last commit, most recently used last. */
  private readonly states = new Map<number, OutputState>();

  constructor(private readonly deps: ReportsDeps) {}

  write(batch: ReportBatch): void {
    const { logs, progress, attributes } = batch;
    if (logs.length === 0 && progress.length === 0 && attributes.length === 0) return;
    const { events, committer, journal, logger } = this.deps;
    committer
      .run(async (tx, ctx) => {
        const stored = logs.length > 0 ? await this.keep(tx, ctx, logs) : null;
        if (progress.length > 0) {
          // Kept as messages: reports of attempts still current (a job deleted or ended meanwhile
          // has no more), within the attempt's budget of them.
          const current = await tx.jobProgressSet(progress);
          for (const p of progress)
            if (current.has(attemptKey(p)) && !batch.unjournaled?.has(p))
              journal.progress(ctx, p.id, p.attempt, p.progress);
        }
        if (attributes.length > 0) {
          const current = await tx.jobAttributeSet(attributes);
          for (const a of attributes)
            if (current.has(attemptKey(a)) && !batch.unjournaled?.has(a))
              journal.attribute(ctx, a.id, a.attempt, batch.at, a.key, a.value);
        }
        if (stored !== null && stored.entries.length > 0 && events.wants('job:log')) {
          ctx.afterCommit(() => {
            stored.entries.forEach((l, i) =>
              events.emit('job:log', {
                id: l.jobId,
                seq: stored.seqs[i]!,
                at: l.at,
                attempt: l.attempt,
                stream: l.stream,
                data: l.data,
              }),
            );
          });
        }
      })
      .catch((err: unknown) => logger.error({ err }, 'writing job reports failed'));
  }

  /** Stores what the jobs' output budgets keep of `logs`; returns it. */
  private async keep(
    tx: StoreTx,
    ctx: BatchContext,
    logs: readonly NewLogEntry[],
  ): Promise<{ entries: NewLogEntry[]; seqs: number[] }> {
    const byJob = new Map<number, NewLogEntry[]>();
    for (const l of logs) {
      const list = byJob.get(l.jobId);
      if (list === undefined) byJob.set(l.jobId, [l]);
      else list.push(l);
    }
    // States change only once the batch commits: until then they live in the batch.
    let planned = ctx.scratch.get(BATCH_STATES) as Map<number, OutputState> | undefined;
    if (planned === undefined) {
      const batchStates = new Map<number, OutputState>();
      planned = batchStates;
      ctx.scratch.set(BATCH_STATES, batchStates);
      ctx.afterCommit(() => {
        for (const [jobId, state] of batchStates) this.remember(jobId, state);
      });
    }
    const stored: NewLogEntry[] = [];
    const storedSeqs: number[] = [];
    for (const [jobId, entries] of byJob) {
      let state = planned.get(jobId);
      if (state === undefined) {
        const known = this.states.get(jobId);
        state = known !== undefined ? copy(known) : await this.load(tx, jobId);
        planned.set(jobId, state);
      }
      const plan = planOutput(
        state,
        entries.map((entry) => ({ entry, data: entry.data })),
        this.deps.limits,
      );
      const kept = plan.store.map((p) =>
        p.data === p.entry.data ? p.entry : { ...p.entry, data: p.data },
      );
      const seqs = kept.length > 0 ? await tx.jobLogAppend(kept) : [];
      recordStored(state, plan, seqs);
      if (plan.dropped > 0 || plan.evict.length > 0) {
        await tx.jobLogDrop({
          jobId,
          seqs: plan.evict,
          dropped: plan.dropped,
          gapAfter: state.lastHeadSeq ?? 0,
        });
      }
      stored.push(...kept);
      storedSeqs.push(...seqs);
    }
    return { entries: stored, seqs: storedSeqs };
  }

  private async load(tx: StoreTx, jobId: number): Promise<OutputState> {
    const { pieces, dropped } = await tx.jobLogSizes(jobId);
    return outputFrom(pieces, dropped, this.deps.limits);
  }

  private remember(jobId: number, state: OutputState): void {
    this.states.delete(jobId);
    this.states.set(jobId, state);
    if (this.states.size > REMEMBERED_JOBS) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
  }
}
