/**
 * Queues as objects (BEHAVIOURS 23, 28, 31, 48): a queue's discipline, its rate limits and its
 * concurrency, and named concurrency limits (HTCondor's `concurrency_limits`). Pure: the
 * dispatcher (src/broker/dispatcher.ts) and the queue registry (src/broker/queues.ts) apply it.
 *
 * Disciplines order the queued jobs of a queue. Each job is given, when it enters the queue, a
 * `rank` and a `tag`, and dispatch takes the jobs of a needs in the order (rank desc, re-queued
 * ahead first, tag, id), one index for every discipline:
 * - `priority` (default): rank = priority, tag 0: priority, then age.
 * - `fifo`: rank 0, tag 0: age only (a job's priority is kept and shown, and not used).
 * - `fair`: rank = priority, tag = the job's virtual finish time under start-time fair queueing
 *   (Desaster's SFQ) between the jobs' `group` keys: a group's next job starts where the queue's
 *   virtual time is (the tag of the job about to be served) or where the group's previous job
 *   finished, whichever is later, and finishes 1/weight later. A group with 100,000 jobs queued
 *   and a group with ten thus alternate from the moment the ten arrive.
 */
import { invalid } from './errors.js';

export const disciplines = ['priority', 'fifo', 'fair'] as const;
export type Discipline = (typeof disciplines)[number];

export interface QueueSettings {
  discipline: Discipline;
  /** Jobs started per second at most (a token bucket), or null for no limit. */
  rate: number | null;
  /** The bucket's size: how many may start at once after a quiet spell (default: max(1, rate)). */
  burst: number | null;
  /** The same, per group key of the jobs (HTB's classes), or null. */
  groupRate: number | null;
  groupBurst: number | null;
  /** Jobs of the queue running at once at most, across nodes, or null. */
  concurrency: number | null;
  /** fair: weights of groups (default 1): a group of weight 2 gets twice the starts. */
  weights: Record<string, number>;
}

export const defaultQueueSettings: Readonly<QueueSettings> = Object.freeze({
  discipline: 'priority',
  rate: null,
  burst: null,
  groupRate: null,
  groupBurst: null,
  concurrency: null,
  weights: Object.freeze({}) as Record<string, number>,
});

/** A queue as the store keeps it (only queues created with settings or paused have a row). */
export interface QueueRecord {
  name: string;
  settings: QueueSettings;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

/** Limits of what a setting may say. */
export const queueBounds = {
  /** The smallest rate, burst and weight: one job per 1,000 s. */
  minRate: 0.001,
  maxRate: 1_000_000,
  maxConcurrency: 1_000_000,
  maxWeights: 10_000,
  maxWeight: 1_000,
  groupMaxLength: 200,
} as const;

/** One unit or more of a named concurrency limit, as a job asks for it (`"license:3"`). */
export interface LimitUse {
  name: string;
  units: number;
}

export const LIMIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$/;
export const MAX_LIMITS_PER_JOB = 16;
export const MAX_LIMIT_UNITS = 1_000_000;

/**
 * Parses a job's `limits` (`"name"` for one unit, `"name:N"` for N), sorted by name; refuses
 * bad names, units and a name given twice, naming the entry.
 */
export function parseLimits(entries: readonly string[], field = 'limits'): LimitUse[] {
  if (entries.length > MAX_LIMITS_PER_JOB) {
    throw invalid(`${field}: at most ${MAX_LIMITS_PER_JOB} limits per job`);
  }
  const seen = new Map<string, LimitUse>();
  entries.forEach((entry, i) => {
    const colon = entry.lastIndexOf(':');
    const name = colon < 0 ? entry : entry.slice(0, colon);
    const unitsText = colon < 0 ? '1' : entry.slice(colon + 1);
    if (!LIMIT_NAME.test(name)) {
      throw invalid(
        `${field}[${i}]: ${JSON.stringify(entry)} is not a limit: a name of letters, digits ` +
          `and _ . - / (at most 100), optionally followed by :units`,
      );
    }
    const units = /^\d{1,7}$/.test(unitsText) ? Number(unitsText) : NaN;
    if (!(units >= 1 && units <= MAX_LIMIT_UNITS)) {
      throw invalid(
        `${field}[${i}]: ${JSON.stringify(entry)}: units must be a whole number from 1 to ${MAX_LIMIT_UNITS}`,
      );
    }
    if (seen.has(name)) throw invalid(`${field}[${i}]: limit ${JSON.stringify(name)} given twice`);
    seen.set(name, { name, units });
  });
  return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `license:3`, or `db` for one unit: how the API shows a job's limits. */
export function formatLimit(use: LimitUse): string {
  return use.units === 1 ? use.name : `${use.name}:${use.units}`;
}

/** The rank a job gets in a queue of this discipline (see the file comment). */
export function rankOf(discipline: Discipline, priority: number): number {
  return discipline === 'fifo' ? 0 : priority;
}

/** The group a job of a fair queue is counted in: its `group`, or the one shared by jobs without. */
export function fairGroup(group: string | null): string {
  return group ?? '';
}

/** How far a group's tag moves per job: 1/weight. */
export function fairStep(settings: QueueSettings, group: string): number {
  const w = Object.hasOwn(settings.weights, group) ? settings.weights[group]! : 1;
  return 1 / w;
}

/** The bucket size of a rate: the burst given, or one second's worth (at least one job). */
export function burstOf(rate: number, burst: number | null): number {
  return burst ?? Math.max(1, rate);
}

/** Whether dispatch of the queue needs more than the plain claim (see src/broker/dispatcher.ts). */
export function isGated(settings: QueueSettings): boolean {
  return settings.rate !== null || settings.groupRate !== null || settings.concurrency !== null;
}

/** Whether the settings say nothing beyond the defaults (such a queue needs no row). */
export function isDefaultSettings(s: QueueSettings): boolean {
  return (
    s.discipline === 'priority' &&
    s.rate === null &&
    s.burst === null &&
    s.groupRate === null &&
    s.groupBurst === null &&
    s.concurrency === null &&
    Object.keys(s.weights).length === 0
  );
}

/** Settings as given by a client (a partial update), checked; unknown names are the schema's. */
export interface QueueSettingsPatch {
  discipline?: Discipline;
  rate?: number | null;
  burst?: number | null;
  groupRate?: number | null;
  groupBurst?: number | null;
  concurrency?: number | null;
  weights?: Record<string, number>;
}

/** Applies a patch, refusing what cannot work together, with the field named. */
export function applySettings(base: QueueSettings, patch: QueueSettingsPatch): QueueSettings {
  const next: QueueSettings = { ...base, weights: { ...base.weights } };
  if (patch.discipline !== undefined) next.discipline = patch.discipline;
  for (const key of ['rate', 'burst', 'groupRate', 'groupBurst'] as const) {
    const value = patch[key];
    if (value === undefined) continue;
    if (value !== null && !(value >= queueBounds.minRate && value <= queueBounds.maxRate)) {
      throw invalid(
        `${key}: must be a number from ${queueBounds.minRate} to ${queueBounds.maxRate}, or null`,
      );
    }
    next[key] = value;
  }
  if (patch.concurrency !== undefined) {
    const c = patch.concurrency;
    if (c !== null && !(Number.isInteger(c) && c >= 0 && c <= queueBounds.maxConcurrency)) {
      throw invalid(
        `concurrency: must be a whole number from 0 to ${queueBounds.maxConcurrency}, or null`,
      );
    }
    next.concurrency = c;
  }
  if (patch.weights !== undefined) {
    const entries = Object.entries(patch.weights);
    if (entries.length > queueBounds.maxWeights) {
      throw invalid(`weights: at most ${queueBounds.maxWeights} groups`);
    }
    for (const [group, w] of entries) {
      if (group.length > queueBounds.groupMaxLength) {
        throw invalid(`weights: a group name is longer than ${queueBounds.groupMaxLength}`);
      }
      if (!(w >= queueBounds.minRate && w <= queueBounds.maxWeight)) {
        throw invalid(
          `weights[${JSON.stringify(group)}]: must be from ${queueBounds.minRate} to ${queueBounds.maxWeight}`,
        );
      }
    }
    next.weights = Object.fromEntries(entries);
  }
  if (next.burst !== null && next.rate === null) throw invalid('burst: needs a rate');
  if (next.groupBurst !== null && next.groupRate === null) {
    throw invalid('groupBurst: needs a groupRate');
  }
  return next;
}

/**
 * Reads settings kept as JSON (a row written by this or an older version): unknown or missing
 * fields take the defaults.
 */
export function settingsFromJson(text: string): QueueSettings {
  const raw = JSON.parse(text) as Partial<QueueSettings>;
  return {
    discipline: disciplines.includes(raw.discipline as Discipline)
      ? (raw.discipline as Discipline)
      : 'priority',
    rate: typeof raw.rate === 'number' ? raw.rate : null,
    burst: typeof raw.burst === 'number' ? raw.burst : null,
    groupRate: typeof raw.groupRate === 'number' ? raw.groupRate : null,
    groupBurst: typeof raw.groupBurst === 'number' ? raw.groupBurst : null,
    concurrency: typeof raw.concurrency === 'number' ? raw.concurrency : null,
    weights:
      typeof raw.weights === 'object' && raw.weights !== null
        ? (raw.weights as Record<string, number>)
        : {},
  };
}
