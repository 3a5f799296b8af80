/**
 * The monitor (ReCodEx's): `/api/v1/monitor`, a WebSocket per browser watching one job. The job
 * is named by `?job=ID` or by the first message (its id, as ReCodEx's frontend sends it); with
 * `?since=SEQ` the browser resumes after the last message it saw. The job's stored messages are
 * sent first, in order, then live ones as they are published; when the job ends (any terminal
 * state) the subscriber gets that message and the socket is closed. Only the broker publishes:
 * anything a browser sends after naming its job closes its socket.
 *
 * The store is the source: a live event is sent as it comes only while the subscriber keeps up
 * and has seen everything before it; otherwise it is a wake-up to read on from the store. So a
 * subscriber holds no queue of its own, just the socket's buffer (bounded: past HIGH_WATER it
 * stops being fed until the buffer drains), and one that subscribes late, falls behind or
 * reconnects with `since` reads the same messages in the same order. A channel (the
 * subscribers of one job) is dropped when its last subscriber leaves, and the monitor stops
 * listening to the events when it has no channel.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { isTerminal } from '../domain/job.js';
import type { Clock } from '../domain/clock.js';
import type { BrokerEvent, EventBus } from '../broker/events.js';
import type { JobMessage, Store } from '../store/store.js';
import { ID_MESSAGE, ID_PATTERN } from '../protocol/ids.js';
import { eventMessageJson, messageJson } from './views.js';

/** Messages read from the store at a time. */
const PAGE = 256;
/** Unsent bytes past which a subscriber is fed no more until its socket drains to LOW_WATER. */
export const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
const DRAIN_POLL_MS = 25;

/** Close codes, besides 1000 (the job ended) and 1001 (the broker is stopping). */
export const MonitorClose = {
  policy: 1008,
  failed: 1011,
  notFound: 4404,
  forbidden: 4403,
  /** The standalone monitor: the broker refused the browser's access token. */
  unauthorized: 4401,
  timeout: 4408,
} as const;

const JOB_EVENTS = ['job:state', 'job:progress', 'job:attribute', 'job:log'] as const;

/** How long a socket may take to name its job by a first message. */
const FIRST_MESSAGE_MS = 10_000;
const JOB_ID = new RegExp(ID_PATTERN);

/**
 * A monitor socket's job, the broker's or the standalone monitor's: named by `?job=` (`named`),
 * or else by a first text message holding its id, within 10 s. `start` is called with it; from
 * then on anything the browser sends closes its socket (only the broker publishes).
 */
export function whenJobNamed(
  socket: WebSocket,
  named: string | undefined,
  clock: Clock,
  start: (jobId: string) => void,
): void {
  const begin = (jobId: string): void => {
    socket.on('message', () =>
      socket.close(MonitorClose.policy, 'only the broker publishes on the monitor'),
    );
    start(jobId);
  };
  if (named !== undefined) {
    begin(named);
    return;
  }
  const timer = clock.setTimeout(
    () => socket.close(MonitorClose.timeout, 'no job named within 10 s'),
    FIRST_MESSAGE_MS,
  );
  socket.once('message', (data, isBinary) => {
    timer.cancel();
    const text = isBinary ? '' : data.toString().trim();
    if (!JOB_ID.test(text)) {
      socket.close(MonitorClose.policy, `the first message must be a job id (${ID_MESSAGE})`);
      return;
    }
    begin(text);
  });
  socket.on('close', () => timer.cancel());
}

export interface MonitorDeps {
  store: Store;
  events: EventBus;
  clock: Clock;
  logger: Logger;
}

export class Monitor {
  private readonly channels = new Map<number, Set<Subscriber>>();
  private readonly handlers: Array<() => void> = [];

  constructor(readonly deps: MonitorDeps) {}

  /** Jobs watched now (tests: a channel is gone once its job ended and its subscribers left). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Watches `jobId` on `socket`, after `since`. */
  watch(socket: WebSocket, jobId: number, since: number): void {
    const subscriber = new Subscriber(this, socket, jobId, since);
    void subscriber.start();
  }

  /** Closes every subscriber's socket (the broker is stopping). */
  close(): void {
    for (const subs of this.channels.values())
      for (const s of subs) s.end(1001, 'the broker is shutting down');
  }

  join(s: Subscriber): void {
    let subs = this.channels.get(s.jobId);
    if (subs === undefined) {
      subs = new Set();
      this.channels.set(s.jobId, subs);
      if (this.channels.size === 1) this.listen();
    }
    subs.add(s);
  }

  leave(s: Subscriber): void {
    const subs = this.channels.get(s.jobId);
    if (subs === undefined || !subs.delete(s)) return;
    if (subs.size > 0) return;
    this.channels.delete(s.jobId);
    if (this.channels.size === 0) this.unlisten();
  }

  private listen(): void {
    const onDeleted = ({ id }: { id: number }) => {
      const subs = this.channels.get(id);
      if (subs === undefined) return;
      for (const s of subs) s.end(MonitorClose.notFound, `job ${id} was deleted`);
    };
    this.deps.events.on('job:deleted', onDeleted);
    this.handlers.push(() => this.deps.events.off('job:deleted', onDeleted));
    for (const name of JOB_EVENTS) {
      const handler = (data: { id: number }) => {
        const subs = this.channels.get(data.id);
        if (subs === undefined) return;
        const event = { name, data } as BrokerEvent;
        for (const s of subs) s.live(event);
      };
      this.deps.events.on(name, handler as never);
      this.handlers.push(() => this.deps.events.off(name, handler as never));
    }
  }

  private unlisten(): void {
    for (const off of this.handlers.splice(0)) off();
  }
}

const endsJob = (to: unknown): boolean => typeof to === 'string' && isTerminal(to as never);

function terminalMessage(m: JobMessage): boolean {
  if (m.kind !== 'state') return false;
  return endsJob((JSON.parse(m.data) as { to?: unknown }).to);
}

class Subscriber {
  /** The highest seq sent (or known to be past): nothing at or below it is sent again. */
  private high: number;
  private reading = false;
  private wake = false;
  private done = false;

  constructor(
    private readonly monitor: Monitor,
    private readonly socket: WebSocket,
    readonly jobId: number,
    since: number,
  ) {
    this.high = since;
    socket.on('close', () => {
      this.done = true;
      monitor.leave(this);
    });
  }

  async start(): Promise<void> {
    const { store, logger } = this.monitor.deps;
    try {
      const job = await store.jobGet(this.jobId);
      if (this.done) return;
      if (job === undefined) {
        this.end(MonitorClose.notFound, `no job ${this.jobId}`);
        return;
      }
      // Reading before joining: a live message arriving meanwhile waits for the replay.
      this.reading = true;
      this.monitor.join(this);
      await this.pump(true);
      // A job that ended before its messages were kept has no last message to close on.
      if (!this.done && isTerminal(job.state) && (await this.caughtUp())) {
        this.end(1000, `job ${this.jobId} ended (${job.state})`);
      }
    } catch (err) {
      logger.error({ err, job: this.jobId }, 'monitor: reading job messages failed');
      this.end(MonitorClose.failed, 'reading the job’s messages failed');
    }
  }

  /** A message published live. */
  live(event: BrokerEvent): void {
    if (this.done) return;
    const seq = (event.data as { seq: number }).seq;
    if (seq <= this.high) return;
    if (this.reading || this.socket.bufferedAmount > HIGH_WATER) {
      this.wake = true;
      if (!this.reading) this.pumpLogged();
      return;
    }
    const text = eventMessageJson(event);
    if (text === null) return;
    this.socket.send(text);
    this.high = seq;
    if (event.name === 'job:state' && endsJob(event.data.to)) this.ended();
  }

  end(code: number, reason: string): void {
    this.done = true;
    this.monitor.leave(this);
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
  }

  private pumpLogged(): void {
    this.pump().catch((err: unknown) => {
      this.monitor.deps.logger.error(
        { err, job: this.jobId },
        'monitor: reading job messages failed',
      );
      this.end(MonitorClose.failed, 'reading the job’s messages failed');
    });
  }

  private ended(): void {
    this.end(1000, `job ${this.jobId} ended`);
  }

  private async caughtUp(): Promise<boolean> {
    return (await this.monitor.deps.store.jobMessages(this.jobId, this.high, 1)).length === 0;
  }

  /** Reads on from the store until it has sent all that is stored (and woken meanwhile). */
  private async pump(started = false): Promise<void> {
    if (this.reading && !started) return;
    this.reading = true;
    try {
      for (;;) {
        this.wake = false;
        await this.drained();
        if (this.done) return;
        const page = await this.monitor.deps.store.jobMessages(this.jobId, this.high, PAGE);
        for (const m of page) {
          if (this.done) return;
          this.socket.send(messageJson(m));
          this.high = m.seq;
          if (terminalMessage(m)) {
            this.ended();
            return;
          }
        }
        if (page.length < PAGE && !this.wake) return;
      }
    } finally {
      this.reading = false;
    }
  }

  /** Resolves once the socket's buffer is below LOW_WATER (or the socket is gone). */
  private drained(): Promise<void> {
    if (this.socket.bufferedAmount <= LOW_WATER) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.done || this.socket.bufferedAmount <= LOW_WATER) resolve();
        else this.monitor.deps.clock.setTimeout(check, DRAIN_POLL_MS);
      };
      this.monitor.deps.clock.setTimeout(check, DRAIN_POLL_MS);
    });
  }
}
