/**
 * The flags that choose jobs, shared by `switchyard jobs` and the action verbs, turned into a
 * JobFilter. Pure: the clock is a parameter. Values are checked here so that a bad one is named
 * by its flag, not by the field of the request the broker would refuse.
 */
import { jobStates, type JobState } from '../domain/job.js';
import type { JobFilter } from '../protocol/api.js';
import { ID_MESSAGE, ID_PATTERN } from '../protocol/ids.js';
import { UsageError } from './errors.js';

/** The filter flags, as commander gives them. */
export interface FilterFlags {
  state?: string;
  queue?: string;
  type?: string;
  worker?: string;
  group?: string;
  search?: string;
  attr?: string;
  createdAfter?: string;
  createdBefore?: string;
  finishedAfter?: string;
  finishedBefore?: string;
}

/** The time flags, each with its field of the filter. */
const TIME_FLAGS = [
  ['--created-after', 'createdAfter'],
  ['--created-before', 'createdBefore'],
  ['--finished-after', 'finishedAfter'],
  ['--finished-before', 'finishedBefore'],
] as const;

/**
 * The JobFilter the flags describe; `{}` when none is given.
 * @throws UsageError naming the flag that is wrong.
 */
export function jobFilter(flags: FilterFlags, now: number): JobFilter {
  const filter: JobFilter = {};
  if (flags.state !== undefined) filter.state = parseStates('--state', flags.state).join(',');
  if (flags.queue !== undefined) filter.queue = flags.queue;
  if (flags.type !== undefined) filter.type = flags.type;
  if (flags.worker !== undefined) filter.worker = flags.worker;
  if (flags.group !== undefined) {
    const group = flags.group.trim().toLowerCase();
    if (!/^[0-9a-f]{12}$/.test(group)) {
      throw new UsageError(
        `--group: must be an error group key (12 hex digits, as switchyard failed shows), got "${flags.group}"`,
      );
    }
    filter.group = group;
  }
  if (flags.search !== undefined) {
    if (flags.search === '') throw new UsageError('--search: must not be empty');
    filter.search = flags.search;
  }
  if (flags.attr !== undefined) {
    if (!/^[^=]+(=.*)?$/s.test(flags.attr)) {
      throw new UsageError(`--attr: must be KEY or KEY=VALUE, got "${flags.attr}"`);
    }
    filter.attr = flags.attr;
  }
  for (const [flag, field] of TIME_FLAGS) {
    const value = flags[field];
    if (value !== undefined) filter[field] = parseTime(flag, value, now);
  }
  return filter;
}

/** Whether a filter narrows anything: `{}` is every job. */
export function isEmptyFilter(filter: JobFilter): boolean {
  return Object.keys(filter).length === 0;
}

/** A comma-separated list of job states (spaces allowed), each checked. */
export function parseStates(flag: string, value: string): JobState[] {
  const states = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (states.length === 0) {
    throw new UsageError(`${flag}: must name one or more states: ${jobStates.join(', ')}`);
  }
  for (const state of states) {
    if (!jobStates.includes(state as JobState)) {
      throw new UsageError(
        `${flag}: "${state}" is not a job state; the states are ${jobStates.join(', ')}`,
      );
    }
  }
  return states as JobState[];
}

const ID = new RegExp(ID_PATTERN);

/** A job id as given on the command line, checked. */
export function parseId(what: string, value: string): string {
  if (!ID.test(value)) throw new UsageError(`${what}: "${value}" is not a job id: ${ID_MESSAGE}`);
  return value;
}

const AGE_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A time flag's value as an ISO date-time: an age back from `now` (`90s`, `30m`, `2h`, `7d`),
 * or a date or date and time Date.parse reads (`2024-05-01`, `2024-05-01T12:00:00Z`; without a
 * zone, a date and time is local time).
 */
export function parseTime(flag: string, value: string, now: number): string {
  const trimmed = value.trim();
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(trimmed);
  const ms = m
    ? now - Number(m[1]) * (AGE_UNIT[m[2] as string] as number) * 1000
    : Date.parse(trimmed);
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    throw new UsageError(
      `${flag}: must be a date and time (2024-05-01T12:00:00Z, 2024-05-01) or an age (90s, 30m, 2h, 7d), got "${value}"`,
    );
  }
  return new Date(ms).toISOString();
}
