/**
 * Registration: a worker's `hello`. Identity is proven, not claimed: a new worker gets an id and
 * a secret in its `welcome`; a worker that comes back (to this node, to another node, or after a
 * restart) names its id and presents the secret, and only then keeps its registration and the
 * jobs it still runs. A hello that names an id without its secret is refused; one that names no
 * id is a new worker, whatever its name (two processes with one name are two workers). The jobs
 * a worker says it runs are reconciled with what the broker holds: those it no longer runs end
 * as lost, those the store still has running on it (same worker, same attempt) are adopted, and
 * the rest are named in the welcome as abandoned, for it to stop.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Clock } from '../../domain/clock.js';
import type { JobError, Labels } from '../../domain/job.js';
import type { LivenessSettings } from '../../domain/liveness.js';
import { isLabelText, LABEL_TEXT } from '../../domain/matching.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type Hello } from '../../protocol/worker.js';
import { isStoreUnavailable } from '../../store/faults.js';
import type { RunningJob, Store } from '../../store/store.js';
import { tokenIn } from '../auth.js';
import type { Committer } from '../committer.js';
import type { Completion } from '../complete.js';
import type { Dispatcher } from '../dispatcher.js';
import type { EventBus } from '../events.js';
import type { NeedsRegistry } from '../needs.js';
import type { Notifier } from '../notifier.js';
import { CLOSE, type Sessions } from './sessions.js';
import { WorkerSession, type HeldJob } from './session.js';

/** One connection of the workers' endpoint, and the session it speaks for once welcomed. */
export interface Connection {
  socket: WebSocket;
  address: string | null;
  session: WorkerSession | null;
  /** Refuses the connection: a fatal error message, then the socket is closed. */
  refuse(code: string, message: string): void;
}

export interface RegistrationSettings extends LivenessSettings {
  /** When non-empty, a worker must present one of these in `hello`. */
  workerTokens: readonly string[];
}

/** What operators decided about a worker, applied when it (re)connects (./worker-control.ts). */
export interface ControlHooks {
  /** Reads the worker's stored status, queues, types and blocks and applies them to the session. */
  prepare(session: WorkerSession): Promise<void>;
  /** After its welcome: tells the worker its status and capabilities when they differ. */
  welcomed(session: WorkerSession): void;
}

export interface RegistrationDeps {
  controls?: ControlHooks;
  store: Store;
  committer: Committer;
  completion: Completion;
  dispatcher: Dispatcher;
  needs: NeedsRegistry;
  sessions: Sessions;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  notifier: Notifier;
  settings: RegistrationSettings;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Whether `secret` is the one whose hash is `hash` (hex); constant time. */
function secretMatches(secret: string | undefined, hash: string): boolean {
  if (secret === undefined) return false;
  const expected = Buffer.from(hash, 'hex');
  const given = sha256(secret);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** What is wrong with the names in a hello (they are shown, typed and matched), or null. */
export function helloProblem(hello: Hello): string | null {
  if (!isLabelText(hello.name)) return `name ${LABEL_TEXT}`;
  for (const [key, values] of Object.entries(hello.labels)) {
    if (!isLabelText(key)) return `labels: label name ${JSON.stringify(key)} ${LABEL_TEXT}`;
    if (!values.every(isLabelText)) return `labels.${key}: ${LABEL_TEXT}`;
  }
  if (!hello.types.every(isLabelText)) return `types: ${LABEL_TEXT}`;
  if (!hello.queues.every(isLabelText)) return `queues: ${LABEL_TEXT}`;
  return null;
}

function sameCapabilities(s: WorkerSession, hello: Hello, labels: Labels): boolean {
  const norm = (x: unknown) => JSON.stringify(x);
  const sortLabels = (l: Labels) =>
    Object.keys(l)
      .sort()
      .map((k) => [k, [...(l[k] ?? [])].sort()]);
  return (
    norm(sortLabels(s.announced.labels)) === norm(sortLabels(labels)) &&
    norm([...s.announced.types].sort()) === norm([...hello.types].sort()) &&
    norm([...s.announced.queues].sort()) === norm([...hello.queues].sort()) &&
    s.slots === hello.slots
  );
}

/** Who a hello turned out to be. */
interface Identity {
  session: WorkerSession;
  /** Not yet among the node's sessions: added once the registration is committed. */
  fresh: boolean;
  /** The secret of a new identity, sent once in the welcome. */
  secret?: string;
}

export class Registration {
  constructor(private readonly deps: RegistrationDeps) {}

  async hello(conn: Connection, hello: Hello): Promise<void> {
    const { settings, logger } = this.deps;
    if (settings.workerTokens.length > 0 && !tokenIn(hello.token, settings.workerTokens)) {
      conn.refuse('unauthorized', 'a valid worker token is required in hello');
      return;
    }
    if (hello.version < MIN_PROTOCOL_VERSION || hello.version > PROTOCOL_VERSION) {
      conn.refuse(
        'unsupported_version',
        `protocol version ${hello.version} is not supported (this broker speaks ` +
          `${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`,
      );
      return;
    }
    const problem = helloProblem(hello);
    if (problem !== null) {
      conn.refuse('invalid_message', `hello: ${problem}`);
      return;
    }
    let identity: Identity | null;
    try {
      identity = await this.identify(conn, hello);
    } catch (err) {
      logger.error({ err, worker: hello.name }, 'reading a worker registration failed');
      if (isStoreUnavailable(err)) conn.refuse('store_unavailable', err.message);
      else conn.refuse('internal', 'registration failed; try again');
      return;
    }
    if (identity === null) return;
    try {
      await this.register(conn, hello, identity);
    } catch (err) {
      logger.error({ err, worker: hello.name }, 'registering a worker failed');
      // The worker tries again by itself; a store fault tells it that trying again is the cure.
      if (isStoreUnavailable(err)) conn.refuse('store_unavailable', err.message);
      else conn.refuse('internal', 'registration failed; try again');
    }
  }

  /** The session this hello speaks for, or null when it was refused. */
  private async identify(conn: Connection, hello: Hello): Promise<Identity | null> {
    const { sessions, store, clock } = this.deps;
    const capabilities = { labels: hello.labels, types: hello.types, queues: hello.queues };
    // A hello again on a welcomed connection is the same worker.
    if (conn.session !== null) return { session: conn.session, fresh: false };
    const id = hello.workerId;
    if (id !== undefined) {
      const known = sessions.get(id);
      const hash = known?.secretHash ?? (await store.workerGet(id))?.secretHash ?? null;
      if (hash !== null) {
        if (!secretMatches(hello.secret, hash)) {
          conn.refuse(
            'forbidden',
            `worker ${id}: the secret does not match; a worker resumes only its own ` +
              'registration (start without a worker id to register anew)',
          );
          return null;
        }
        // Read again: another connection of this worker may have registered meanwhile.
        const session =
          sessions.get(id) ??
          new WorkerSession(id, hash, hello.name, capabilities, hello.slots, clock.now());
        return { session, fresh: sessions.get(id) === undefined };
      }
      // An id nobody knows (its records are gone): a new worker, whose jobs are not its own.
    }
    const secret = randomBytes(32).toString('base64url');
    const session = new WorkerSession(
      newId('w'),
      sha256(secret).toString('hex'),
      hello.name,
      capabilities,
      hello.slots,
      clock.now(),
    );
    return { session, fresh: true, secret };
  }

  private async register(conn: Connection, hello: Hello, identity: Identity): Promise<void> {
    const { settings, logger, clock, events, committer, completion, nodeId } = this.deps;
    const { session: s, fresh } = identity;
    const now = clock.now();
    const labels: Labels = hello.labels;

    if (s.socket !== null && s.socket !== conn.socket) {
      // The same worker on a new connection (proven by its secret): the old one is stale.
      s.socket.close(CLOSE.replaced, 'replaced by a new connection');
      s.socket = null;
    }
    if (!fresh && !sameCapabilities(s, hello, labels)) {
      const message = `worker ${hello.name} registered again with different capabilities; its registration is replaced`;
      logger.error({ worker: hello.name, id: s.id }, message);
      events.emit('backend:error', { message, details: { workerId: s.id } });
      const details = { workerId: s.id, workerName: hello.name };
      committer
        .run((tx, ctx) => this.deps.notifier.backendError(tx, ctx, message, details))
        .catch((err: unknown) =>
          logger.warn({ err, worker: hello.name }, 'cannot record the backend error callback'),
        );
      s.name = hello.name;
      s.announced = { labels, types: hello.types, queues: hello.queues };
      s.capabilities = s.announced;
      s.slots = hello.slots;
      this.deps.needs.rematch(s);
    }
    conn.session = s;
    s.prefetch = hello.prefetch ?? 0;
    s.address = conn.address;
    s.lastSeen = now;
    s.workerAccepting = hello.accepting ?? true;
    s.protocol = hello.version;
    // Its stored status, queues, types and blocks hold before it takes part in dispatch.
    await this.deps.controls?.prepare(s);

    // Reconcile what the worker says it runs with what the broker thinks it holds.
    const listed = new Map((hello.running ?? []).map((r) => [Number(r.jobId), r.attempt]));
    const lost: HeldJob[] = [];
    for (const [jobId, held] of s.held) {
      if (listed.get(jobId) !== held.job.attempt) lost.push(held);
    }
    // Every job it names is adopted again, those this node holds for it too: the worker may
    // have been on another node meanwhile, which then leads the job (its row names that node).
    const toAdopt = [...listed];
    const lostError: JobError = {
      code: 'worker_lost',
      message: `worker ${s.name} came back without the job`,
    };

    const { adopted, abandoned } = await committer.run(async (tx, ctx) => {
      const adopted: RunningJob[] = [];
      const abandoned: number[] = [];
      for (const [jobId, attempt] of toAdopt) {
        // A new identity holds nothing: what it names is not its own.
        const job =
          identity.secret === undefined
            ? await tx.jobAdopt({
                id: jobId,
                attempt,
                workerId: s.id,
                workerName: s.name,
                nodeId,
                now,
              })
            : undefined;
        if (job) adopted.push(job);
        else abandoned.push(jobId);
      }
      await completion.endAttempts(
        tx,
        ctx,
        lost.map((h) => ({ job: h.job, outcome: { kind: 'lost', error: lostError } })),
      );
      await tx.workerUpsert({
        id: s.id,
        name: s.name,
        nodeId,
        labels: s.capabilities.labels,
        types: [...s.announced.types],
        queues: [...s.announced.queues],
        slots: s.slots,
        address: s.address,
        connectedAt: s.connectedAt,
        lastSeenAt: now,
        online: true,
        secretHash: s.secretHash,
      });
      ctx.afterCommit(() => {
        for (const h of lost) s.held.delete(h.job.id);
        for (const id of abandoned) s.held.delete(id);
        for (const job of adopted)
          s.held.set(job.id, {
            job,
            stopping: s.held.get(job.id)?.stopping ?? false,
            heardAt: s.held.get(job.id)?.heardAt ?? this.deps.clock.now(),
          });
      });
      return { adopted, abandoned };
    });
    if (conn.socket.readyState !== conn.socket.OPEN) return;
    s.socket = conn.socket;
    if (fresh) this.deps.sessions.add(s);
    else this.deps.dispatcher.wake();
    const keptIds = [...listed.keys()].filter((id) => s.held.has(id)).map(String);
    s.send({
      type: 'welcome',
      workerId: s.id,
      ...(identity.secret === undefined ? {} : { secret: identity.secret }),
      pingIntervalMs: settings.pingIntervalMs,
      maxLiveness: settings.maxLiveness,
      adopted: keptIds,
      abandoned: abandoned.map(String),
    });
    this.deps.controls?.welcomed(s);
    logger.info(
      { worker: s.name, id: s.id, slots: s.slots, adopted: adopted.length, address: s.address },
      identity.secret !== undefined ? 'worker registered' : 'worker reconnected',
    );
    if (fresh) events.emit('worker:up', { id: s.id, name: s.name });
  }
}
