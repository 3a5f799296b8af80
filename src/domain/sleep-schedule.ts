/**
 * A worker's sleep schedule (Flamenco): on some days of the week, from a start to an end time of
 * day in a time zone, the worker is asleep; outside that window it is awake. Pure: the instant
 * is given (the broker's injected clock), local time comes from Intl for the schedule's zone, so
 * daylight saving time changes and windows that cross midnight follow the wall clock.
 *
 * A window whose end is before its start crosses midnight: it starts on a listed day and ends on
 * the next day, whether or not that day is listed. A window whose start equals its end is the
 * whole day. Times are HH:MM, minute resolution; the window includes its start and excludes its
 * end. A local time that does not exist (skipped by a DST change) is never reached: the window
 * starts at the first minute after the gap that lies inside it.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface SleepSchedule {
  /** Whether the schedule applies at all (an inactive one is kept but ignored). */
  active: boolean;
  /** The days a window starts on; at least one. */
  days: Weekday[];
  /** HH:MM, local time in `timeZone`. */
  start: string;
  /** HH:MM, local time in `timeZone`. */
  end: string;
  /** An IANA time zone, e.g. `Europe/Amsterdam` or `UTC`. */
  timeZone: string;
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Whether `zone` is a time zone Intl knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with a schedule (naming the field), or null. */
export function scheduleProblem(s: SleepSchedule): string | null {
  if (s.days.length === 0) return 'days: give at least one day (mon..sun)';
  for (const d of s.days) {
    if (!WEEKDAYS.includes(d)) return `days: "${d}" is not one of ${WEEKDAYS.join(', ')}`;
  }
  if (!TIME.test(s.start)) return `start: "${s.start}" is not a time of day HH:MM`;
  if (!TIME.test(s.end)) return `end: "${s.end}" is not a time of day HH:MM`;
  if (!isTimeZone(s.timeZone)) return `timeZone: "${s.timeZone}" is not a known IANA time zone`;
  return null;
}

const minutesOf = (hhmm: string): number => {
  const m = TIME.exec(hhmm);
  if (m === null) throw new RangeError(`not a time of day: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
};

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The local day of the week (0 = Monday) and minute of the day at `at` in `zone`. */
export function localTime(at: number, zone: string): { day: number; minute: number } {
  let weekday = '';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(zone).formatToParts(at)) {
    if (part.type === 'weekday') weekday = part.value.toLowerCase();
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  const day = WEEKDAYS.indexOf(weekday as Weekday);
  if (day < 0) throw new RangeError(`unexpected weekday "${weekday}" from Intl`);
  return { day, minute: hour * 60 + minute };
}

/** Whether the schedule has the worker asleep at `at` (false for an inactive schedule). */
export function asleepAt(s: SleepSchedule, at: number): boolean {
  if (!s.active) return false;
  const { day, minute } = localTime(at, s.timeZone);
  const start = minutesOf(s.start);
  const end = minutesOf(s.end);
  const listed = (d: number): boolean => s.days.includes(WEEKDAYS[(d + 7) % 7]!);
  if (start === end) return listed(day);
  if (start < end) return listed(day) && minute >= start && minute < end;
  // Crosses midnight: the evening part of a listed day, or the morning after one.
  return (listed(day) && minute >= start) || (listed(day - 1) && minute < end);
}

const MINUTE = 60_000;
/** A week and a day: every schedule changes within a week, if it changes at all. */
const HORIZON_MINUTES = 8 * 24 * 60;

/**
 * The first instant after `at` when `asleepAt` changes, or null if it never does (inactive, or
 * asleep all week). Walks minute by minute (boundaries are on whole minutes in every zone Intl
 * knows today), at most eight days: only for rare calls (a status set by hand, a timer).
 */
export function nextBoundary(s: SleepSchedule, at: number): number | null {
  if (!s.active) return null;
  const now = asleepAt(s, at);
  let t = Math.floor(at / MINUTE) * MINUTE + MINUTE;
  for (let i = 0; i < HORIZON_MINUTES; i++, t += MINUTE) {
    if (asleepAt(s, t) !== now) return t;
  }
  return null;
}
