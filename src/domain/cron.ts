/**
 * Cron arithmetic for schedules: parsing an expression in a time zone (croner), the next run
 * times, and the plan of one tick: fire, or skip, and the due time that follows. Pure: the
 * caller gives the time.
 *
 * Glossary: a schedule's *tick* is one of its cron times; the store keeps per schedule the due
 * time of its next tick (`nextAt`). A tick is *missed* when the tick after it was due before now
 * too (the broker was down for more than one interval).
 */
import { Cron } from 'croner';

/** How a schedule treats ticks that came due while no broker ran. */
export type MissedPolicy = 'once' | 'skip';
/** Whether a tick fires while the job of the previous one has not ended. */
export type OverlapPolicy = 'skip' | 'allow';

export const MAX_CRON_LENGTH = 200;
/**
 * Missed ticks are counted one by one up to this many (a cron time costs tens of microseconds
 * in a time zone, and the count is made in the tick's transaction); past it, the ticks up to
 * now pass uncounted.
 */
export const MAX_COUNTED_TICKS = 1_000;

/** A parsed expression in its time zone. */
export interface CronSpec {
  readonly cron: Cron;
  readonly expression: string;
  readonly timezone: string;
}

/** Whether `timezone` names an IANA time zone this runtime knows. */
export function timezoneProblem(timezone: string): string | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return null;
  } catch {
    return `timezone: "${timezone}" is not an IANA time zone (such as UTC or Europe/Prague)`;
  }
}

/**
 * Parses an expression (5 fields, or 6 with seconds first, or 7 with a year; `@daily` and the
 * like) in a time zone; returns the spec, or the message naming the problem.
 */
export function parseCron(
  expression: string,
  timezone: string,
): { spec: CronSpec } | { problem: string } {
  const tz = timezoneProblem(timezone);
  if (tz !== null) return { problem: tz };
  if (expression.length > MAX_CRON_LENGTH)
    return { problem: `cron: longer than ${MAX_CRON_LENGTH} characters` };
  // croner reads a string with ':' as one date and time, not as a pattern.
  if (!/^[A-Za-z0-9*/,#?@\- ]+$/.test(expression))
    return {
      problem: `cron: "${expression}" has characters a cron expression cannot have (letters, digits, spaces and * / , - # ? @ only)`,
    };
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone, paused: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/^CronPattern: /, '') : '';
    return { problem: `cron: "${expression}" is not a cron expression: ${message}` };
  }
  return { spec: { cron, expression, timezone } };
}

/** The first cron time strictly after `t`, or null when there is none. */
export function nextAfter(spec: CronSpec, t: number): number | null {
  const next = spec.cron.nextRun(new Date(t));
  return next === null ? null : next.getTime();
}

/** Up to `n` cron times strictly after `t`. */
export function nextTimes(spec: CronSpec, t: number, n: number): number[] {
  const out: number[] = [];
  let at = t;
  while (out.length < n) {
    const next = nextAfter(spec, at);
    if (next === null) break;
    out.push(next);
    at = next;
  }
  return out;
}

/** What one tick does: fire a job (for `tickAt`) or not, and the due time that follows. */
export interface TickPlan {
  /** The tick fires a job, unless the overlap rule skips it (the caller decides that). */
  fire: boolean;
  /** The due time the tick is for (the one read from the store). */
  tickAt: number;
  /** Ticks that pass without a job of their own (missed, merged into one job or skipped). */
  skipped: number;
  /** The due time of the next tick; null when the expression has no more. */
  nextAt: number | null;
  /** Whether the tick was missed (the one after it was due too). */
  missed: boolean;
}

/**
 * The plan of the tick due at `dueAt`, at `now` (≥ dueAt). On time (the tick after it not due
 * before now): fire, and the next tick follows. Missed (more than one interval late): the ticks
 * due before now are one lot; `once` fires one job for them all, `skip` fires none; either way
 * the next due time is the first from now on.
 */
export function planTick(
  spec: CronSpec,
  missed: MissedPolicy,
  dueAt: number,
  now: number,
): TickPlan {
  const following = nextAfter(spec, dueAt);
  if (following === null || following >= now) {
    return { fire: true, tickAt: dueAt, skipped: 0, nextAt: following, missed: false };
  }
  // Count the ticks due before now (dueAt, following, ...); the next is the first from now on.
  let count = 1;
  let at: number | null = following;
  while (at !== null && at < now && count < MAX_COUNTED_TICKS) {
    count++;
    at = nextAfter(spec, at);
  }
  const nextAt = at !== null && at < now ? nextAfter(spec, now) : at;
  return missed === 'once'
    ? { fire: true, tickAt: dueAt, skipped: count - 1, nextAt, missed: true }
    : { fire: false, tickAt: dueAt, skipped: count, nextAt, missed: true };
}
