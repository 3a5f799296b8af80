/**
 * A fake broker for the worker's tests: a real WebSocket server on 127.0.0.1 that speaks the
 * worker protocol from src/protocol/worker.ts, records every frame, and answers as told.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import {
  decodeWorkerFrame,
  encodeFrame,
  type AssignedJob,
  type BrokerMessage,
  type Hello,
  type WorkerMessage,
} from '../../src/protocol/worker.js';

/** The secret the fake broker gives a new worker. */
export const FAKE_SECRET = 'fake-secret';

export interface FakeBrokerOptions {
  pingIntervalMs?: number;
  maxLiveness?: number;
  /** Acknowledge every done/fail at once (default true). */
  autoAck?: boolean;
  /** Answer the worker's WebSocket pings (default true); false plays a broker that hangs. */
  autoPong?: boolean;
  /** The answer to a hello; by default a welcome that adopts every running job. */
  onHello?: (hello: Hello, broker: FakeBroker) => BrokerMessage[] | undefined;
}

type Of<T extends WorkerMessage['type']> = Extract<WorkerMessage, { type: T }>;

/** A job as the broker would assign it, with test defaults. */
export function job(id: string, type: string, extra: Partial<AssignedJob> = {}): AssignedJob {
  return {
    id,
    attempt: 1,
    type,
    queue: 'default',
    payload: {},
    requires: {},
    priority: 0,
    timeoutMs: null,
    killSignal: 'SIGTERM',
    killGraceMs: 200,
    ...extra,
  };
}

/** One fake broker node; it talks to the last worker that connected. */
export class FakeBroker {
  /** Every frame as parsed JSON: an object, or an array for a batch. */
  readonly frames: unknown[] = [];
  readonly messages: WorkerMessage[] = [];
  readonly hellos: Hello[] = [];
  /** Frames that did not pass the protocol's validation (a test expects none). */
  readonly invalid: string[] = [];
  autoAck: boolean;
  onHello: (hello: Hello, broker: FakeBroker) => BrokerMessage[] | undefined;
  connections = 0;
  private socket: WebSocket | undefined;
  private readonly watchers = new Set<() => void>();

  private constructor(
    private readonly server: WebSocketServer,
    private readonly options: FakeBrokerOptions,
  ) {
    this.autoAck = options.autoAck ?? true;
    this.onHello = options.onHello ?? ((hello) => [this.welcome(hello)]);
    server.on('connection', (socket) => this.accept(socket));
  }

  static async start(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      autoPong: options.autoPong ?? true,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return new FakeBroker(server, options);
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
    return `ws://127.0.0.1:${address.port}`;
  }

  /**
   * The default answer to a hello: welcome, adopting what the worker says it runs. A hello
   * without an id is a new worker, given `worker-1` and its secret.
   */
  welcome(hello: Hello, abandoned: string[] = []): BrokerMessage {
    const running = (hello.running ?? []).map((r) => r.jobId);
    return {
      type: 'welcome',
      workerId: 'worker-1',
      ...(hello.workerId === undefined ? { secret: FAKE_SECRET } : {}),
      pingIntervalMs: this.options.pingIntervalMs ?? 1_000,
      maxLiveness: this.options.maxLiveness ?? 10,
      adopted: running.filter((id) => !abandoned.includes(id)),
      abandoned,
    };
  }

  /** Sends messages to the connected worker as one frame. */
  send(...messages: BrokerMessage[]): void {
    if (this.socket === undefined) throw new Error('no worker is connected');
    this.socket.send(encodeFrame(messages));
  }

  assign(...jobs: AssignedJob[]): void {
    this.send(...jobs.map((j): BrokerMessage => ({ type: 'assign', job: j })));
  }

  /** Resolves with the first message (at index ≥ `from`) of that type that satisfies `test`. */
  waitFor<T extends WorkerMessage['type']>(
    type: T,
    test: (message: Of<T>) => boolean = () => true,
    from = 0,
    timeoutMs = 5_000,
  ): Promise<Of<T>> {
    const find = (): Of<T> | undefined =>
      this.messages.slice(from).find((m): m is Of<T> => m.type === type && test(m as Of<T>));
    return this.until(find, `a ${type} message`, timeoutMs);
  }

  /** Resolves when `probe` returns something, checked after every frame and connection. */
  until<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.watchers.delete(watch);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const watch = (): void => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.watchers.delete(watch);
        resolve(value);
      };
      this.watchers.add(watch);
    });
  }

  /** Drops the worker's connection as a dying broker would. */
  drop(): void {
    this.socket?.terminate();
    this.socket = undefined;
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    this.socket = socket;
    this.connections++;
    socket.on('message', (data) => this.receive(socket, String(data)));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.notify();
    });
    this.notify();
  }

  private receive(socket: WebSocket, raw: string): void {
    this.frames.push(JSON.parse(raw));
    const decoded = decodeWorkerFrame(raw);
    if (!decoded.ok) {
      this.invalid.push(decoded.error);
      return;
    }
    const acks: Array<{ jobId: string; attempt: number }> = [];
    for (const message of decoded.messages) {
      this.messages.push(message);
      if (message.type === 'hello') {
        this.hellos.push(message);
        const answer = this.onHello(message, this);
        if (answer !== undefined) socket.send(encodeFrame(answer));
      }
      if ((message.type === 'done' || message.type === 'fail') && this.autoAck) {
        acks.push({ jobId: message.jobId, attempt: message.attempt });
      }
    }
    if (acks.length > 0) socket.send(encodeFrame([{ type: 'ack', results: acks }]));
    this.notify();
  }

  private notify(): void {
    for (const watch of [...this.watchers]) watch();
  }
}

/** A promise with its resolve function outside, for handlers that tests release by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
