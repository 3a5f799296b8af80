/**
 * The worker's side of the broker connection (DESIGN.md "Worker protocol"): one WebSocket at a
 * time to one of several broker URLs, re-established forever with back-off until closed. It owns
 * the wire: the hello/welcome handshake, heartbeats, batching of outgoing messages into frames and
 * coalescing of job logs. What the messages mean is the Worker's business; results in particular
 * are kept (and re-sent) by the Worker, so this layer may drop them when the socket goes away.
 */
import os from 'node:os';
import WebSocket from 'ws';
import {
  decodeBrokerFrame,
  encodeFrame,
  type BrokerMessage,
  type Heartbeat,
  type Hello,
  type Welcome,
  type WorkerMessage,
} from '../protocol/worker.js';
import type { Logger } from './logger.js';

/** What a hello says, without its `type`. */
export type HelloFields = Omit<Hello, 'type'>;

/** Why and where a welcomed connection ended. */
export interface DisconnectInfo {
  url: string;
  code: number;
  reason: string;
}

/** The Worker's half of the conversation. */
export interface ConnectionEvents {
  /** Built afresh for every connection, so that it names the jobs running at that moment. */
  hello(): HelloFields;
  welcome(message: Welcome): void;
  /** Every other broker message; `welcomed` is false during the handshake (a fatal error). */
  message(message: Exclude<BrokerMessage, Welcome>, welcomed: boolean): void;
  /** Per-job entries for the heartbeat. */
  jobs(): NonNullable<Heartbeat['jobs']>;
  disconnected(info: DisconnectInfo): void;
}

/** Tuning knobs; the defaults are the documented behaviour. */
export interface ConnectionOptions {
  urls: readonly string[];
  logger: Logger;
  events: ConnectionEvents;
  /** First reconnect delay; doubles per failure up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long job logs may wait to be coalesced into one message. */
  logFlushMs?: number;
  /** A job's pending log is sent at once when it reaches this many characters. */
  logChunkChars?: number;
}

/** Logs held while disconnected beyond this are dropped, oldest first, to bound memory. */
const MAX_HELD_LOG_CHARS = 8 * 1024 * 1024;
/** Frames are split above roughly this size, to stay well under any broker payload limit. */
const MAX_FRAME_CHARS = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 1_000;

interface PendingLog {
  jobId: string;
  attempt: number;
  stream: 'stdout' | 'stderr';
  parts: string[];
  chars: number;
}

/** Host CPU use between two calls, from the per-core tick counters: 0..1 of all cores. */
class CpuSampler {
  private last = CpuSampler.ticks();

  private static ticks(): { busy: number; total: number } {
    let busy = 0;
    let total = 0;
    for (const cpu of os.cpus()) {
      const t = cpu.times;
      const all = t.user + t.nice + t.sys + t.irq + t.idle;
      total += all;
      busy += all - t.idle;
    }
    return { busy, total };
  }

  sample(): number | undefined {
    const now = CpuSampler.ticks();
    const total = now.total - this.last.total;
    const busy = now.busy - this.last.busy;
    this.last = now;
    if (total <= 0) return undefined;
    return Math.min(1, Math.max(0, busy / total));
  }
}

/** Messages of which only the latest matters: a newer one replaces the queued one in place. */
function coalesceKey(message: WorkerMessage): string | undefined {
  // A step report is kept: each says what became of one step.
  if (message.type === 'progress' && message.step === undefined)
    return `progress:${message.jobId}:${message.attempt}`;
  if (message.type === 'attr') return `attr:${message.jobId}:${message.attempt}:${message.key}`;
  return undefined;
}

function approximateChars(message: WorkerMessage): number {
  if (message.type === 'log') return message.data.length + 100;
  if (message.type === 'attr') return message.value.length + message.key.length + 100;
  return 300;
}

function jobIdOf(message: WorkerMessage): string | undefined {
  return 'jobId' in message ? message.jobId : undefined;
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.from(new Uint8Array(data)).toString('utf8');
}

/**
 * One logical connection to the brokers. Outgoing messages wait in an outbox until the broker has
 * welcomed this worker; everything queued in one event-loop turn goes out as one frame.
 */
export class BrokerConnection {
  private readonly urls: readonly string[];
  private readonly log: Logger;
  private readonly events: ConnectionEvents;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly logFlushMs: number;
  private readonly logChunkChars: number;
  private readonly cpu = new CpuSampler();

  private socket: WebSocket | undefined;
  private urlIndex = 0;
  private failures = 0;
  private welcomed = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private pingIntervalMs = 0;
  /** Heartbeats sent on this connection. */
  private beats = 0;
  private maxLiveness = 0;
  private lastHeard = 0;

  /** Insertion-ordered; coalesced messages keep their first position. */
  private outbox = new Map<string, WorkerMessage>();
  private outboxSeq = 0;
  private heldLogChars = 0;
  private readonly logs = new Map<string, PendingLog>();

  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private logTimer: NodeJS.Timeout | undefined;
  private flushImmediate: NodeJS.Immediate | undefined;

  constructor(options: ConnectionOptions) {
    this.urls = options.urls;
    this.log = options.logger;
    this.events = options.events;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.logFlushMs = options.logFlushMs ?? 50;
    this.logChunkChars = options.logChunkChars ?? 64 * 1024;
  }

  /** Whether the broker has welcomed us on the current socket (messages flow). */
  get ready(): boolean {
    return this.welcomed;
  }

  start(): void {
    if (this.socket === undefined && this.reconnectTimer === undefined && !this.closing) {
      this.connect();
    }
  }

  /** Queues a message for the next frame. While disconnected it waits for the next welcome. */
  send(message: WorkerMessage): void {
    if (this.closing) return;
    const key = coalesceKey(message) ?? `#${this.outboxSeq++}`;
    this.outbox.set(key, message);
    if (message.type === 'log' && !this.welcomed) {
      this.heldLogChars += message.data.length;
      if (this.heldLogChars > MAX_HELD_LOG_CHARS) this.dropHeldLogs();
    }
    this.scheduleFlush();
  }

  /** Appends job output; coalesced per job and stream by time and size. */
  appendLog(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: string): void {
    if (this.closing || data.length === 0) return;
    const key = `${jobId}:${attempt}:${stream}`;
    let pending = this.logs.get(key);
    if (pending === undefined) {
      pending = { jobId, attempt, stream, parts: [], chars: 0 };
      this.logs.set(key, pending);
    }
    pending.parts.push(data);
    pending.chars += data.length;
    if (pending.chars >= this.logChunkChars) {
      this.moveLog(key, pending);
    } else if (this.logTimer === undefined) {
      this.logTimer = setTimeout(() => {
        this.logTimer = undefined;
        this.flushLogs();
      }, this.logFlushMs);
    }
  }

  /** Moves pending logs (of one job, or all) into the outbox, e.g. before the job's result. */
  flushLogs(jobId?: string): void {
    for (const [key, pending] of this.logs) {
      if (jobId === undefined || pending.jobId === jobId) this.moveLog(key, pending);
    }
  }

  /** Forgets everything queued for a job the broker says is no longer ours. */
  discardJob(jobId: string): void {
    for (const [key, pending] of this.logs) if (pending.jobId === jobId) this.logs.delete(key);
    for (const [key, message] of this.outbox)
      if (jobIdOf(message) === jobId) this.outbox.delete(key);
  }

  /** Stops reconnecting, sends what is queued if it can, and closes the socket. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.flushLogs();
    this.flush();
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.logTimer);
    clearInterval(this.heartbeatTimer);
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate);
    this.outbox.clear();
    this.logs.clear();
    const socket = this.socket;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.terminate(), CLOSE_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'worker closing');
      else if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    });
  }

  private connect(): void {
    const url = this.urls[this.urlIndex % this.urls.length] as string;
    this.log.debug({ url }, 'connecting to broker');
    const socket = new WebSocket(url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.socket = socket;
    socket.on('open', () => {
      this.lastHeard = Date.now();
      socket.send(encodeFrame([{ type: 'hello', ...this.events.hello() }]));
    });
    socket.on('message', (data) => this.receive(socket, rawText(data)));
    socket.on('pong', () => {
      this.lastHeard = Date.now();
    });
    socket.on('error', (error) => this.log.debug({ url, err: error }, 'broker socket error'));
    socket.on('close', (code, reason) => this.socketClosed(socket, url, code, reason.toString()));
  }

  private receive(socket: WebSocket, raw: string): void {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    const decoded = decodeBrokerFrame(raw);
    if (!decoded.ok) {
      this.log.warn({ error: decoded.error }, 'ignoring an invalid frame from the broker');
      return;
    }
    for (const message of decoded.messages) {
      if (this.closing) return;
      if (message.type === 'welcome') this.welcome(message);
      else this.events.message(message, this.welcomed);
    }
  }

  private welcome(message: Welcome): void {
    this.welcomed = true;
    this.failures = 0;
    this.heldLogChars = 0;
    this.pingIntervalMs = message.pingIntervalMs;
    this.beats = 0;
    this.maxLiveness = message.maxLiveness;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.pingIntervalMs);
    this.events.welcome(message);
    this.scheduleFlush();
  }

  private heartbeat(): void {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    // A broker node that vanished without closing the TCP connection is only noticed this way.
    if (Date.now() - this.lastHeard > this.pingIntervalMs * this.maxLiveness) {
      this.log.warn('the broker stopped answering; reconnecting');
      socket.terminate();
      return;
    }
    // The broker answers a ping with a pong; three chances within the window are enough, and
    // fewer frames matter to a broker serving a thousand idle workers. For the same reason an
    // idle worker's heartbeat, which only keeps it alive, goes at that pace too; a worker
    // running jobs reports their usage at every beat.
    const third = this.beats++ % Math.max(1, Math.floor(this.maxLiveness / 3)) === 0;
    if (third) socket.ping();
    const jobs = this.events.jobs();
    if (!third && jobs.length === 0) return;
    const cpu = this.cpu.sample();
    this.send({
      type: 'heartbeat',
      ...(cpu === undefined ? {} : { cpu }),
      memory: { rss: process.memoryUsage.rss(), total: os.totalmem(), free: os.freemem() },
      jobs,
    });
  }

  private socketClosed(socket: WebSocket, url: string, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    const wasWelcomed = this.welcomed;
    this.welcomed = false;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    // Results are re-sent by the Worker after the next welcome, and hello carries the current
    // accepting state; heartbeats are stale. Only job output waits.
    for (const [key, message] of this.outbox) {
      if (message.type !== 'log' && message.type !== 'progress' && message.type !== 'attr') {
        this.outbox.delete(key);
      }
    }
    if (this.closing) return;
    if (wasWelcomed) {
      this.log.info({ url, code, reason }, 'disconnected from broker');
      this.events.disconnected({ url, code, reason });
    }
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    // Once welcomed, come back well within the broker's liveness window, or the broker gives
    // our running jobs to someone else.
    const window = this.pingIntervalMs * this.maxLiveness;
    const cap =
      window > 0 ? Math.min(this.maxBackoffMs, Math.max(50, window / 4)) : this.maxBackoffMs;
    const base = Math.min(cap, this.initialBackoffMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    const delay = base / 2 + (Math.random() * base) / 2;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closing) this.connect();
    }, delay);
  }

  private moveLog(key: string, pending: PendingLog): void {
    this.logs.delete(key);
    const text = pending.parts.join('');
    for (let at = 0; at < text.length; at += this.logChunkChars) {
      this.send({
        type: 'log',
        jobId: pending.jobId,
        attempt: pending.attempt,
        stream: pending.stream,
        data: text.slice(at, at + this.logChunkChars),
      });
    }
  }

  private dropHeldLogs(): void {
    let dropped = 0;
    for (const [key, message] of this.outbox) {
      if (this.heldLogChars <= MAX_HELD_LOG_CHARS / 2) break;
      if (message.type !== 'log') continue;
      this.outbox.delete(key);
      this.heldLogChars -= message.data.length;
      dropped += message.data.length;
    }
    this.log.warn({ dropped }, 'dropped job output held while disconnected');
  }

  private scheduleFlush(): void {
    if (!this.welcomed || this.flushImmediate !== undefined || this.closing) return;
    // setImmediate, not a microtask: it gathers everything queued during this turn's I/O too.
    this.flushImmediate = setImmediate(() => {
      this.flushImmediate = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (!this.welcomed || socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    if (this.outbox.size === 0) return;
    const messages = [...this.outbox.values()];
    this.outbox.clear();
    let frame: WorkerMessage[] = [];
    let chars = 0;
    for (const message of messages) {
      const size = approximateChars(message);
      if (frame.length > 0 && chars + size > MAX_FRAME_CHARS) {
        socket.send(encodeFrame(frame));
        frame = [];
        chars = 0;
      }
      frame.push(message);
      chars += size;
    }
    socket.send(encodeFrame(frame));
  }
}
