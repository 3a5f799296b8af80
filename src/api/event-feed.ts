/**
 * One reader of the event stream, whatever carries it (Server-Sent Events or WebSocket): its
 * filter, its resume (what the event log still keeps after the id it asks for, or a gap), and
 * what happens when it does not keep up. What the broker holds for one reader is bounded: an
 * event is not written while more than `MAX_UNSENT_BYTES` wait to be sent to it. Then the
 * reader is cut off (`close`, the default), or skipped ahead (`skip`): events are dropped while
 * it is behind, and once it has caught up it is told how many it missed, and after which id.
 */
import type { Clock, Timer } from '../domain/clock.js';
import { wireData, type EventLog, type LoggedEvent } from '../broker/event-log.js';
import type { GapMessage } from '../protocol/events.js';

/** What a reader may leave unsent before it is cut off or skipped ahead. */
export const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
/** A skipped reader is resumed once less than this is unsent. */
const RESUME_BELOW_BYTES = MAX_UNSENT_BYTES / 2;
/** How often a skipped reader is looked at when no event comes. */
const SKIP_POLL_MS = 200;

export type Overflow = 'close' | 'skip';

/** Which events a reader wants; null fields match everything. */
export interface EventFilter {
  /** Event names (`job:state`) or kinds (`job`). */
  kinds: readonly string[] | null;
  queue: string | null;
  job: number | null;
}

/** Parses `?kind=`, `?queue=`, `?job=` (already validated by the route's schema). */
export function filterOf(query: { kind?: string; queue?: string; job?: string }): EventFilter {
  return {
    kinds: query.kind === undefined ? null : query.kind.split(','),
    queue: query.queue ?? null,
    job: query.job === undefined ? null : Number(query.job),
  };
}

export function matches(filter: EventFilter, event: LoggedEvent): boolean {
  if (filter.job !== null && event.job !== filter.job) return false;
  if (filter.queue !== null && event.queue !== filter.queue) return false;
  if (filter.kinds !== null) {
    const name = event.name;
    const kind = name.slice(0, name.indexOf(':'));
    if (!filter.kinds.some((k) => k === name || k === kind)) return false;
  }
  return true;
}

/** The transport under a feed. */
export interface FeedSink {
  /** Bytes written but not yet sent. */
  buffered(): number;
  write(text: string): void;
  /** The reader did not keep up: end its connection, saying why. */
  cutOff(message: string): void;
}

/** How a transport frames events and gaps. */
export interface FeedFormat {
  event(event: LoggedEvent): string;
  gap(gap: GapMessage): string;
}

export interface FeedOptions {
  log: EventLog;
  filter: EventFilter;
  overflow: Overflow;
  sink: FeedSink;
  format: FeedFormat;
  clock: Clock;
  /** Told once when the reader is cut off (for the log). */
  onCutOff?: () => void;
}

export class EventFeed {
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  /** The id of the last event sent (or resumed from). */
  private lastSent: number;
  /** While skipping: events dropped, and the timer that looks whether it caught up. */
  private skipped = 0;
  private skipping = false;
  private poll: Timer | null = null;

  constructor(private readonly options: FeedOptions) {
    this.lastSent = options.log.lastId;
  }

  /**
   * Replays what the log keeps after `since` (when given), then follows live. Synchronous, so
   * that no event falls between the replay and the live feed, and none comes twice.
   */
  start(since: number | undefined): void {
    const { log } = this.options;
    this.unsubscribe = log.subscribe((event) => this.offer(event));
    if (since === undefined) return;
    const resumed = log.since(since);
    this.lastSent = since;
    if (resumed.gap !== null) this.write(this.options.format.gap({ type: 'gap', ...resumed.gap }));
    for (const event of resumed.events) {
      if (this.stopped) return;
      this.offer(event);
    }
    // Nothing matched the filter: the position is the newest event all the same.
    if (!this.skipping) this.lastSent = Math.max(this.lastSent, log.lastId);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.poll?.cancel();
    this.poll = null;
  }

  private offer(event: LoggedEvent): void {
    if (this.stopped || !matches(this.options.filter, event)) return;
    const { sink, format, overflow } = this.options;
    if (this.skipping) {
      if (sink.buffered() >= RESUME_BELOW_BYTES) {
        this.skipped++;
        return;
      }
      this.resume();
    }
    const text = format.event(event);
    const buffered = sink.buffered();
    // One event larger than the bound still goes to a reader that has read everything.
    if (buffered > 0 && buffered + Buffer.byteLength(text) > MAX_UNSENT_BYTES) {
      if (overflow === 'close') {
        this.stop();
        this.options.onCutOff?.();
        sink.cutOff(
          `slow_consumer: more than ${MAX_UNSENT_BYTES} bytes of events were waiting to be ` +
            `read; read faster or narrow the stream (?kind, ?queue, ?job), and resume with ` +
            `since=${this.lastSent}`,
        );
        return;
      }
      this.skipping = true;
      this.skipped = 1;
      this.poll = this.options.clock.setInterval(() => {
        if (!this.stopped && this.skipping && sink.buffered() < RESUME_BELOW_BYTES) this.resume();
      }, SKIP_POLL_MS);
      return;
    }
    this.write(text);
    this.lastSent = event.id;
  }

  /** A skipped reader caught up: it is told what it missed. */
  private resume(): void {
    this.skipping = false;
    this.poll?.cancel();
    this.poll = null;
    this.write(
      this.options.format.gap({ type: 'gap', missed: this.skipped, after: this.lastSent }),
    );
    this.skipped = 0;
  }

  private write(text: string): void {
    if (!this.stopped) this.options.sink.write(text);
  }
}

/** Server-Sent Events framing: `id:` lines carry the event id (the browser's Last-Event-ID). */
export const sseFormat: FeedFormat = {
  event: (e) => `id: ${e.id}\nevent: ${e.name}\ndata: ${wireData(e)}\n\n`,
  gap: (g) => `event: gap\ndata: ${JSON.stringify(g)}\n\n`,
};

/** WebSocket framing: one JSON object per message. */
export const wsFormat: FeedFormat = {
  event: (e) => `{"type":"event","id":${e.id},"name":"${e.name}","data":${wireData(e)}}`,
  gap: (g) => JSON.stringify(g),
};
