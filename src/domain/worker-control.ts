/**
 * What an operator decides about a worker, kept per worker id in the store so that it holds when
 * the worker reconnects (to any node) and when the broker restarts: its status, its sleep
 * schedule, and the queues and job types it serves when they differ from what it announced.
 *
 * Status and schedule (Flamenco's rule): a status set by hand applies until the schedule's next
 * boundary (the next time the schedule would wake or put the worker to sleep); from then on the
 * schedule decides again. Without an active schedule a status set by hand holds until changed.
 * `drain` is never overridden by a schedule: a draining worker leaves.
 */
import { asleepAt, nextBoundary, type SleepSchedule } from './sleep-schedule.js';

/** awake: takes jobs. asleep: takes none. drain: takes none and leaves once its jobs are done. */
export type WorkerStatus = 'awake' | 'asleep' | 'drain';
export const WORKER_STATUSES: readonly WorkerStatus[] = ['awake', 'asleep', 'drain'];

export interface WorkerControl {
  /** The status set by hand (awake until one is set). */
  status: WorkerStatus;
  /** When the status was set by hand, or null if never. */
  statusSetAt: number | null;
  /** From this instant on the schedule decides again (null: the hand-set status holds). */
  statusUntil: number | null;
  schedule: SleepSchedule | null;
  /** The queues it serves instead of those it announced (null: as announced). */
  queues: string[] | null;
  /** The types it runs, a subset of those it announced (null: all it announced). */
  types: string[] | null;
}

export const defaultControl = (): WorkerControl => ({
  status: 'awake',
  statusSetAt: null,
  statusUntil: null,
  schedule: null,
  queues: null,
  types: null,
});

/** The status in force at `now`. */
export function effectiveStatus(c: WorkerControl, now: number): WorkerStatus {
  if (c.status === 'drain') return 'drain';
  const schedule = c.schedule;
  if (schedule === null || !schedule.active) return c.status;
  // Set by hand and not yet past the schedule's next boundary: the hand wins.
  if (c.statusSetAt !== null && (c.statusUntil === null || now < c.statusUntil)) return c.status;
  return asleepAt(schedule, now) ? 'asleep' : 'awake';
}

/** The control after a status set by hand at `now`. */
export function withStatus(c: WorkerControl, status: WorkerStatus, now: number): WorkerControl {
  const until = c.schedule === null ? null : nextBoundary(c.schedule, now);
  return { ...c, status, statusSetAt: now, statusUntil: until };
}

/**
 * The control with a new schedule (or none) at `now`: the schedule decides from now on, so a
 * status set by hand before it yields (a drain stays).
 */
export function withSchedule(
  c: WorkerControl,
  schedule: SleepSchedule | null,
  now: number,
): WorkerControl {
  if (schedule === null) return { ...c, schedule: null, statusUntil: null };
  return { ...c, schedule, statusUntil: c.statusSetAt === null ? null : now };
}

/**
 * When the status in force may next change by the schedule alone, or null: the broker re-checks
 * then (and at least every few minutes anyway).
 */
export function nextCheck(c: WorkerControl, now: number): number | null {
  if (c.status === 'drain' || c.schedule === null || !c.schedule.active) return null;
  if (c.statusSetAt !== null && c.statusUntil !== null && now < c.statusUntil) return c.statusUntil;
  if (c.statusSetAt !== null && c.statusUntil === null) return null;
  return nextBoundary(c.schedule, now);
}
