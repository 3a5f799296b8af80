/**
 * Workers under an operator's hand: status (awake, asleep, drain; now or after the running
 * jobs), sleep schedule, the queues and types a worker serves, disconnect, and the blocklist.
 *
 * What is decided is stored per worker id (src/domain/worker-control.ts, the store's
 * worker_controls and worker_blocklist) and then applied by the node the worker is connected
 * to: for this node once the change has committed, for another node by a control command
 * (src/broker/control.ts) that tells it to read the worker's settings again. A worker that is not
 * connected anywhere gets them when it registers (`prepare`, before it takes part in dispatch).
 *
 * Applying means: the session's status (WorkerSession.accepting), its capabilities (the queues
 * it serves, its types within those it announced) and blocks (NeedsRegistry matching); the
 * dispatcher woken; the worker told (`status`, and `capabilities` for protocol 3); with `now`,
 * its running jobs taken back: ended as `requeue` in the store (back to the front of the queue,
 * not counted as a failure) and the worker told to stop them.
 */
import type { Logger } from 'pino';
import { blockKey, type Block } from '../domain/blocklist.js';
import type { Clock, Timer } from '../domain/clock.js';
import { invalid, notFound } from '../domain/errors.js';
import type { Capabilities } from '../domain/matching.js';
import { scheduleProblem, type SleepSchedule } from '../domain/sleep-schedule.js';
import {
  defaultControl,
  effectiveStatus,
  withSchedule,
  withStatus,
  type WorkerControl,
  type WorkerStatus,
} from '../domain/worker-control.js';
import type { Store, StoreTx } from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';
import type { Completion } from './complete.js';
import type { Control } from './control.js';
import type { Dispatcher } from './dispatcher.js';
import type { WorkerSession } from './endpoint/session.js';
import type { Sessions } from './endpoint/sessions.js';
import type { EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';

/** How often a node looks whether a sleep schedule changed the status of one of its workers. */
export const SCHEDULE_CHECK_MS = 10_000;

export interface WorkerControlsDeps {
  store: Store;
  committer: Committer;
  control: Control;
  sessions: Sessions;
  needs: NeedsRegistry;
  dispatcher: Dispatcher;
  completion: Completion;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  nodeId: string;
}

/** The queues and types a worker serves: a list replaces, null goes back to what it announced. */
export interface ServedChange {
  queues?: string[] | null;
  types?: string[] | null;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** What a worker serves under `control`: its queues, and its types within those announced. */
export function servedCapabilities(announced: Capabilities, control: WorkerControl): Capabilities {
  const types =
    control.types === null
      ? announced.types
      : control.types.filter((t) => announced.types.includes(t));
  return {
    labels: announced.labels,
    queues: control.queues ?? announced.queues,
    types,
  };
}

export class WorkerControls {
  private timer: Timer | null = null;

  constructor(private readonly deps: WorkerControlsDeps) {}

  /** Starts following the sleep schedules of this node's workers. */
  start(): void {
    this.timer ??= this.deps.clock.setInterval(() => this.followSchedules(), SCHEDULE_CHECK_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  // ---- decisions (any node) ----

  /** The stored control of a worker that exists (connected here, or known to the store). */
  async get(workerId: string): Promise<WorkerControl> {
    await this.mustExist(workerId);
    return (await this.deps.store.workerControlGet(workerId)) ?? defaultControl();
  }

  async setStatus(
    workerId: string,
    status: WorkerStatus,
    when: 'now' | 'after',
  ): Promise<WorkerControl> {
    const now = this.deps.clock.now();
    const control = withStatus(await this.get(workerId), status, now);
    await this.change(workerId, control, status !== 'awake' && when === 'now', () =>
      this.deps.events.emit('worker:status', { id: workerId, status, when, by: 'operator' }),
    );
    return control;
  }

  async setSchedule(workerId: string, schedule: SleepSchedule | null): Promise<WorkerControl> {
    if (schedule !== null) {
      const problem = scheduleProblem(schedule);
      if (problem !== null) throw invalid(problem);
    }
    const now = this.deps.clock.now();
    const control = withSchedule(await this.get(workerId), schedule, now);
    await this.change(workerId, control, false, () =>
      this.deps.events.emit('worker:schedule', { id: workerId, schedule }),
    );
    return control;
  }

  /**
   * Sets the queues and types a worker serves. Types must be among those it announced (the
   * worker has no handler for any other): an unknown one is refused, naming it.
   */
  async setServed(workerId: string, change: ServedChange): Promise<WorkerControl> {
    const before = await this.get(workerId);
    const record = await this.deps.store.workerGet(workerId);
    const announced = this.deps.sessions.get(workerId)?.announced.types ?? record?.types ?? [];
    if (change.types) {
      const unknown = change.types.find((t) => !announced.includes(t));
      if (unknown !== undefined) {
        throw invalid(
          `types: worker ${workerId} has no handler for "${unknown}" (it runs ${announced.join(', ')})`,
          { type: unknown, announced },
        );
      }
    }
    const control: WorkerControl = {
      ...before,
      ...(change.queues === undefined ? {} : { queues: dedupe(change.queues) }),
      ...(change.types === undefined ? {} : { types: dedupe(change.types) }),
    };
    await this.change(workerId, control, false, () => {
      const served = servedCapabilities(
        this.deps.sessions.get(workerId)?.announced ?? {
          labels: {},
          types: announced,
          queues: record?.queues ?? [],
        },
        control,
      );
      this.deps.events.emit('worker:queues', {
        id: workerId,
        queues: [...served.queues],
        types: [...served.types],
      });
    });
    return control;
  }

  /** Closes a worker's connection: its jobs go the lost worker's way (it may register again). */
  async disconnect(workerId: string): Promise<void> {
    await this.mustExist(workerId);
    const nodeId = await this.nodeOf(workerId);
    if (nodeId === null) throw notFound('connected worker', workerId);
    await this.deps.committer.run(async (tx, ctx) => {
      await this.deps.control.send(tx, ctx, nodeId, { kind: 'disconnect', workerId });
      ctx.afterCommit(() =>
        this.deps.events.emit('worker:disconnected', { id: workerId, by: 'operator' }),
      );
    });
  }

  /** Clears a worker's blocks for a type (in one queue, or all); returns those cleared. */
  async unblock(workerId: string, type: string, queue?: string): Promise<Block[]> {
    await this.mustExist(workerId);
    const nodeId = await this.nodeOf(workerId);
    const cleared = await this.deps.committer.run(async (tx, ctx) => {
      const cleared = await tx.blocklistClear({
        workerId,
        type,
        ...(queue === undefined ? {} : { queue }),
      });
      await this.tell(tx, ctx, nodeId, workerId, false);
      ctx.afterCommit(() => {
        for (const b of cleared)
          this.deps.events.emit('worker:unblocked', { id: workerId, queue: b.queue, type: b.type });
      });
      return cleared;
    });
    if (nodeId === this.deps.nodeId) await this.refresh(workerId, false);
    return cleared;
  }

  // ---- applying (the worker's node) ----

  /** Reads a worker's settings again and applies them (a control command, or a change here). */
  async refresh(workerId: string, stop: boolean): Promise<void> {
    const session = this.deps.sessions.get(workerId);
    if (session === undefined) return;
    const [control, blocks] = await Promise.all([
      this.deps.store.workerControlGet(workerId),
      this.deps.store.blocklistList({ workerId }),
    ]);
    // It may have gone, or come back as a new session, meanwhile.
    if (this.deps.sessions.get(workerId) !== session) return;
    this.apply(session, control ?? defaultControl(), blocks, { tell: true, stop });
  }

  /** Disconnects a worker of this node (a control command). */
  kick(workerId: string): void {
    const session = this.deps.sessions.get(workerId);
    if (session !== undefined) this.deps.sessions.kill(session, 'disconnected by an operator');
  }

  /** At registration: the stored settings, before the worker takes part in dispatch. */
  async prepare(session: WorkerSession): Promise<void> {
    const [control, blocks] = await Promise.all([
      this.deps.store.workerControlGet(session.id),
      this.deps.store.blocklistList({ workerId: session.id }),
    ]);
    this.apply(session, control ?? defaultControl(), blocks, { tell: false, stop: false });
  }

  /** After its welcome: the worker learns the status and capabilities it has here. */
  welcomed(session: WorkerSession): void {
    if (session.status !== 'awake' || !session.workerAccepting) {
      session.send({ type: 'status', status: session.status });
    }
    const c = session.control;
    if (c.queues !== null || c.types !== null) this.tellCapabilities(session);
  }

  /** A worker just blocklisted (in the commit of the failure that did it). */
  blocked(ctx: BatchContext, block: Block): void {
    ctx.afterCommit(() => {
      const session = this.deps.sessions.get(block.workerId);
      if (session !== undefined) {
        session.blocks = [...session.blocks, block];
        session.blocked = new Set([...session.blocked, blockKey(block.queue, block.type)]);
        this.rematched(session);
      }
      this.deps.logger.warn(
        { worker: block.workerId, queue: block.queue, type: block.type, failures: block.failures },
        'worker blocklisted for a job type',
      );
      this.deps.events.emit('worker:blocklisted', {
        id: block.workerId,
        queue: block.queue,
        type: block.type,
        failures: block.failures,
      });
    });
  }

  private apply(
    session: WorkerSession,
    control: WorkerControl,
    blocks: readonly Block[],
    how: { tell: boolean; stop: boolean },
  ): void {
    const { needs, dispatcher, clock } = this.deps;
    session.control = control;
    const status = effectiveStatus(control, clock.now());
    const statusChanged = session.status !== status;
    session.status = status;
    const served = servedCapabilities(session.announced, control);
    const servedChanged =
      !sameList(served.queues, session.capabilities.queues) ||
      !sameList(served.types, session.capabilities.types);
    session.capabilities = served;
    const blocksChanged = !sameList(
      blocks.map((b) => blockKey(b.queue, b.type)),
      [...session.blocked],
    );
    session.blocks = blocks;
    session.blocked = new Set(blocks.map((b) => blockKey(b.queue, b.type)));
    if (how.tell && (servedChanged || blocksChanged || statusChanged)) this.rematched(session);
    else needs.rematch(session);
    if (how.stop && status !== 'awake') this.takeBack(session);
    if (how.tell) {
      if (statusChanged || status === 'drain') session.send({ type: 'status', status });
      if (servedChanged) this.tellCapabilities(session);
    }
    dispatcher.wake();
  }

  /**
   * What a session matches changed (its queues, types, blocks or status): its matching is
   * computed again and, for queue_manager multi, the jobs waiting in its own queue are handed
   * out again by what every worker matches now (those it no longer takes go to the others).
   */
  private rematched(session: WorkerSession): void {
    this.deps.needs.rematch(session);
    if (this.deps.sessions.get(session.id) !== session) return;
    this.deps.dispatcher.remove(session);
    this.deps.dispatcher.add(session);
  }

  private tellCapabilities(session: WorkerSession): void {
    // A worker of protocol 2 knows no such message; dispatch follows the change all the same.
    if (session.protocol < 3) return;
    const { queues, types } = session.capabilities;
    session.send({ type: 'capabilities', queues: [...queues], types: [...types] });
  }

  /** Ends the worker's running attempts as taken back and tells it to stop them. */
  private takeBack(session: WorkerSession): void {
    const held = [...session.held.values()].filter((h) => !h.stopping);
    if (held.length === 0) return;
    const error = {
      code: 'requeued',
      message: `worker ${session.name} was put to ${session.status === 'drain' ? 'drain' : 'sleep'} now; the job runs again`,
    };
    for (const h of held) h.stopping = true;
    this.deps.committer
      .run(async (tx, ctx) => {
        const applied = await this.deps.completion.endAttempts(
          tx,
          ctx,
          held.map((h) => ({ job: h.job, outcome: { kind: 'requeue', error } })),
        );
        ctx.afterCommit(() => {
          held.forEach((h, i) => {
            if (applied[i]) this.deps.sessions.stopTaken(session, h);
          });
        });
      })
      .catch((err: unknown) => {
        for (const h of held) h.stopping = false;
        this.deps.logger.error({ err, worker: session.name }, 'taking back running jobs failed');
      });
  }

  /** The sleep schedules of this node's workers: a status that changed by the clock is applied. */
  private followSchedules(): void {
    const now = this.deps.clock.now();
    for (const session of this.deps.sessions.list()) {
      const control = session.control;
      if (control.schedule === null || !control.schedule.active) continue;
      const status = effectiveStatus(control, now);
      if (status === session.status) continue;
      session.status = status;
      if (session.connected) session.send({ type: 'status', status });
      this.rematched(session);
      this.deps.logger.info({ worker: session.name, status }, 'sleep schedule changed the status');
      this.deps.events.emit('worker:status', {
        id: session.id,
        status,
        when: 'after',
        by: 'schedule',
      });
    }
  }

  /** Stores a worker's new control and has its node apply it. */
  private async change(
    workerId: string,
    control: WorkerControl,
    stop: boolean,
    announce: () => void,
  ): Promise<void> {
    const nodeId = await this.nodeOf(workerId);
    await this.deps.committer.run(async (tx: StoreTx, ctx) => {
      await tx.workerControlSet(workerId, control, this.deps.clock.now());
      await this.tell(tx, ctx, nodeId, workerId, stop);
      ctx.afterCommit(announce);
    });
    // Applied here before the answer, so that the answer shows it.
    if (nodeId === this.deps.nodeId) await this.refresh(workerId, stop);
  }

  /** Has the worker's node apply its settings: another node by a command; this one, the caller. */
  private async tell(
    tx: StoreTx,
    ctx: BatchContext,
    nodeId: string | null,
    workerId: string,
    stop: boolean,
  ): Promise<void> {
    if (nodeId === null || nodeId === this.deps.nodeId) return;
    await this.deps.control.send(tx, ctx, nodeId, { kind: 'worker', workerId, stop });
  }

  /** The node the worker is connected to, or null when it is connected nowhere. */
  private async nodeOf(workerId: string): Promise<string | null> {
    if (this.deps.sessions.get(workerId) !== undefined) return this.deps.nodeId;
    const record = await this.deps.store.workerGet(workerId);
    return record?.online ? record.nodeId : null;
  }

  private async mustExist(workerId: string): Promise<void> {
    if (this.deps.sessions.get(workerId) !== undefined) return;
    if ((await this.deps.store.workerGet(workerId)) === undefined)
      throw notFound('worker', workerId);
  }
}

const dedupe = (list: readonly string[] | null): string[] | null =>
  list === null ? null : [...new Set(list)];
