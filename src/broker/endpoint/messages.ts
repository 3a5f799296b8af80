/**
 * Messages from a registered worker, after the handshake: heartbeats, accepting or not, reports
 * of running attempts, and results. A result is applied only for an attempt the worker holds,
 * and acknowledged only once it is committed; a result for anything else is refused (and
 * logged), never applied, except a repeat of one already acknowledged, which is acknowledged
 * again.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../domain/clock.js';
import type { Outcome } from '../../domain/transitions.js';
import type { Heartbeat, WorkerMessage } from '../../protocol/worker.js';
import type { Committer } from '../committer.js';
import type { Completion } from '../complete.js';
import type { Dispatcher } from '../dispatcher.js';
import type { Persister } from '../persist.js';
import type { ReportBatch, Reports } from '../reports.js';
import type { AttributeUpdate, ProgressUpdate } from '../../store/store.js';
import { MAX_JOURNALED_REPORTS, type HeldJob, type WorkerSession } from './session.js';

export interface WorkerMessagesDeps {
  /** Keeps the workers' usage series (src/broker/usage.ts). */
  usage?: { heartbeat(workerId: string, at: number, heartbeat: Heartbeat): void };
  committer: Committer;
  completion: Completion;
  dispatcher: Dispatcher;
  reports: Reports;
  persister: Persister;
  clock: Clock;
  logger: Logger;
}

interface Result {
  held: HeldJob;
  outcome: Outcome;
}

export class WorkerMessages {
  constructor(private readonly deps: WorkerMessagesDeps) {}

  handle(session: WorkerSession, messages: readonly WorkerMessage[]): void {
    const now = this.deps.clock.now();
    session.lastSeen = now;
    const results: Result[] = [];
    const reports: ReportBatch = { at: now, logs: [], progress: [], attributes: [] };
    const acks: Array<{ jobId: string; attempt: number }> = [];
    let unjournaled: Set<ProgressUpdate | AttributeUpdate> | undefined;

    for (const m of messages) {
      switch (m.type) {
        case 'heartbeat':
          if (m.cpu !== undefined) session.cpu = m.cpu;
          if (m.memory !== undefined) session.memory = m.memory;
          this.deps.usage?.heartbeat(session.id, now, m);
          break;
        case 'status':
          session.workerAccepting = m.accepting;
          if (m.accepting) this.deps.dispatcher.wake();
          break;
        case 'done':
        case 'fail': {
          const jobId = Number(m.jobId);
          const held = session.holds(jobId, m.attempt);
          if (held === undefined) {
            if (session.recentlyEnded(jobId, m.attempt)) {
              acks.push({ jobId: m.jobId, attempt: m.attempt });
            } else {
              this.deps.logger.warn(
                { worker: session.name, job: jobId, attempt: m.attempt },
                'refused a result for a job the worker does not hold',
              );
              session.send({
                type: 'refused',
                jobId: m.jobId,
                attempt: m.attempt,
                reason: `job ${m.jobId} attempt ${m.attempt} is not held by worker ${session.name}`,
              });
            }
            break;
          }
          const outcome: Outcome =
            m.type === 'done'
              ? { kind: 'done', result: m.result ?? null }
              : {
                  kind: 'fail',
                  error: m.error,
                  retryable: m.retryable,
                  infrastructure: m.infrastructure ?? false,
                  ...(m.result !== undefined ? { result: m.result } : {}),
                };
          results.push({ held, outcome });
          break;
        }
        case 'log':
          if (heard(session.holds(Number(m.jobId), m.attempt), now)) {
            reports.logs.push({
              jobId: Number(m.jobId),
              attempt: m.attempt,
              stream: m.stream,
              at: now,
              data: m.data,
            });
          }
          break;
        case 'progress': {
          const held = session.holds(Number(m.jobId), m.attempt);
          if (heard(held, now)) {
            const update: ProgressUpdate = {
              id: Number(m.jobId),
              attempt: m.attempt,
              progress: {
                percent: m.percent,
                message: m.message,
                at: now,
                ...(m.step !== undefined ? { step: m.step } : {}),
              },
            };
            reports.progress.push(update);
            if (!journaled(held!)) (unjournaled ??= new Set()).add(update);
          }
          break;
        }
        case 'attr': {
          const held = session.holds(Number(m.jobId), m.attempt);
          if (heard(held, now)) {
            const update: AttributeUpdate = {
              id: Number(m.jobId),
              attempt: m.attempt,
              key: m.key,
              value: m.value,
            };
            reports.attributes.push(update);
            if (!journaled(held!)) (unjournaled ??= new Set()).add(update);
          }
          break;
        }
        case 'hello':
          break;
      }
    }
    if (acks.length > 0) session.send({ type: 'ack', results: acks });
    if (unjournaled !== undefined) reports.unjournaled = unjournaled;
    this.deps.reports.write(reports);
    if (results.length > 0) this.endAttempts(session, results);
  }

  /**
   * Commits the ends of attempts a worker reported, then acknowledges them to it. Until they are
   * recorded its slots stay taken, so a store fault is waited out (tried again, see persist.ts).
   */
  private endAttempts(session: WorkerSession, results: readonly Result[]): void {
    this.deps.persister.run('recording results', { worker: session.name }, () =>
      this.writeEnds(session, results),
    );
  }

  /**
   * One try of endAttempts. When tried again, the ends already recorded meanwhile (the worker
   * sent them again after a reconnect) or no longer this session's (it was declared dead, its
   * jobs re-queued) are left out.
   */
  private async writeEnds(session: WorkerSession, reported: readonly Result[]): Promise<void> {
    const results = reported.filter((r) => session.held.get(r.held.job.id) === r.held);
    if (results.length === 0) return;
    const { committer, completion, dispatcher } = this.deps;
    await committer.run(async (tx, ctx) => {
      await completion.endAttempts(
        tx,
        ctx,
        results.map((r) => ({ job: r.held.job, outcome: r.outcome })),
      );
      // Their slots are free from this batch on: dispatch may fill them in the same commit.
      for (let i = 0; i < results.length; i++) dispatcher.release(ctx, session);
      ctx.afterCommit(() => {
        for (const r of results) {
          session.held.delete(r.held.job.id);
          session.ended(r.held.job.id, r.held.job.attempt);
        }
        session.send({
          type: 'ack',
          results: results.map((r) => ({
            jobId: String(r.held.job.id),
            attempt: r.held.job.attempt,
          })),
        });
      });
    });
  }
}

/** Whether one more report of the attempt is kept as a message (MAX_JOURNALED_REPORTS). */
function journaled(held: HeldJob): boolean {
  held.journaled = (held.journaled ?? 0) + 1;
  return held.journaled <= MAX_JOURNALED_REPORTS;
}

/** A report of a held attempt: it is alive (silenceTimeout); false for one no longer held. */
function heard(held: HeldJob | undefined, now: number): boolean {
  if (held === undefined) return false;
  held.heardAt = now;
  return true;
}
