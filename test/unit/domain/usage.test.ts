import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import {
  FINE_INTERVAL_MS,
  MAX_SAMPLE_JOBS,
  UsageSeries,
  resolutionFor,
  type UsageSample,
} from '../../../src/domain/usage.js';

const memory = { rss: 100, total: 1000, free: 500 };
const sample = (at: number, cpu: number, jobs: UsageSample['jobs'] = []): UsageSample => ({
  at,
  cpu,
  memory,
  jobs,
});

describe('usage series', () => {
  it('keeps at most one fine sample per interval, however often heartbeats come', () => {
    const clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
    const series = new UsageSeries();
    let kept = 0;
    for (let i = 0; i < 1000; i++) {
      if (series.add(sample(clock.now(), 0.5)).fine !== null) kept++;
      clock.advance(100);
    }
    // 100 s of heartbeats every 100 ms: one per 5 s.
    expect(kept).toBe(100_000 / FINE_INTERVAL_MS);
  });

  it('averages each minute once a later minute begins', () => {
    const clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
    const series = new UsageSeries();
    const writes = [];
    for (let i = 0; i < 12; i++) {
      // 0.2 and 0.4 alternating in the first minute, 1.0 in the second.
      const cpu = clock.now() < Date.parse('2026-12-07T10:01:00Z') ? (i % 2 ? 0.4 : 0.2) : 1;
      writes.push(
        series.add(sample(clock.now(), cpu, [{ jobId: '7', cpu: cpu * 2, rss: 1000 * (i + 1) }])),
      );
      clock.advance(10_000);
    }
    const minutes = writes.map((w) => w.minute).filter((m) => m !== null);
    expect(minutes).toHaveLength(1);
    const first = minutes[0]!;
    expect(first.at).toBe(Date.parse('2026-12-07T10:00:00Z'));
    expect(first.cpu).toBeCloseTo(0.3);
    expect(first.memory).toEqual(memory);
    expect(first.jobs).toEqual([{ jobId: '7', cpu: expect.closeTo(0.6), rss: 3500 }]);
    // The minute in progress comes out when the series is flushed.
    expect(series.flush()).toMatchObject({ at: Date.parse('2026-12-07T10:01:00Z'), cpu: 1 });
    expect(series.flush()).toBeNull();
  });

  it('bounds the jobs of a sample and of a minute, and drops values that are not numbers', () => {
    const series = new UsageSeries();
    const many = Array.from({ length: 5000 }, (_, i) => ({ jobId: String(i), cpu: 1, rss: 1 }));
    const w = series.add({ at: 0, cpu: Number.NaN, memory: null, jobs: many });
    expect(w.fine!.jobs).toHaveLength(MAX_SAMPLE_JOBS);
    expect(w.fine!.cpu).toBeNull();
    const more = Array.from({ length: 5000 }, (_, i) => ({ jobId: `x${i}`, cpu: 1, rss: 1 }));
    series.add({ at: 1000, cpu: 0, memory: null, jobs: more });
    expect(series.flush()!.jobs.length).toBeLessThanOrEqual(MAX_SAMPLE_JOBS);
  });

  it('ignores samples from the past', () => {
    const series = new UsageSeries();
    expect(series.add(sample(100_000, 0.1)).fine).not.toBeNull();
    expect(series.add(sample(50_000, 0.1))).toEqual({ fine: null, minute: null });
  });

  it('serves the last hour fine and older times by the minute', () => {
    const now = 10 * 3_600_000;
    expect(resolutionFor(now - 3_600_000, now)).toBe('fine');
    expect(resolutionFor(now - 3_600_001, now)).toBe('minute');
  });
});
