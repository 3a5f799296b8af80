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
