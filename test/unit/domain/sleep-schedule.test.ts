import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import {
  asleepAt,
  localTime,
  nextBoundary,
  scheduleProblem,
  type SleepSchedule,
} from '../../../src/domain/sleep-schedule.js';
import {
  defaultControl,
  effectiveStatus,
  nextCheck,
  withSchedule,
  withStatus,
} from '../../../src/domain/worker-control.js';

const at = (iso: string): number => Date.parse(iso);
const night: SleepSchedule = {
  active: true,
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '22:00',
  end: '06:00',
  timeZone: 'Europe/Amsterdam',
};

describe('sleep schedule: the window', () => {
  it('reads local time in the zone', () => {
    // 2026-12-07 is a Monday; Amsterdam is UTC+1 in winter.
    expect(localTime(at('2026-12-07T21:30:00Z'), 'Europe/Amsterdam')).toEqual({
      day: 0,
      minute: 22 * 60 + 30,
    });
    expect(localTime(at('2026-12-07T21:30:00Z'), 'America/New_York')).toEqual({
      day: 0,
      minute: 16 * 60 + 30,
    });
  });

  it('a window that crosses midnight starts on a listed day and ends the next morning', () => {
    const clock = new ManualClock(at('2026-12-07T20:59:00Z')); // Mon 21:59 local
    expect(asleepAt(night, clock.now())).toBe(false);
    clock.advance(60_000); // Mon 22:00
    expect(asleepAt(night, clock.now())).toBe(true);
    clock.set(at('2026-12-08T04:59:00Z')); // Tue 05:59
    expect(asleepAt(night, clock.now())).toBe(true);
    clock.advance(60_000); // Tue 06:00: the end is not in the window
    expect(asleepAt(night, clock.now())).toBe(false);
    // Friday night runs into Saturday morning, though Saturday is not listed.
    clock.set(at('2026-12-12T03:00:00Z')); // Sat 04:00
    expect(asleepAt(night, clock.now())).toBe(true);
    // Saturday night is not a window; nor is Monday morning (Sunday is not listed).
    clock.set(at('2026-12-12T22:00:00Z')); // Sat 23:00
    expect(asleepAt(night, clock.now())).toBe(false);
    clock.set(at('2026-12-14T04:00:00Z')); // Mon 05:00
    expect(asleepAt(night, clock.now())).toBe(false);
  });

  it('a window within one day, and a whole day', () => {
    const lunch: SleepSchedule = {
      ...night,
      days: ['wed'],
      start: '12:00',
      end: '13:00',
      timeZone: 'UTC',
    };
    expect(asleepAt(lunch, at('2026-12-09T12:30:00Z'))).toBe(true);
    expect(asleepAt(lunch, at('2026-12-09T13:00:00Z'))).toBe(false);
    expect(asleepAt(lunch, at('2026-12-10T12:30:00Z'))).toBe(false);
    const sunday: SleepSchedule = { ...lunch, days: ['sun'], start: '00:00', end: '00:00' };
    expect(asleepAt(sunday, at('2026-12-13T23:59:00Z'))).toBe(true);
    expect(asleepAt(sunday, at('2026-12-14T00:00:00Z'))).toBe(false);
  });

  it('an inactive schedule never sleeps', () => {
    expect(asleepAt({ ...night, active: false }, at('2026-12-07T23:00:00Z'))).toBe(false);
    expect(nextBoundary({ ...night, active: false }, at('2026-12-07T23:00:00Z'))).toBeNull();
  });

  it('follows the wall clock across a DST change', () => {
    // Europe/Amsterdam leaves summer time on 2026-10-25 at 03:00 local (01:00 UTC).
    const sunday: SleepSchedule = { ...night, days: ['sat'], start: '23:00', end: '04:00' };
    // Saturday 23:00 local is 21:00 UTC (summer time, UTC+2).
    expect(nextBoundary(sunday, at('2026-10-24T20:00:00Z'))).toBe(at('2026-10-24T21:00:00Z'));
    // Sunday 04:00 local is 03:00 UTC after the change (UTC+1): the night is an hour longer.
    expect(nextBoundary(sunday, at('2026-10-24T21:00:00Z'))).toBe(at('2026-10-25T03:00:00Z'));
    expect(asleepAt(sunday, at('2026-10-25T02:30:00Z'))).toBe(true);
    // Into summer time (2026-03-29, 02:00 → 03:00 local): a window starting at 02:30 local
    // starts when the clock reaches 03:00 (the first minute after the gap inside it).
    const spring: SleepSchedule = { ...night, days: ['sun'], start: '02:30', end: '05:00' };
    expect(nextBoundary(spring, at('2026-03-28T23:00:00Z'))).toBe(at('2026-03-29T01:00:00Z'));
    expect(nextBoundary(spring, at('2026-03-29T01:00:00Z'))).toBe(at('2026-03-29T03:00:00Z'));
  });

  it('names what is wrong with a schedule', () => {
    expect(scheduleProblem(night)).toBeNull();
    expect(scheduleProblem({ ...night, timeZone: 'Mars/Olympus' })).toContain('timeZone');
    expect(scheduleProblem({ ...night, start: '24:00' })).toContain('start');
    expect(scheduleProblem({ ...night, days: [] })).toContain('days');
  });
});

describe('status and schedule (a status set by hand holds until the next boundary)', () => {
  it('the schedule decides while nothing was set by hand', () => {
    const clock = new ManualClock(at('2026-12-07T20:00:00Z')); // Mon 21:00
    const c = withSchedule(defaultControl(), night, clock.now());
    expect(effectiveStatus(c, clock.now())).toBe('awake');
    expect(nextCheck(c, clock.now())).toBe(at('2026-12-07T21:00:00Z'));
    clock.advance(60 * 60_000);
    expect(effectiveStatus(c, clock.now())).toBe('asleep');
  });

  it('a status set by hand inside the window holds until its end, then the schedule again', () => {
    const clock = new ManualClock(at('2026-12-07T22:00:00Z')); // Mon 23:00, asleep
    let c = withSchedule(defaultControl(), night, clock.now());
    expect(effectiveStatus(c, clock.now())).toBe('asleep');
    c = withStatus(c, 'awake', clock.now());
    expect(effectiveStatus(c, clock.now())).toBe('awake');
    expect(c.statusUntil).toBe(at('2026-12-08T05:00:00Z')); // Tue 06:00 local
    clock.set(at('2026-12-08T04:59:00Z'));
    expect(effectiveStatus(c, clock.now())).toBe('awake');
    // Past the boundary the schedule decides: awake now, asleep again on Tuesday night.
    clock.set(at('2026-12-08T21:00:00Z'));
    expect(effectiveStatus(c, clock.now())).toBe('asleep');
  });

  it('without a schedule a status holds until changed; a drain is never overridden', () => {
    const c = withStatus(defaultControl(), 'asleep', 0);
    expect(effectiveStatus(c, 10 ** 12)).toBe('asleep');
    const d = withStatus(withSchedule(defaultControl(), night, 0), 'drain', 0);
    expect(effectiveStatus(d, at('2026-12-08T12:00:00Z'))).toBe('drain');
    expect(nextCheck(d, 0)).toBeNull();
  });

  it('a new schedule takes over from a status set before it', () => {
    const now = at('2026-12-07T22:00:00Z'); // Mon 23:00
    const c = withSchedule(withStatus(defaultControl(), 'awake', now - 1000), night, now);
    expect(effectiveStatus(c, now)).toBe('asleep');
  });
});
