import { describe, expect, it } from 'vitest';
import { QueueFlow, parseSnapshot, ratesOf } from '../../../src/broker/queues.js';
import { ManualClock } from '../../../src/domain/clock.js';
import {
  applySettings,
  defaultQueueSettings,
  fairStep,
  formatLimit,
  parseLimits,
  rankOf,
} from '../../../src/domain/queues.js';
import { available, refill, untilNextToken } from '../../../src/domain/token-bucket.js';

describe('named limits of a job', () => {
  it('parses names with units, sorted, and formats them back', () => {
    expect(parseLimits(['license:3', 'db'])).toEqual([
      { name: 'db', units: 1 },
      { name: 'license', units: 3 },
    ]);
    expect(parseLimits(['a/b.c-d_e:12']).map(formatLimit)).toEqual(['a/b.c-d_e:12']);
    expect(formatLimit({ name: 'db', units: 1 })).toBe('db');
  });

  it('refuses bad names, units and repeats, naming the entry', () => {
    expect(() => parseLimits(['ok', ':3'])).toThrow(/^limits\[1\]: ":3" is not a limit/);
    expect(() => parseLimits(['x:0'])).toThrow(/units must be a whole number from 1/);
    expect(() => parseLimits(['x:1.5'])).toThrow(/units must be/);
    expect(() => parseLimits(['x:99999999'])).toThrow(/units must be/);
    expect(() => parseLimits(['x', 'x:2'])).toThrow('limits[1]: limit "x" given twice');
    expect(() => parseLimits(['bad name'])).toThrow(/is not a limit/);
    expect(() => parseLimits(Array.from({ length: 17 }, (_, i) => `l${i}`))).toThrow(
      /at most 16 limits/,
    );
  });
});

describe('queue settings', () => {
  it('applies a partial change and keeps the rest', () => {
    const s = applySettings(defaultQueueSettings, { discipline: 'fair', rate: 5 });
    expect(s).toMatchObject({ discipline: 'fair', rate: 5, burst: null, concurrency: null });
    expect(applySettings(s, { concurrency: 2 })).toMatchObject({ rate: 5, concurrency: 2 });
    expect(applySettings(s, { rate: null })).toMatchObject({ rate: null });
  });

  it('refuses what cannot work, naming the setting', () => {
    expect(() => applySettings(defaultQueueSettings, { burst: 3 })).toThrow('burst: needs a rate');
    expect(() => applySettings(defaultQueueSettings, { groupBurst: 3 })).toThrow(
      'groupBurst: needs a groupRate',
    );
    expect(() => applySettings(defaultQueueSettings, { rate: 0 })).toThrow(/^rate: must be/);
    expect(() => applySettings(defaultQueueSettings, { concurrency: 1.5 })).toThrow(
      /^concurrency: must be a whole number/,
    );
    expect(() => applySettings(defaultQueueSettings, { weights: { a: 0 } })).toThrow(
      /^weights\["a"\]: must be from/,
    );
  });

  it('ranks by priority except in fifo queues, and steps fair tags by 1/weight', () => {
    expect(rankOf('priority', 7)).toBe(7);
    expect(rankOf('fair', 7)).toBe(7);
    expect(rankOf('fifo', 7)).toBe(0);
    const s = applySettings(defaultQueueSettings, { discipline: 'fair', weights: { big: 4 } });
    expect(fairStep(s, 'big')).toBe(0.25);
    expect(fairStep(s, 'other')).toBe(1);
    // An inherited name is not a weight.
    expect(fairStep(s, 'constructor')).toBe(1);
  });
});

describe('token buckets', () => {
  it('start full, refill at the rate up to the burst', () => {
    const b = refill(undefined, 10, 5, 1_000);
    expect(available(b)).toBe(5);
    const empty = { tokens: 0, at: 1_000 };
    expect(available(refill(empty, 10, 5, 1_099))).toBe(0);
    expect(available(refill(empty, 10, 5, 1_100))).toBe(1);
    expect(available(refill(empty, 10, 5, 9_000))).toBe(5);
    // Fractions add up: three tenths and seven tenths are a token.
    expect(available({ tokens: 0.1 + 0.2 + 0.7, at: 0 })).toBe(1);
  });

  it('say how long until the next whole token', () => {
    expect(untilNextToken({ tokens: 0, at: 0 }, 50)).toBe(20);
    expect(untilNextToken({ tokens: 0.5, at: 0 }, 50)).toBe(10);
    expect(untilNextToken({ tokens: 1, at: 0 }, 50)).toBe(0);
  });
});

describe('queue flow', () => {
  it('counts jobs in and out over 1, 5 and 15 minutes, and forgets what is older', () => {
    const clock = new ManualClock(1_000_000);
    const flow = new QueueFlow(clock);
    for (let i = 0; i < 30; i++) flow.count('q', 'in');
    flow.count('q', 'out', 6);
    clock.advance(2_000);
    flow.count('q', 'out', 6);
    let w = flow.windows().get('q')!;
    expect(w.slice(0, 6)).toEqual([30, 30, 30, 12, 12, 12]);
    // Starts were seen from 2 s ago on (the first one's one-second slot): 12 in 2 s.
    expect(w[6]).toBe(2);
    expect(ratesOf(w).in['1m']).toBe(0.5);
    clock.advance(90_000);
    w = flow.windows().get('q')!;
    expect(w.slice(0, 6)).toEqual([0, 30, 30, 0, 12, 12]);
    clock.advance(15 * 60_000);
    expect(flow.windows().has('q')).toBe(false);
  });

  it('snapshots for other nodes and reads theirs, refusing what is not one', () => {
    const clock = new ManualClock(5_000);
    const flow = new QueueFlow(clock);
    flow.count('a', 'in', 2);
    const parsed = parseSnapshot(flow.snapshot());
    expect(parsed?.get('a')?.[0]).toBe(2);
    expect(parseSnapshot('not json')).toBeUndefined();
    expect(parseSnapshot('{"queues":{"a":[1,2],"b":[1,1,1,1,1,1,-1]}}')?.size).toBe(0);
  });
});
