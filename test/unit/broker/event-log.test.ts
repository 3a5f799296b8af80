/** The event log: ids, the bounded ring, resume and gaps, and the queues of job events. */
import { describe, expect, it } from 'vitest';
import { EventLog, estimateBytes, wireData } from '../../../src/broker/event-log.js';
import { EventBus } from '../../../src/broker/events.js';

function log(maxEvents: number, maxBytes = 1 << 30, firstId = 1) {
  const bus = new EventBus();
  const l = new EventLog(bus, { maxEvents, maxBytes }, firstId);
  l.start();
  return { bus, log: l };
}

const created = (id: number, queue = 'q') => ({ id, type: 't', queue, state: 'queued' }) as const;

describe('EventLog', () => {
  it('numbers every event of the bus, local or from another node, in order', () => {
    const { bus, log: l } = log(10, 1 << 30, 100);
    expect(l.lastId).toBe(99);
    bus.emit('job:created', created(1));
    bus.emitRemote({ name: 'worker:up', data: { id: 'w1', name: 'alpha' } });
    expect(l.lastId).toBe(101);
    expect(l.since(99).events.map((e) => [e.id, e.name])).toEqual([
      [100, 'job:created'],
      [101, 'worker:up'],
    ]);
  });

  it('makes the bus want every event: the log listens to all of them', () => {
    const { bus } = log(10);
    expect(bus.wants('job:progress')).toBe(true);
    expect(bus.wants('backend:error')).toBe(true);
  });

  it('replays exactly the events after the id asked for, none twice', () => {
    const { bus, log: l } = log(10);
    for (let i = 1; i <= 5; i++) bus.emit('job:created', created(i));
    expect(l.since(3).gap).toBeNull();
    expect(l.since(3).events.map((e) => e.id)).toEqual([4, 5]);
    expect(l.since(5)).toEqual({ events: [], gap: null });
    expect(l.since(0).events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps at most maxEvents, and reports a gap with the count lost beyond them', () => {
    const { bus, log: l } = log(3);
    for (let i = 1; i <= 7; i++) bus.emit('job:created', created(i));
    expect(l.held.events).toBe(3);
    expect(l.since(4)).toMatchObject({ gap: null });
    expect(l.since(4).events.map((e) => e.id)).toEqual([5, 6, 7]);
    const resumed = l.since(2);
    expect(resumed.gap).toEqual({ missed: 2, after: 2 });
    expect(resumed.events.map((e) => e.id)).toEqual([5, 6, 7]);
  });

  it('keeps at most maxBytes (estimated), dropping the oldest', () => {
    const one = estimateBytes({
      id: 1,
      seq: 1,
      at: 0,
      attempt: 1,
      stream: 'stdout',
      data: 'x'.repeat(1000),
    });
    const { bus, log: l } = log(1000, one * 3 + 10);
    for (let i = 1; i <= 10; i++)
      bus.emit('job:log', {
        id: i,
        seq: 1,
        at: 0,
        attempt: 1,
        stream: 'stdout',
        data: 'x'.repeat(1000),
      });
    expect(l.held.events).toBe(3);
    expect(l.held.bytes).toBeLessThanOrEqual(one * 3 + 10);
    expect(l.since(0).gap).toEqual({ missed: 7, after: 0 });
  });

  it('keeps one event larger than the byte bound on its own, not more', () => {
    const { bus, log: l } = log(10, 100);
    bus.emit('job:log', {
      id: 1,
      seq: 1,
      at: 0,
      attempt: 1,
      stream: 'stdout',
      data: 'x'.repeat(1000),
    });
    bus.emit('job:log', {
      id: 1,
      seq: 1,
      at: 0,
      attempt: 1,
      stream: 'stdout',
      data: 'y'.repeat(1000),
    });
    expect(l.held.events).toBe(1);
    expect(l.since(1).events.map((e) => e.id)).toEqual([2]);
  });

  it('answers an id it never gave with a gap of unknown size and no replay', () => {
    const { bus, log: l } = log(10, 1 << 30, 1_000);
    bus.emit('job:created', created(1));
    // From the future (another node, or garbage).
    expect(l.since(5_000)).toEqual({ events: [], gap: { missed: null, after: 5_000 } });
    // From before this run: everything kept is new to the reader, how much it lost is unknown.
    const earlier = l.since(10);
    expect(earlier.gap).toEqual({ missed: null, after: 10 });
    expect(earlier.events.map((e) => e.id)).toEqual([1_000]);
  });

  it('names the queue of job events that do not carry it, from the jobs it has seen', () => {
    const { bus, log: l } = log(10);
    bus.emit('job:created', created(7, 'gpu'));
    bus.emit('job:progress', {
      id: 7,
      seq: 1,
      attempt: 1,
      progress: { percent: 5, message: null, at: 1 },
    });
    bus.emit('job:progress', {
      id: 8,
      seq: 1,
      attempt: 1,
      progress: { percent: 5, message: null, at: 1 },
    });
    const [a, b, c] = l.since(0).events;
    expect([a!.queue, b!.queue, c!.queue]).toEqual(['gpu', 'gpu', undefined]);
    expect(JSON.parse(wireData(b!))).toMatchObject({ id: '7', queue: 'gpu' });
    expect(JSON.parse(wireData(c!))).toEqual({
      id: '8',
      seq: 1,
      attempt: 1,
      progress: { percent: 5, message: null, at: 1 },
    });
    // After the job ended, it is forgotten.
    bus.emit('job:state', {
      id: 7,
      seq: 2,
      at: 0,
      from: 'running',
      to: 'succeeded',
      attempt: 1,
      workerId: null,
      error: null,
    });
    bus.emit('job:log', { id: 7, seq: 1, at: 0, attempt: 1, stream: 'stdout', data: 'late' });
    expect(l.since(4).events[0]!.queue).toBeUndefined();
  });

  it('tells subscribers each event once, until they unsubscribe', () => {
    const { bus, log: l } = log(10);
    const seen: number[] = [];
    const off = l.subscribe((e) => seen.push(e.id));
    bus.emit('job:created', created(1));
    off();
    bus.emit('job:created', created(2));
    expect(seen).toEqual([1]);
  });

  it('stops listening to the bus when stopped', () => {
    const { bus, log: l } = log(10);
    l.stop();
    bus.emit('job:created', created(1));
    expect(l.lastId).toBe(0);
    expect(bus.wants('job:created')).toBe(false);
  });
});

describe('estimateBytes', () => {
  it('grows with the strings in an event, and stays bounded for deep or huge structures', () => {
    expect(estimateBytes({ data: 'x'.repeat(10_000) })).toBeGreaterThan(20_000);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = { deep };
    expect(estimateBytes(deep)).toBeLessThan(10_000);
    const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
    expect(estimateBytes(wide)).toBeGreaterThan(0);
  });
});
