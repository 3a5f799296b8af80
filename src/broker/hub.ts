/**
 * The workers' endpoint: a WebSocket server speaking the worker protocol. It registers workers,
 * keeps their liveness, hands their results to the store (acknowledged after commit), and
 * declares dead the workers that stopped talking — whose jobs go back to the queue.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock } from '../domain/clock.js';
import type { JobError, Labels } from '../domain/job.js';
import { livenessWindow, type LivenessSettings } from '../domain/liveness.js';
import { canRun, type Needs } from '../domain/matching.js';
import type { RetryPolicy } from '../domain/retry.js';
import {
  PROTOCOL_VERSION,
  decodeWorkerFrame,
  encodeFrame,
  type AssignedJob,
  type Hello,
  type WorkerMessage,
} from '../protocol/worker.js';
import type {
  AttemptEnd,
  AttributeUpdate,
  NewLogEntry,
  ProgressUpdate,
  RunningJob,
  Store,
} from '../store/store.js';
import { isStoreUnavailable } from '../store/faults.js';
import { tokenIn } from './auth.js';
import type { Committer } from './committer.js';
import type { Dispatcher } from './dispatcher.js';
import type { EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';
import { planEnd, type Outcome } from './outcomes.js';
import { Persister } from './persist.js';
import type { Scheduler } from './scheduler.js';
import { WorkerSession, type HeldJob } from './session.js';

export interface HubSettings extends LivenessSettings {
  maxRequestFailures: number;
  retry: RetryPolicy;
  /** When non-empty, a worker must present one of these in `hello`. */
  workerTokens: readonly string[];
  /** A connection that sends no `hello` within this time is closed. */
  helloTimeoutMs: number;
  /** Largest frame a worker may send, in bytes. */
  maxFrameBytes: number;
}

export interface HubDeps {
  store: Store;
  committer: Committer;
  dispatcher: Dispatcher;
  needs: NeedsRegistry;
  scheduler: Scheduler;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  settings: HubSettings;
}

interface Connection {
  socket: WebSocket;
  address: string | null;
  session: WorkerSession | null;
  helloTimer: NodeJS.Timeout | null;
}

/** WebSocket close codes used towards workers. */
const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocol: 1002,
  policy: 1008,
  replaced: 4000,
} as const;

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}

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

function sameCapabilities(s: WorkerSession, hello: Hello, labels: Labels): boolean {
  const norm = (x: unknown) => JSON.stringify(x);
  const sortLabels = (l: Labels) =>
    Object.keys(l)
      .sort()
      .map((k) => [k, [...(l[k] ?? [])].sort()]);
  return (
    norm(sortLabels(s.capabilities.labels)) === norm(sortLabels(labels)) &&
    norm([...s.capabilities.types].sort()) === norm([...hello.types].sort()) &&
    norm([...s.capabilities.queues].sort()) === norm([...hello.queues].sort()) &&
    s.slots === hello.slots
  );
}

export class WorkerHub {
  private wss: WebSocketServer | null = null;
  private readonly sessions = new Map<string, WorkerSession>();
  private readonly byName = new Map<string, WorkerSession>();
  private readonly connections = new Set<Connection>();
  private sweepTimer: NodeJS.Timeout | null = null;

  /** Sessions with queued output, sent at the end of each commit. */
  private readonly unsent = new Set<WorkerSession>();
  /** Results and dead workers' jobs are recorded even across a store fault. */
  private readonly persister: Persister;

  constructor(private readonly deps: HubDeps) {
    this.persister = new Persister(deps.logger);
    deps.committer.onCommitted(() => this.flushUnsent());
  }

  private flushUnsent(): void {
    for (const session of this.unsent) session.flush();
    this.unsent.clear();
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    const wss = new WebSocketServer({
      host,
      port,
      perMessageDeflate: false,
      maxPayload: this.deps.settings.maxFrameBytes,
      clientTracking: false,
    });
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    wss.on('error', (err) => this.deps.logger.error({ err }, 'workers endpoint error'));
    wss.on('connection', (socket, req) => this.onConnection(socket, req));
    const interval = Math.max(10, Math.min(this.deps.settings.pingIntervalMs, 1000));
    this.sweepTimer = setInterval(() => this.sweep(), interval);
    this.sweepTimer.unref();
    return wss.address() as AddressInfo;
  }

  /** Closes every worker connection without touching their jobs: they keep running and come back. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.persister.close();
    for (const conn of this.connections) {
      if (conn.helloTimer) clearTimeout(conn.helloTimer);
      conn.socket.close(CLOSE.goingAway, 'broker shutting down');
    }
    const wss = this.wss;
    this.wss = null;
    if (wss) {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // Sockets still closing after the handshake timeout are cut.
      for (const conn of this.connections) conn.socket.terminate();
    }
  }

  list(): WorkerSession[] {
    return [...this.sessions.values()];
  }

  /** How many connected workers match, and how many of those have a free slot. */
  workersFor(needs: Needs): { matching: number; free: number } {
    let matching = 0;
    let free = 0;
    for (const s of this.sessions.values()) {
      if (!canRun(s.capabilities, needs)) continue;
      matching++;
      if (s.available) free++;
    }
    return { matching, free };
  }

  /** Gives claimed jobs to their worker (after the claim is committed). */
  deliver(session: WorkerSession, jobs: readonly RunningJob[]): void {
    const announce = this.deps.events.wants('job:state');
    for (const job of jobs) {
      session.held.set(job.id, { job, stopping: false });
      session.send({ type: 'assign', job: toAssigned(job) });
      if (announce)
        this.deps.events.emit('job:state', {
          id: job.id,
          from: 'queued',
          to: 'running',
          attempt: job.attempt,
          workerId: session.id,
          error: null,
        });
    }
  }

  /** Tells the worker holding a job to stop it. Returns whether a worker of this node holds it. */
  stop(jobId: number, reason: 'canceled' | 'held'): boolean {
    for (const s of this.sessions.values()) {
      const held = s.held.get(jobId);
      if (!held) continue;
      held.stopping = true;
      s.send({
        type: 'cancel',
        jobId: String(jobId),
        attempt: held.job.attempt,
        signal: held.job.killSignal,
        graceMs: held.job.killGraceMs,
        reason,
      });
      return true;
    }
    return false;
  }

  // ---- connections ----

  private onConnection(socket: WebSocket, req: IncomingMessage): void {
    const conn: Connection = {
      socket,
      address: req.socket.remoteAddress ?? null,
      session: null,
      helloTimer: null,
    };
    this.connections.add(conn);
    conn.helloTimer = setTimeout(() => {
      this.refuse(conn, 'hello_timeout', `no hello within ${this.deps.settings.helloTimeoutMs} ms`);
    }, this.deps.settings.helloTimeoutMs);
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.refuse(conn, 'invalid_frame', 'frames must be text (JSON)');
        return;
      }
      this.onFrame(conn, data.toString());
    });
    socket.on('close', () => this.onClose(conn));
    socket.on('error', (err) =>
      this.deps.logger.debug({ err, address: conn.address }, 'worker socket error'),
    );
  }

  private refuse(conn: Connection, code: string, message: string): void {
    this.deps.logger.warn({ address: conn.address, code }, `worker refused: ${message}`);
    if (conn.socket.readyState === conn.socket.OPEN) {
      conn.socket.send(encodeFrame([{ type: 'error', code, message, fatal: true }]));
      conn.socket.close(CLOSE.policy, code);
    }
  }

  private onFrame(conn: Connection, raw: string): void {
    const decoded = decodeWorkerFrame(raw);
    if (!decoded.ok) {
      this.refuse(conn, 'invalid_message', decoded.error);
      return;
    }
    const rest: WorkerMessage[] = [];
    for (const message of decoded.messages) {
      if (message.type === 'hello') {
        void this.onHello(conn, message);
      } else if (conn.session === null) {
        this.refuse(conn, 'hello_required', `"${message.type}" before "hello"`);
        return;
      } else {
        rest.push(message);
      }
    }
    if (conn.session && rest.length > 0) this.onMessages(conn.session, rest);
    else if (conn.session) conn.session.lastSeen = this.deps.clock.now();
  }

  private onClose(conn: Connection): void {
    this.connections.delete(conn);
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    const session = conn.session;
    if (!session || session.socket !== conn.socket) return;
    session.socket = null;
    this.deps.logger.info({ worker: session.name, id: session.id }, 'worker disconnected');
    // A worker that went away holding nothing is gone; one holding jobs may come back for them.
    if (session.held.size === 0) this.kill(session, 'disconnected');
  }

  // ---- registration ----

  private async onHello(conn: Connection, hello: Hello): Promise<void> {
    const { settings, logger, clock } = this.deps;
    if (settings.workerTokens.length > 0 && !tokenIn(hello.token, settings.workerTokens)) {
      this.refuse(conn, 'unauthorized', 'a valid worker token is required in hello');
      return;
    }
    if (hello.version !== PROTOCOL_VERSION) {
      this.refuse(
        conn,
        'unsupported_version',
        `protocol version ${hello.version} is not supported (this broker speaks ${PROTOCOL_VERSION})`,
      );
      return;
    }
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    const now = clock.now();
    const labels: Labels = hello.labels;
    const capabilities = { labels, types: hello.types, queues: hello.queues };

    let session =
      conn.session ??
      (hello.workerId !== undefined ? this.sessions.get(hello.workerId) : undefined) ??
      this.byName.get(hello.name);
    let fresh = false;
    if (session === undefined) {
      session = new WorkerSession(newId('w'), hello.name, capabilities, hello.slots, now);
      session.onSend = (s) => this.unsent.add(s);
      fresh = true;
    } else {
      if (session.socket !== null && session.socket !== conn.socket) {
        const old = [...this.connections].find((c) => c.socket === session!.socket);
        if (old) old.session = null;
        session.socket.close(CLOSE.replaced, 'replaced by a new connection');
        session.socket = null;
      }
      if (!sameCapabilities(session, hello, labels)) {
        const message = `worker ${hello.name} registered again with different capabilities; its registration is replaced`;
        logger.error({ worker: hello.name, id: session.id }, message);
        this.deps.events.emit('backend:error', { message, details: { workerId: session.id } });
        if (session.name !== hello.name) this.byName.delete(session.name);
        session.name = hello.name;
        session.capabilities = capabilities;
        session.slots = hello.slots;
        this.deps.needs.rematch(session);
      }
    }
    conn.session = session;
    session.prefetch = hello.prefetch ?? 0;
    session.address = conn.address;
    session.lastSeen = now;
    session.accepting = hello.accepting ?? true;

    // Reconcile what the worker says it runs with what the broker thinks it holds.
    const listed = new Map((hello.running ?? []).map((r) => [Number(r.jobId), r.attempt]));
    const lost: HeldJob[] = [];
    for (const [jobId, held] of session.held) {
      if (listed.get(jobId) !== held.job.attempt) lost.push(held);
    }
    const toAdopt = [...listed].filter(([jobId, attempt]) => !session!.holds(jobId, attempt));
    const s = session;
    const lostError: JobError = {
      code: 'worker_lost',
      message: `worker ${s.name} came back without the job`,
    };
    const ends = lost.map((h) =>
      planEnd(h.job, { kind: 'lost', error: lostError }, this.endPolicy()),
    );

    try {
      const { adopted, abandoned } = await this.deps.committer.run(async (tx, ctx) => {
        const adopted: RunningJob[] = [];
        const abandoned: number[] = [];
        for (const [jobId, attempt] of toAdopt) {
          const job = await tx.jobAdopt({
            id: jobId,
            attempt,
            workerId: s.id,
            workerName: s.name,
            nodeId: this.deps.nodeId,
            now,
          });
          if (job) adopted.push(job);
          else abandoned.push(jobId);
        }
        const applied = ends.length > 0 ? await tx.jobEndAttempts(ends) : [];
        this.requeueInBatch(
          lost.map((h) => h.job),
          ends,
          applied,
        );
        await tx.workerUpsert({
          id: s.id,
          name: s.name,
          nodeId: this.deps.nodeId,
          labels: s.capabilities.labels,
          types: [...s.capabilities.types],
          queues: [...s.capabilities.queues],
          slots: s.slots,
          address: s.address,
          connectedAt: s.connectedAt,
          lastSeenAt: now,
          online: true,
        });
        ctx.afterCommit(() => {
          for (const h of lost) s.held.delete(h.job.id);
          for (const job of adopted) s.held.set(job.id, { job, stopping: false });
          this.afterEnds(ends, applied, null);
        });
        return { adopted, abandoned };
      });
      if (conn.socket.readyState !== conn.socket.OPEN) return;
      s.socket = conn.socket;
      if (fresh) {
        this.sessions.set(s.id, s);
        this.byName.set(s.name, s);
        this.deps.needs.attach(s);
        this.deps.dispatcher.add(s);
      } else {
        this.byName.set(s.name, s);
        this.deps.dispatcher.wake();
      }
      const keptIds = [...listed.keys()].filter((id) => s.held.has(id)).map(String);
      s.send({
        type: 'welcome',
        workerId: s.id,
        pingIntervalMs: settings.pingIntervalMs,
        maxLiveness: settings.maxLiveness,
        adopted: keptIds,
        abandoned: abandoned.map(String),
      });
      logger.info(
        { worker: s.name, id: s.id, slots: s.slots, adopted: adopted.length, address: s.address },
        fresh ? 'worker registered' : 'worker reconnected',
      );
      if (fresh) this.deps.events.emit('worker:up', { id: s.id, name: s.name });
    } catch (err) {
      logger.error({ err, worker: hello.name }, 'registering a worker failed');
      // The worker tries again by itself; a store fault tells it that trying again is the cure.
      if (isStoreUnavailable(err)) this.refuse(conn, 'store_unavailable', err.message);
      else this.refuse(conn, 'internal', 'registration failed; try again');
    }
  }

  // ---- messages from registered workers ----

  private onMessages(session: WorkerSession, messages: WorkerMessage[]): void {
    const now = this.deps.clock.now();
    session.lastSeen = now;
    const endings: Array<{ held: HeldJob; outcome: Outcome }> = [];
    const logs: NewLogEntry[] = [];
    const progress: ProgressUpdate[] = [];
    const attributes: AttributeUpdate[] = [];
    const acks: Array<{ jobId: string; attempt: number }> = [];

    for (const m of messages) {
      switch (m.type) {
        case 'heartbeat':
          if (m.cpu !== undefined) session.cpu = m.cpu;
          if (m.memory !== undefined) session.memory = m.memory;
          break;
        case 'status':
          session.accepting = m.accepting;
          if (m.accepting) this.deps.dispatcher.wake();
          break;
        case 'done':
        case 'fail': {
          const jobId = Number(m.jobId);
          const held = session.holds(jobId, m.attempt);
          if (!held) {
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
          endings.push({ held, outcome });
          break;
        }
        case 'log':
          if (session.holds(Number(m.jobId), m.attempt)) {
            logs.push({
              jobId: Number(m.jobId),
              attempt: m.attempt,
              stream: m.stream,
              at: now,
              data: m.data,
            });
          }
          break;
        case 'progress':
          if (session.holds(Number(m.jobId), m.attempt)) {
            progress.push({
              id: Number(m.jobId),
              attempt: m.attempt,
              progress: { percent: m.percent, message: m.message, at: now },
            });
          }
          break;
        case 'attr':
          if (session.holds(Number(m.jobId), m.attempt)) {
            attributes.push({
              id: Number(m.jobId),
              attempt: m.attempt,
              key: m.key,
              value: m.value,
            });
          }
          break;
        case 'hello':
          break;
      }
    }
    if (acks.length > 0) session.send({ type: 'ack', results: acks });
    if (logs.length > 0 || progress.length > 0 || attributes.length > 0) {
      this.writeUpdates(logs, progress, attributes);
    }
    if (endings.length > 0) this.endAttempts(session, endings);
  }

  private writeUpdates(
    logs: NewLogEntry[],
    progress: ProgressUpdate[],
    attributes: AttributeUpdate[],
  ): void {
    const { events } = this.deps;
    this.deps.committer
      .run(async (tx, ctx) => {
        if (logs.length > 0) await tx.jobLogAppend(logs);
        if (progress.length > 0) await tx.jobProgressSet(progress);
        if (attributes.length > 0) await tx.jobAttributeSet(attributes);
        ctx.afterCommit(() => {
          for (const l of logs)
            events.emit('job:log', {
              id: l.jobId,
              attempt: l.attempt,
              stream: l.stream,
              data: l.data,
            });
          for (const p of progress) events.emit('job:progress', p);
          for (const a of attributes) events.emit('job:attribute', a);
        });
      })
      .catch((err: unknown) => this.deps.logger.error({ err }, 'writing job updates failed'));
  }

  private endPolicy() {
    return {
      now: this.deps.clock.now(),
      maxRequestFailures: this.deps.settings.maxRequestFailures,
      retry: this.deps.settings.retry,
    };
  }

  /** Commits the ends of attempts a worker reported, then acknowledges them to it. */
  private endAttempts(
    session: WorkerSession,
    endings: Array<{ held: HeldJob; outcome: Outcome }>,
  ): void {
    this.persister.run('recording results', { worker: session.name }, () =>
      this.writeEnds(session, endings),
    );
  }

  /**
   * One try of endAttempts. When tried again, the ends already recorded meanwhile (the worker
   * sent them again after a reconnect) or no longer this session's (it was declared dead, its
   * jobs re-queued) are left out.
   */
  private async writeEnds(
    session: WorkerSession,
    reported: Array<{ held: HeldJob; outcome: Outcome }>,
  ): Promise<void> {
    const endings = reported.filter((e) => session.held.get(e.held.job.id) === e.held);
    if (endings.length === 0) return;
    const policy = this.endPolicy();
    const ends = endings.map((e) => planEnd(e.held.job, e.outcome, policy));
    await this.deps.committer.run(async (tx, ctx) => {
      const applied = await tx.jobEndAttempts(ends);
      for (let i = 0; i < ends.length; i++) this.deps.dispatcher.release(ctx, session);
      this.requeueInBatch(
        endings.map((e) => e.held.job),
        ends,
        applied,
      );
      endings.forEach((e, i) => {
        if (applied[i] && ends[i]!.state === 'queued' && e.outcome.kind === 'fail') {
          this.deps.dispatcher.retryElsewhere(e.held.job.id, e.held.job.needsId, session.id);
        }
      });
      ctx.afterCommit(() => {
        for (const e of endings) {
          session.held.delete(e.held.job.id);
          session.ended(e.held.job.id, e.held.job.attempt);
        }
        session.send({
          type: 'ack',
          results: endings.map((e) => ({
            jobId: String(e.held.job.id),
            attempt: e.held.job.attempt,
          })),
        });
        this.afterEnds(ends, applied, session.id);
      });
    });
  }

  /** Inside the batch: jobs going back to the queue are dispatchable in the same commit. */
  private requeueInBatch(
    jobs: readonly RunningJob[],
    ends: readonly AttemptEnd[],
    applied: readonly boolean[],
  ): void {
    const refs = [];
    for (let i = 0; i < ends.length; i++) {
      const job = jobs[i]!;
      if (applied[i] && ends[i]!.state === 'queued')
        refs.push({ id: job.id, needsId: job.needsId, priority: job.priority });
    }
    if (refs.length > 0) this.deps.dispatcher.queued(refs);
  }

  private afterEnds(
    ends: readonly AttemptEnd[],
    applied: readonly boolean[],
    workerId: string | null,
  ): void {
    const announce = this.deps.events.wants('job:state');
    ends.forEach((end, i) => {
      if (!applied[i]) return;
      if (end.state === 'scheduled' && end.runAt !== undefined) this.deps.scheduler.note(end.runAt);
      if (announce)
        this.deps.events.emit('job:state', {
          id: end.id,
          from: 'running',
          to: end.state,
          attempt: end.attempt,
          workerId: workerId ?? end.workerId,
          error: end.error,
        });
    });
  }

  /** Ends lost attempts of jobs no session holds (orphans of a previous broker life, or of a dead node). */
  async rescue(jobs: readonly RunningJob[], reason: string): Promise<number> {
    if (jobs.length === 0) return 0;
    const policy = this.endPolicy();
    const ends = jobs.map((job) =>
      planEnd(
        job,
        {
          kind: 'lost',
          error: { code: 'worker_lost', message: `worker ${job.workerName} ${reason}` },
        },
        policy,
      ),
    );
    return this.deps.committer.run(async (tx, ctx) => {
      const applied = await tx.jobEndAttempts(ends);
      this.requeueInBatch(jobs, ends, applied);
      ctx.afterCommit(() => this.afterEnds(ends, applied, null));
      return applied.filter(Boolean).length;
    });
  }

  // ---- liveness ----

  private sweep(): void {
    const now = this.deps.clock.now();
    const window = livenessWindow(this.deps.settings);
    for (const s of this.sessions.values()) {
      if (now - s.lastSeen > window)
        this.kill(s, `sent nothing for ${now - s.lastSeen} ms (liveness ${window} ms)`);
    }
  }

  /** A dead worker: forgotten, and its jobs go back to the queue (or fail at max_request_failures). */
  private kill(session: WorkerSession, reason: string): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    if (this.byName.get(session.name) === session) this.byName.delete(session.name);
    this.deps.dispatcher.remove(session);
    this.deps.needs.detach(session);
    if (session.socket) {
      session.socket.close(CLOSE.policy, 'declared dead');
      session.socket = null;
    }
    const { logger, events, clock } = this.deps;
    const held = [...session.held.values()];
    if (held.length > 0)
      logger.warn(
        { worker: session.name, id: session.id, jobs: held.length },
        `worker dead: ${reason}`,
      );
    else logger.info({ worker: session.name, id: session.id }, `worker gone: ${reason}`);
    const error: JobError = { code: 'worker_lost', message: `worker ${session.name} ${reason}` };
    const ends = held.map((h) => planEnd(h.job, { kind: 'lost', error }, this.endPolicy()));
    const now = clock.now();
    this.persister.run('recording a dead worker', { worker: session.name }, () =>
      this.deps.committer.run(async (tx, ctx) => {
        const applied = ends.length > 0 ? await tx.jobEndAttempts(ends) : [];
        this.requeueInBatch(
          held.map((h) => h.job),
          ends,
          applied,
        );
        await tx.workerSetOffline(session.id, now);
        ctx.afterCommit(() => {
          session.held.clear();
          this.afterEnds(ends, applied, session.id);
          events.emit('worker:down', { id: session.id, name: session.name, reason });
        });
      }),
    );
  }
}
