/**
 * The event log: every event this node emits or hears from another node, numbered with a
 * node-local, increasing id, and the most recent of them kept in a bounded ring (by count and
 * by estimated bytes), so that an event-stream client that reconnects with the last id it saw
 * is sent what it missed, or told that the ring no longer reaches back that far (a gap).
 *
 * The log starts listening with the first event-stream reader of the node and keeps listening
 * from then on: a node nobody follows pays nothing for it (no event built for it, none kept:
 * measured, keeping 10,000 events alive cost W1 about a tenth of its throughput), while every
 * reader can resume after any id it was given. Recording one costs an id, an object and a size
 * estimate (no JSON). The wire text is made once per event, the first time a subscriber sends
 * it.
 *
 * Ids start at the node's start time in ms times 1,000, so that they keep increasing across a
 * restart of the node (unless it emitted more than 1,000 events per ms of its life): a client
 * resuming from an id of an earlier run is told of a gap instead of being sent wrong events.
 * Ids of different nodes are unrelated: a client resumes on the node it followed.
 *
 * Job events name their queue (for `?queue=` filters): the emitters add it where they know it
 * (creations, dispatch, ends); for the rest (progress, logs, attributes) the log remembers the
 * queue of the jobs it has seen, a bounded number of them. A job it has not seen since it
 * started (one adopted after a restart) has events without a queue.
 */
import {
  brokerEventNames,
  type BrokerEvent,
  type BrokerEventName,
  type EventBus,
} from './events.js';

export interface EventLogLimits {
  /** Events the ring keeps at most. */
  maxEvents: number;
  /** Estimated bytes the ring keeps at most. */
  maxBytes: number;
}

export const defaultEventLogLimits: EventLogLimits = {
  maxEvents: 10_000,
  maxBytes: 16 * 1024 * 1024,
};

/** Jobs whose queue the log remembers; the oldest are forgotten first. */
const MAX_KNOWN_QUEUES = 50_000;

/** One event as the log keeps it. */
export interface LoggedEvent {
  readonly id: number;
  readonly name: BrokerEventName;
  readonly data: BrokerEvent['data'];
  /** The job's id, for job events. */
  readonly job: number | null;
  /** The job's queue, for job events when known. */
  readonly queue: string | undefined;
  /** The estimated size the ring counts for it. */
  readonly bytes: number;
  /** The wire JSON of its data, made on first use. */
  wire?: string;
}

/** What a reader resuming after an id gets: the events since, and whether some were lost. */
export interface Resumed {
  events: LoggedEvent[];
  /**
   * Set when events after the id asked for are no longer kept (or the id is not one of this
   * run): how many were lost, when known, and the id after which they were.
   */
  gap: { missed: number | null; after: number } | null;
}

/** The JSON of an event's data on the wire: ids of jobs as strings, the queue added. */
export function wireData(event: LoggedEvent): string {
  if (event.wire !== undefined) return event.wire;
  const data =
    event.job === null
      ? event.data
      : event.queue === undefined
        ? { ...event.data, id: String(event.job) }
        : { ...event.data, id: String(event.job), queue: event.queue };
  event.wire = JSON.stringify(data);
  return event.wire;
}

/**
 * A cheap estimate of what an event takes in memory (and roughly on the wire), counting strings
 * by length; deep structures (error details) are walked up to a bound.
 */
export function estimateBytes(value: unknown): number {
  let budget = 256;
  const walk = (v: unknown, depth: number): number => {
    if (budget-- <= 0) return 64;
    if (typeof v === 'string') return v.length + 8;
    if (typeof v !== 'object' || v === null) return 8;
    if (depth > 4) return 64;
    let n = 16;
    if (Array.isArray(v)) {
      for (const item of v) {
        if (budget <= 0) return n + 64;
        n += walk(item, depth + 1);
      }
      return n;
    }
    for (const key in v) {
      if (budget <= 0) return n + 64;
      n += key.length + 8 + walk((v as Record<string, unknown>)[key], depth + 1);
    }
    return n;
  };
  // Twice: the object, and later its wire text.
  return 2 * (64 + walk(value, 0));
}

export class EventLog {
  private readonly ring: Array<LoggedEvent | undefined>;
  /** Index of the oldest event in the ring, and how many it holds. */
  private head = 0;
  private size = 0;
  private bytes = 0;
  private next: number;
  private readonly firstId: number;
  private readonly queues = new Map<number, string>();
  private readonly listeners = new Set<(event: LoggedEvent) => void>();
  private detach: (() => void) | null = null;

  constructor(
    private readonly bus: EventBus,
    private readonly limits: EventLogLimits = defaultEventLogLimits,
    /** The first id (see the file comment); tests start at 1. */
    firstId = 1,
  ) {
    if (limits.maxEvents < 1 || limits.maxBytes < 1)
      throw new Error('event log limits must be >= 1');
    this.ring = new Array<LoggedEvent | undefined>(Math.floor(limits.maxEvents));
    this.firstId = firstId;
    this.next = firstId;
  }

  /** Starts recording the bus's events; idempotent. */
  start(): void {
    if (this.detach !== null) return;
    const offs = brokerEventNames.map((name) => {
      const handler = (data: BrokerEvent['data']) => this.record(name, data);
      this.bus.on(name, handler as never);
      return () => this.bus.off(name, handler as never);
    });
    this.detach = () => offs.forEach((off) => off());
  }

  stop(): void {
    this.detach?.();
    this.detach = null;
    this.listeners.clear();
  }

  /** The id of the newest event (one less than the first id before any). */
  get lastId(): number {
    return this.next - 1;
  }

  /** How many events and estimated bytes the ring holds (for tests). */
  get held(): { events: number; bytes: number } {
    return { events: this.size, bytes: this.bytes };
  }

  /** How many follow the live feed (event-stream readers; for tests). */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** Each event from now on, as recorded (recording starts, if it had not). Returns the unsubscribe. */
  subscribe(fn: (event: LoggedEvent) => void): () => void {
    this.start();
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The kept events after `since`, oldest first, and whether the ring reaches back that far. */
  since(since: number): Resumed {
    const last = this.lastId;
    if (since === last) return { events: [], gap: null };
    if (since > last || !Number.isSafeInteger(since)) {
      // Not an id this node has given (another node's, or garbage): what the reader missed is
      // unknown, and nothing kept can be told apart as new to it; it goes on live from here.
      return { events: [], gap: { missed: null, after: since } };
    }
    const oldest = this.size === 0 ? this.next : this.ring[this.head]!.id;
    if (since >= oldest - 1) return { events: this.slice(since + 1 - oldest), gap: null };
    const missed = since + 1 >= this.firstId ? oldest - since - 1 : null;
    return { events: this.slice(0), gap: { missed, after: since } };
  }

  /** Records one event (the bus calls this for every event; exposed for tests). */
  record(name: BrokerEventName, data: BrokerEvent['data']): LoggedEvent {
    let job: number | null = null;
    let queue: string | undefined;
    if (name.startsWith('job:')) {
      const d = data as { id: number; queue?: unknown; to?: string };
      job = d.id;
      if (typeof d.queue === 'string') {
        queue = d.queue;
        if (!this.queues.has(job)) this.remember(job, queue);
      } else {
        queue = this.queues.get(job);
      }
      if (d.to === 'succeeded' || d.to === 'failed' || d.to === 'canceled') this.queues.delete(job);
    } else if (name === 'queue:changed') {
      queue = (data as { name: string }).name;
    }
    const event: LoggedEvent = {
      id: this.next++,
      name,
      data,
      job,
      queue,
      bytes: estimateBytes(data),
    };
    this.push(event);
    for (const fn of this.listeners) fn(event);
    return event;
  }

  private remember(job: number, queue: string): void {
    this.queues.set(job, queue);
    if (this.queues.size > MAX_KNOWN_QUEUES) {
      const oldest = this.queues.keys().next().value;
      if (oldest !== undefined) this.queues.delete(oldest);
    }
  }

  private push(event: LoggedEvent): void {
    const capacity = this.ring.length;
    while (
      this.size > 0 &&
      (this.size >= capacity || this.bytes + event.bytes > this.limits.maxBytes)
    )
      this.dropOldest();
    this.ring[(this.head + this.size) % capacity] = event;
    this.size++;
    this.bytes += event.bytes;
  }

  private dropOldest(): void {
    const oldest = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
    this.bytes -= oldest.bytes;
  }

  /** The kept events from position `from` (0: the oldest) on. */
  private slice(from: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    for (let i = Math.max(0, from); i < this.size; i++)
      out.push(this.ring[(this.head + i) % this.ring.length]!);
    return out;
  }
}
