import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../../../src/domain/clock.js';

describe('ManualClock', () => {
  it('starts at 0 by default', () => {
    expect(new ManualClock().now()).toBe(0);
  });

  it('starts at the given time', () => {
    expect(new ManualClock(1_700_000_000_000).now()).toBe(1_700_000_000_000);
  });

  it('does not move by itself', async () => {
    const clock = new ManualClock(5);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.now()).toBe(5);
  });

  it('advance moves it forward, cumulatively', () => {
    const clock = new ManualClock(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    clock.advance(750);
    expect(clock.now()).toBe(2_000);
    clock.advance(0);
    expect(clock.now()).toBe(2_000);
  });

  it('set jumps to a time, forward or back', () => {
    const clock = new ManualClock(1_000);
    clock.set(50_000);
    expect(clock.now()).toBe(50_000);
    clock.set(10);
    expect(clock.now()).toBe(10);
    clock.advance(5);
    expect(clock.now()).toBe(15);
  });

  it('is usable wherever a Clock is expected', () => {
    const clock: Clock = new ManualClock(42);
    expect(clock.now()).toBe(42);
  });
});

describe('systemClock', () => {
  it('reads the wall clock in milliseconds since the epoch', () => {
    const before = Date.now();
    const now = systemClock.now();
    const after = Date.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(after);
  });
});

describe('ManualClock timers', () => {
  it('fires a timeout when time reaches it, once, reading its due time', () => {
    const clock = new ManualClock(1_000);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 500);
    clock.advance(499);
    expect(seen).toEqual([]);
    clock.advance(1);
    expect(seen).toEqual([1_500]);
    clock.advance(10_000);
    expect(seen).toEqual([1_500]);
    expect(clock.now()).toBe(11_500);
  });

  it('fires an interval at every period passed, even within one advance', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const timer = clock.setInterval(() => seen.push(clock.now()), 100);
    clock.advance(350);
    expect(seen).toEqual([100, 200, 300]);
    timer.cancel();
    clock.advance(1_000);
    expect(seen).toEqual([100, 200, 300]);
  });

  it('fires timers in order of due time, then of setting', () => {
    const clock = new ManualClock(0);
    const order: string[] = [];
    clock.setTimeout(() => order.push('b'), 20);
    clock.setTimeout(() => order.push('a'), 10);
    clock.setTimeout(() => order.push('c'), 20);
    clock.advance(20);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('fires a timer set by a firing timer when it falls within the same advance', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 30);
    }, 10);
    clock.advance(100);
    expect(seen).toEqual([10, 40]);
  });

  it('does not fire a cancelled timer, and counts what is pending', () => {
    const clock = new ManualClock(0);
    let fired = false;
    const timer = clock.setTimeout(() => (fired = true), 10);
    expect(clock.pending).toBe(1);
    timer.cancel();
    expect(clock.pending).toBe(0);
    clock.advance(100);
    expect(fired).toBe(false);
  });

  it('set forward fires what falls due at its due time; set backward fires nothing', () => {
    const clock = new ManualClock(100);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 50);
    clock.set(50);
    expect(seen).toEqual([]);
    clock.set(500);
    expect(seen).toEqual([150]);
  });
});

describe('systemClock timers', () => {
  it('fires a timeout after its delay, and not a cancelled one', async () => {
    let fired = 0;
    let cancelledFired = false;
    systemClock.setTimeout(() => fired++, 5);
    systemClock.setTimeout(() => (cancelledFired = true), 5).cancel();
    await new Promise((r) => setTimeout(r, 50));
    expect(fired).toBe(1);
    expect(cancelledFired).toBe(false);
  });

  it('repeats an interval until cancelled', async () => {
    let count = 0;
    const timer = systemClock.setInterval(() => count++, 5);
    await new Promise((r) => setTimeout(r, 60));
    timer.cancel();
    const seen = count;
    expect(seen).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 30));
    expect(count).toBe(seen);
  });
});
