/** Cron arithmetic: expressions in a time zone, and the plan of a tick on time or missed. */
import { describe, expect, it } from 'vitest';
import {
  MAX_COUNTED_TICKS,
  nextTimes,
  parseCron,
  planTick,
  timezoneProblem,
  type CronSpec,
} from '../../../src/domain/cron.js';

function spec(cron: string, timezone = 'UTC'): CronSpec {
  const parsed = parseCron(cron, timezone);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.spec;
}

const at = (iso: string): number => Date.parse(iso);
const isos = (times: number[]): string[] => times.map((t) => new Date(t).toISOString());

describe('parseCron', () => {
  it('reads an expression in its time zone, across a change of summer time', () => {
    // 02:30 on 29 March 2026 does not exist in Prague (clocks go 02:00 → 03:00).
    const daily = spec('30 9 * * *', 'Europe/Prague');
    expect(isos(nextTimes(daily, at('2026-03-27T12:00:00Z'), 3))).toEqual([
      '2026-03-28T08:30:00.000Z', // CET, UTC+1
      '2026-03-29T07:30:00.000Z', // CEST, UTC+2
      '2026-03-30T07:30:00.000Z',
    ]);
    expect(
      isos(nextTimes(spec('0 9 * * 1', 'America/New_York'), at('2030-06-01T00:00:00Z'), 1)),
    ).toEqual(['2030-06-03T13:00:00.000Z']);
  });

  it('reads seconds as a sixth field and nicknames', () => {
    expect(isos(nextTimes(spec('*/20 * * * * *'), at('2030-01-01T00:00:05Z'), 3))).toEqual([
      '2030-01-01T00:00:20.000Z',
      '2030-01-01T00:00:40.000Z',
      '2030-01-01T00:01:00.000Z',
    ]);
    expect(isos(nextTimes(spec('@daily'), at('2030-01-01T10:00:00Z'), 1))).toEqual([
      '2030-01-02T00:00:00.000Z',
    ]);
  });

  it('refuses a bad expression, naming what is wrong', () => {
    expect(parseCron('61 * * * *', 'UTC')).toEqual({
      problem: 'cron: "61 * * * *" is not a cron expression: Invalid value for minute: 61',
    });
    expect(parseCron('* * *', 'UTC')).toMatchObject({
      problem: expect.stringMatching(
        /^cron: "\* \* \*" is not a cron expression: invalid configuration format/,
      ),
    });
    // croner would read this as one date and time.
    expect(parseCron('2030-01-01T00:00:00', 'UTC')).toMatchObject({
      problem: expect.stringContaining('characters a cron expression cannot have'),
    });
    expect(parseCron('x'.repeat(201), 'UTC')).toEqual({
      problem: 'cron: longer than 200 characters',
    });
  });

  it('refuses a time zone that is not IANA', () => {
    expect(timezoneProblem('Europe/Prague')).toBeNull();
    expect(parseCron('* * * * *', 'Mars/Olympus')).toEqual({
      problem: 'timezone: "Mars/Olympus" is not an IANA time zone (such as UTC or Europe/Prague)',
    });
  });
});

describe('planTick', () => {
  const everyMinute = spec('* * * * *');
  const due = at('2030-01-01T10:00:00Z');

  it('fires a tick on time, and the next follows', () => {
    expect(planTick(everyMinute, 'once', due, due + 59_999)).toEqual({
      fire: true,
      tickAt: due,
      skipped: 0,
      nextAt: due + 60_000,
      missed: false,
    });
  });

  it('after downtime, once: one job for every missed tick, then the first after now', () => {
    // Down from before 10:00 until 10:04:30: 10:00 .. 10:04 came due, five ticks.
    expect(planTick(everyMinute, 'once', due, due + 4 * 60_000 + 30_000)).toEqual({
      fire: true,
      tickAt: due,
      skipped: 4,
      nextAt: due + 5 * 60_000,
      missed: true,
    });
  });

  it('after downtime, skip: no job, the first tick after now is next', () => {
    expect(planTick(everyMinute, 'skip', due, due + 4 * 60_000 + 30_000)).toEqual({
      fire: false,
      tickAt: due,
      skipped: 5,
      nextAt: due + 5 * 60_000,
      missed: true,
    });
  });

  it('counts at most MAX_COUNTED_TICKS missed ticks, and goes on from now', () => {
    const everySecond = spec('* * * * * *', 'Europe/Prague');
    // Two hours down: 7,200 ticks, counted up to the cap.
    const now = due + 7_200_000 + 500;
    expect(planTick(everySecond, 'once', due, now)).toEqual({
      fire: true,
      tickAt: due,
      skipped: MAX_COUNTED_TICKS - 1,
      nextAt: due + 7_201_000,
      missed: true,
    });
  });

  it('a tick late by exactly one interval is on time: it fires and the next is due now', () => {
    expect(planTick(everyMinute, 'skip', due, due + 60_000)).toEqual({
      fire: true,
      tickAt: due,
      skipped: 0,
      nextAt: due + 60_000,
      missed: false,
    });
  });
});
