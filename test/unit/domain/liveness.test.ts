import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import {
  LivenessTracker,
  deadline,
  isAlive,
  livenessWindow,
  type LivenessSettings,
} from '../../../src/domain/liveness.js';

const settings: LivenessSettings = { pingIntervalMs: 1_000, maxLiveness: 3 };

describe('liveness arithmetic', () => {
  it('the window is the ping interval times max liveness', () => {
    expect(livenessWindow(settings)).toBe(3_000);
    expect(livenessWindow({ pingIntervalMs: 250, maxLiveness: 8 })).toBe(2_000);
  });

  it('the deadline is the last message plus the window', () => {
    expect(deadline(10_000, settings)).toBe(13_000);
  });

  it('a worker is alive when just heard from', () => {
    expect(isAlive(10_000, 10_000, settings)).toBe(true);
  });

  it('a worker is still alive exactly at its deadline', () => {
    expect(isAlive(10_000, 13_000, settings)).toBe(true);
  });

  it('a worker is dead one millisecond after its deadline', () => {
    expect(isAlive(10_000, 13_001, settings)).toBe(false);
  });
});

describe('LivenessTracker', () => {
  function setup(start = 100_000) {
    return { clock: new ManualClock(start), tracker: new LivenessTracker(settings) };
  }

  it('tracks a touched worker and remembers when it was heard from', () => {
    const { clock, tracker } = setup();
    expect(tracker.has('w1')).toBe(false);
    expect(tracker.lastHeard('w1')).toBeUndefined();
    tracker.touch('w1', clock.now());
    expect(tracker.has('w1')).toBe(true);
    expect(tracker.lastHeard('w1')).toBe(100_000);
  });

  it('keeps a worker alive through its whole window and declares it dead just after', () => {
    const { clock, tracker } = setup();
    tracker.touch('w1', clock.now());
    clock.advance(3_000);
    expect(tracker.sweep(clock.now())).toEqual([]);
    expect(tracker.has('w1')).toBe(true);
    clock.advance(1);
    expect(tracker.sweep(clock.now())).toEqual(['w1']);
  });

  it('sweep forgets the dead: they are not reported twice', () => {
    const { clock, tracker } = setup();
    tracker.touch('w1', clock.now());
    clock.advance(5_000);
    expect(tracker.sweep(clock.now())).toEqual(['w1']);
    expect(tracker.has('w1')).toBe(false);
    expect(tracker.lastHeard('w1')).toBeUndefined();
    expect(tracker.sweep(clock.now())).toEqual([]);
  });

  it('touch renews the window', () => {
    const { clock, tracker } = setup();
    tracker.touch('w1', clock.now());
    clock.advance(2_000);
    tracker.touch('w1', clock.now());
    expect(tracker.lastHeard('w1')).toBe(102_000);
    clock.advance(2_000); // 4 s after the first touch, 2 s after the second
    expect(tracker.sweep(clock.now())).toEqual([]);
    clock.advance(1_001);
    expect(tracker.sweep(clock.now())).toEqual(['w1']);
  });

  it('a worker touched exactly at its deadline survives the next sweep', () => {
    const { clock, tracker } = setup();
    tracker.touch('w1', clock.now());
    clock.advance(3_000);
    tracker.touch('w1', clock.now());
    clock.advance(1);
    expect(tracker.sweep(clock.now())).toEqual([]);
    expect(tracker.has('w1')).toBe(true);
  });

  it('sweep returns only the dead and keeps the living', () => {
    const { clock, tracker } = setup();
    tracker.touch('old', clock.now());
    clock.advance(1_000);
    tracker.touch('middle', clock.now());
    clock.advance(1_000);
    tracker.touch('fresh', clock.now());
    clock.advance(2_500); // old: 4.5 s, middle: 3.5 s, fresh: 2.5 s
    expect(tracker.sweep(clock.now()).sort()).toEqual(['middle', 'old']);
    expect(tracker.has('fresh')).toBe(true);
    expect(tracker.has('old')).toBe(false);
    expect(tracker.has('middle')).toBe(false);
  });

  it('forget stops tracking a worker: it is never swept', () => {
    const { clock, tracker } = setup();
    tracker.touch('w1', clock.now());
    tracker.forget('w1');
    expect(tracker.has('w1')).toBe(false);
    clock.advance(10_000);
    expect(tracker.sweep(clock.now())).toEqual([]);
  });

  it('a forgotten worker touched again is tracked afresh', () => {
    const { clock, tracker } = setup();
    tracker.touch('w1', clock.now());
    tracker.forget('w1');
    clock.advance(10_000);
    tracker.touch('w1', clock.now());
    clock.advance(3_000);
    expect(tracker.sweep(clock.now())).toEqual([]);
  });

  it('nextDeadline is null with no workers', () => {
    expect(new LivenessTracker(settings).nextDeadline()).toBeNull();
  });

  it('nextDeadline is the earliest deadline among the tracked workers', () => {
    const { clock, tracker } = setup();
    tracker.touch('a', clock.now());
    clock.advance(500);
    tracker.touch('b', clock.now());
    expect(tracker.nextDeadline()).toBe(103_000);
    tracker.touch('a', clock.now());
    expect(tracker.nextDeadline()).toBe(103_500);
  });

  it('nextDeadline moves on after a sweep and becomes null when all are gone', () => {
    const { clock, tracker } = setup();
    tracker.touch('a', clock.now());
    clock.advance(2_000);
    tracker.touch('b', clock.now());
    clock.set(103_001);
    expect(tracker.sweep(clock.now())).toEqual(['a']);
    expect(tracker.nextDeadline()).toBe(105_000);
    tracker.forget('b');
    expect(tracker.nextDeadline()).toBeNull();
  });

  it('sweeping at nextDeadline kills nobody; one millisecond later kills the earliest', () => {
    const { clock, tracker } = setup();
    tracker.touch('a', clock.now());
    clock.advance(700);
    tracker.touch('b', clock.now());
    const next = tracker.nextDeadline() as number;
    expect(tracker.sweep(next)).toEqual([]);
    expect(tracker.sweep(next + 1)).toEqual(['a']);
  });

  it('works with ids of any type', () => {
    const tracker = new LivenessTracker<number>(settings);
    tracker.touch(7, 0);
    tracker.touch(8, 1_000);
    expect(tracker.sweep(3_500)).toEqual([7]);
    expect(tracker.has(8)).toBe(true);
  });

  it('uses its own settings', () => {
    const tracker = new LivenessTracker({ pingIntervalMs: 100, maxLiveness: 2 });
    tracker.touch('w', 0);
    expect(tracker.nextDeadline()).toBe(200);
    expect(tracker.sweep(200)).toEqual([]);
    expect(tracker.sweep(201)).toEqual(['w']);
  });
});
