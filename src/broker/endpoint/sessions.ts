/**
 * The workers registered with this node: their sessions by id, what is sent to them (jobs,
 * stops), and their liveness. A worker silent for the liveness window is dead: its session is
 * forgotten and its jobs end as lost (back to the front of the queue, or failed at
 * max_request_failures) through the completion module.
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../../domain/clock.js';
import type { JobError } from '../../domain/job.js';
import { livenessWindow, type LivenessSettings } from '../../domain/liveness.js';
import { canRun, type Needs } from '../../domain/matching.js';
import type { AssignedJob } from '../../protocol/worker.js';
import type { RunningJob } from '../../store/store.js';
import type { Committer } from '../committer.js';
import type { Completion } from '../complete.js';
import type { Dispatcher } from '../dispatcher.js';
import type { EventBus } from '../events.js';
import type { Metrics } from '../metrics.js';
import type { NeedsRegistry } from '../needs.js';
import type { Notifier } from '../notifier.js';
import type { Persister } from '../persist.js';
import type { HeldJob, WorkerSession } from './session.js';

/** WebSocket close codes used towards workers. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocol: 1002,
  policy: 1008,
  replaced: 4000,
} as const;

export interface SessionsDeps {
  committer: Committer;
  completion: Completion;
  dispatcher: Dispatcher;
  needs: NeedsRegistry;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  settings: LivenessSettings;
  persister: Persister;
  notifier: Notifier;
  metrics?: Metrics | null;
}

/** A job as a worker receives it: no `meta.*` requirements, no history. */
export function toAssigned(job: RunningJob): AssignedJob {
  return {
    id: String(job.id),
    attempt: job.attempt,
    type: job.type,
    queue: job.queue,
    payload: job.payload,
    requires: Object.fromEntries(
      Object.entries(job.requires).filter(([k]) => !k.startsWith('meta.')),
    ),
    priority: job.priority,
    timeoutMs: job.timeoutMs,
    killSignal: job.killSignal,
    killGraceMs: job.killGraceMs,
  };
}

export class Sessions {
  private readonly byId = new Map<string, WorkerSession>();
  /** Sessions with queued output, sent at the end of each commit. */
  private readonly unsent = new Set<WorkerSession>();
  private sweepTimer: Timer | null = null;

  constructor(private readonly deps: SessionsDeps) {
    deps.committer.onCommitted(() => this.flushUnsent());
  }

  /** Starts watching liveness. */
  start(): void {
    if (this.sweepTimer !== null) return;
    const interval = Math.max(10, Math.min(this.deps.settings.pingIntervalMs, 1000));
    this.sweepTimer = this.deps.clock.setInterval(() => this.sweep(), interval);
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    this.deps.persister.close();
  }

  get(id: string): WorkerSession | undefined {
    return this.byId.get(id);
  }

  list(): WorkerSession[] {
    return [...this.byId.values()];
  }

  /** This node's workers by state and their slots, busy or free (the metrics' gauges). */
  counts(): { workers: Record<string, number>; busySlots: number; freeSlots: number } {
    const workers: Record<string, number> = {};
    let busySlots = 0;
    let freeSlots = 0;
    for (const s of this.byId.values()) {
      const state = s.state();
      workers[state] = (workers[state] ?? 0) + 1;
      busySlots += Math.min(s.slots, s.held.size);
      freeSlots += s.freeSlots;
    }
    return { workers, busySlots, freeSlots };
  }

  /** A newly registered (or re-registered) worker starts taking part in dispatch. */
  add(session: WorkerSession): void {
    session.onSend = (s) => this.unsent.add(s);
    this.byId.set(session.id, session);
    this.deps.needs.attach(session);
    this.deps.dispatcher.add(session);
  }

  /** How many connected workers match, and how many of those have a free slot. */
  workersFor(needs: Needs): { matching: number; free: number } {
    let matching = 0;
    let free = 0;
    for (const s of this.byId.values()) {
      if (!canRun(s.capabilities, needs)) continue;
      matching++;
      if (s.available) free++;
    }
    return { matching, free };
  }

  /** Gives claimed jobs to their worker (after the claim is committed). */
  deliver(session: WorkerSession, jobs: readonly RunningJob[]): void {
    const metrics = this.deps.metrics;
    for (const job of jobs) {
      session.held.set(job.id, { job, stopping: false, heardAt: this.deps.clock.now() });
      session.send({ type: 'assign', job: toAssigned(job) });
      metrics?.jobDispatched(job.queue, job.runAt, job.startedAt);
    }
  }

  /**
   * Tells the worker of this node that runs an attempt to stop it. Returns whether one does;
   * the slot stays taken until the worker says the attempt ended.
   */
  stopJob(jobId: number, attempt: number, reason: 'canceled' | 'held' | 'timeout'): boolean {
    for (const s of this.byId.values()) {
      const held = s.holds(jobId, attempt);
      if (held === undefined) continue;
      held.stopping = true;
      s.send({
        type: 'cancel',
        jobId: String(jobId),
        attempt,
        signal: held.job.killSignal,
        graceMs: held.job.killGraceMs,
        reason,
      });
      return true;
    }
    return false;
  }

  /**
   * Tells a worker to stop an attempt the broker took back (already re-queued in the store); the
   * slot stays taken until it says the attempt ended. A worker of protocol 2 hears `held`.
   */
  stopTaken(session: WorkerSession, held: HeldJob): void {
    held.stopping = true;
    session.send({
      type: 'cancel',
      jobId: String(held.job.id),
      attempt: held.job.attempt,
      signal: held.job.killSignal,
      graceMs: held.job.killGraceMs,
      reason: session.protocol >= 3 ? 'requeued' : 'held',
    });
  }

  /** A dead worker: forgotten, and its jobs go back to the queue (or fail at max_request_failures). */
  kill(session: WorkerSession, reason: string): void {
    if (this.byId.get(session.id) !== session) return;
    this.byId.delete(session.id);
    this.deps.dispatcher.remove(session);
    this.deps.needs.detach(session);
    if (session.socket) {
      session.socket.close(CLOSE.policy, 'declared dead');
      session.socket = null;
    }
    const { logger, events, clock, nodeId, completion } = this.deps;
    const held = [...session.held.values()];
    if (held.length > 0)
      logger.warn(
        { worker: session.name, id: session.id, jobs: held.length },
        `worker dead: ${reason}`,
      );
    else logger.info({ worker: session.name, id: session.id }, `worker gone: ${reason}`);
    const error: JobError = { code: 'worker_lost', message: `worker ${session.name} ${reason}` };
    const now = clock.now();
    // Its jobs must go back to the queue even across a store fault (else they stay running).
    this.deps.persister.run('recording a dead worker', { worker: session.name }, () =>
      this.deps.committer.run(async (tx, ctx) => {
        await completion.endAttempts(
          tx,
          ctx,
          held.map((h) => ({ job: h.job, outcome: { kind: 'lost', error } })),
        );
        await tx.workerSetOffline(session.id, nodeId, now);
        // ReCodEx reports a worker lost while it holds jobs as a backend error.
        if (held.length > 0)
          await this.deps.notifier.backendError(
            tx,
            ctx,
            `worker ${session.name} was lost while running ${held.length} job(s): ${reason}`,
            {
              workerId: session.id,
              workerName: session.name,
              jobs: held.map((h) => String(h.job.id)),
            },
          );
        ctx.afterCommit(() => {
          session.held.clear();
          events.emit('worker:down', { id: session.id, name: session.name, reason });
        });
      }),
    );
  }

  /** Every worker whose liveness window has passed is dead. */
  private sweep(): void {
    const now = this.deps.clock.now();
    const window = livenessWindow(this.deps.settings);
    for (const s of this.byId.values()) {
      if (now - s.lastSeen > window)
        this.kill(s, `sent nothing for ${now - s.lastSeen} ms (liveness ${window} ms)`);
    }
  }

  private flushUnsent(): void {
    for (const session of this.unsent) session.flush();
    this.unsent.clear();
  }
}
