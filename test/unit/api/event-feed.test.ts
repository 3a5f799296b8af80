/** One event-stream reader: filters, resume, and the bound on what it may leave unsent. */
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../../src/broker/event-log.js';
import { EventBus } from '../../../src/broker/events.js';
import { ManualClock } from '../../../src/domain/clock.js';
import {
  EventFeed,
  filterOf,
  MAX_UNSENT_BYTES,
  wsFormat,
  type EventFilter,
  type Overflow,
} from '../../../src/api/event-feed.js';

interface Message {
  type: string;
  id?: number;
  name?: string;
  data?: Record<string, unknown>;
  missed?: number | null;
  after?: number;
}

/** A sink whose unsent bytes the test controls: it "sends" only when told to drain. */
class FakeSink {
  messages: Message[] = [];
  unsent = 0;
  maxUnsent = 0;
  cut: string | null = null;
  buffered = () => this.unsent;
  write = (text: string) => {
    this.messages.push(JSON.parse(text) as Message);
    this.unsent += Buffer.byteLength(text);
    this.maxUnsent = Math.max(this.maxUnsent, this.unsent);
  };
  cutOff = (message: string) => {
    this.cut = message;
  };
  drain() {
    this.unsent = 0;
  }
}

function setup(filter: EventFilter = filterOf({}), overflow: Overflow = 'close') {
  const bus = new EventBus();
  const log = new EventLog(bus, { maxEvents: 100, maxBytes: 1 << 30 });
  log.start();
  const clock = new ManualClock();
  const sink = new FakeSink();
  const feed = new EventFeed({ log, filter, overflow, sink, format: wsFormat, clock });
  return { bus, log, clock, sink, feed };
}

const big = 'x'.repeat(1024 * 1024);
const logLine = (id: number, data = 'line') =>
  ({ id, seq: 1, at: 0, attempt: 1, stream: 'stdout', data }) as const;

describe('EventFeed', () => {
  it('sends events live with their ids, job ids as strings', () => {
    const { bus, sink, feed } = setup();
    feed.start(undefined);
    bus.emit('job:created', { id: 3, type: 't', queue: 'q', state: 'queued' });
    bus.emit('worker:up', { id: 'w1', name: 'alpha' });
    expect(sink.messages).toEqual([
      {
        type: 'event',
        id: 1,
        name: 'job:created',
        data: { id: '3', type: 't', queue: 'q', state: 'queued' },
      },
      { type: 'event', id: 2, name: 'worker:up', data: { id: 'w1', name: 'alpha' } },
    ]);
  });

  it('filters by kind or name, by queue and by job', () => {
    const cases: Array<[Parameters<typeof filterOf>[0], string[]]> = [
      [{ kind: 'worker' }, ['worker:up']],
      [{ kind: 'job:log,worker:up' }, ['job:log 1', 'job:log 2', 'worker:up']],
      [{ queue: 'a' }, ['job:created 1', 'job:log 1']],
      [{ job: '2' }, ['job:created 2', 'job:log 2']],
      [{ kind: 'job:created', queue: 'b' }, ['job:created 2']],
    ];
    for (const [query, expected] of cases) {
      const { bus, sink, feed } = setup(filterOf(query));
      feed.start(undefined);
      bus.emit('job:created', { id: 1, type: 't', queue: 'a', state: 'queued' });
      bus.emit('job:created', { id: 2, type: 't', queue: 'b', state: 'queued' });
      bus.emit('job:log', logLine(1));
      bus.emit('job:log', logLine(2));
      bus.emit('worker:up', { id: 'w1', name: 'alpha' });
      const got = sink.messages.map((m) =>
        m.name!.startsWith('job:') ? `${m.name} ${String(m.data!.id)}` : m.name!,
      );
      expect(got, JSON.stringify(query)).toEqual(expected);
    }
  });

  it('resumes after an id: what was missed, then live, nothing twice', () => {
    const { bus, sink, feed } = setup();
    for (let i = 1; i <= 4; i++) bus.emit('job:log', logLine(i));
    feed.start(2);
    bus.emit('job:log', logLine(5));
    expect(sink.messages.map((m) => m.id)).toEqual([3, 4, 5]);
  });

  it('sends a gap first when the log no longer reaches back to the id', () => {
    const bus = new EventBus();
    const log = new EventLog(bus, { maxEvents: 2, maxBytes: 1 << 30 });
    log.start();
    for (let i = 1; i <= 5; i++) bus.emit('job:log', logLine(i));
    const sink = new FakeSink();
    const feed = new EventFeed({
      log,
      filter: filterOf({}),
      overflow: 'close',
      sink,
      format: wsFormat,
      clock: new ManualClock(),
    });
    feed.start(1);
    expect(sink.messages).toMatchObject([
      { type: 'gap', missed: 2, after: 1 },
      { type: 'event', id: 4 },
      { type: 'event', id: 5 },
    ]);
  });

  it('cuts off a reader that leaves more than the bound unsent, holding no more', () => {
    const { bus, sink, feed } = setup();
    feed.start(undefined);
    for (let i = 0; i < 40; i++) bus.emit('job:log', logLine(1, big));
    expect(sink.cut).toMatch(/^slow_consumer: /);
    expect(sink.maxUnsent).toBeLessThanOrEqual(MAX_UNSENT_BYTES);
    const sent = sink.messages.length;
    expect(sent).toBeLessThan(40);
    bus.emit('job:log', logLine(1));
    expect(sink.messages.length).toBe(sent);
  });

  it('gives a reader that keeps up every event', () => {
    const { bus, sink, feed } = setup();
    feed.start(undefined);
    for (let i = 0; i < 40; i++) {
      bus.emit('job:log', logLine(1, big));
      sink.drain();
    }
    expect(sink.cut).toBeNull();
    expect(sink.messages).toHaveLength(40);
  });

  it('skips a lagging reader ahead with ?overflow=skip, then tells it what it missed', () => {
    const { bus, clock, sink, feed } = setup(filterOf({}), 'skip');
    feed.start(undefined);
    for (let i = 0; i < 20; i++) bus.emit('job:log', logLine(1, big));
    expect(sink.cut).toBeNull();
    expect(sink.maxUnsent).toBeLessThanOrEqual(MAX_UNSENT_BYTES);
    const delivered = sink.messages.length;
    const lastDelivered = sink.messages[delivered - 1]!.id!;
    // It reads what it had; the next look finds it caught up, without waiting for an event.
    sink.drain();
    clock.advance(1_000);
    expect(sink.messages[delivered]).toEqual({
      type: 'gap',
      missed: 20 - delivered,
      after: lastDelivered,
    });
    bus.emit('job:log', logLine(1));
    expect(sink.messages[delivered + 1]).toMatchObject({ type: 'event', id: 21 });
  });

  it('sends an event larger than the bound to a reader that has read everything', () => {
    const { bus, sink, feed } = setup();
    feed.start(undefined);
    bus.emit('job:log', logLine(1, 'x'.repeat(MAX_UNSENT_BYTES + 10)));
    expect(sink.cut).toBeNull();
    expect(sink.messages).toHaveLength(1);
  });

  it('sends nothing after it is stopped', () => {
    const { bus, sink, feed } = setup();
    feed.start(undefined);
    feed.stop();
    bus.emit('job:log', logLine(1));
    expect(sink.messages).toEqual([]);
  });
});
