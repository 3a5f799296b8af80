/**
 * Uniqueness of submissions (Desaster's timed requeue blacklist): a submission whose key is held
 * by a job that was submitted, started or ended within the holder's window (or that runs now),
 * and that is in one of the holder's states when it names some, is a duplicate: the client gets
 * the existing job. Pure.
 */
import type { JobState } from './job.js';

/** The job holding a key, as judging a new submission needs it. */
export interface KeyHolder {
  state: JobState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  forMs: number | null;
  while: readonly JobState[] | null;
}

/** When the holder last did anything: a running job is being processed now. */
export function lastActivity(holder: KeyHolder, now: number): number {
  if (holder.state === 'running') return now;
  return Math.max(holder.createdAt, holder.startedAt ?? 0, holder.finishedAt ?? 0);
}

/** Whether a new submission with the holder's key is a duplicate of the holder. */
export function isDuplicate(holder: KeyHolder, now: number): boolean {
  if (holder.while !== null && !holder.while.includes(holder.state)) return false;
  if (holder.forMs === null) return true;
  return now < lastActivity(holder, now) + holder.forMs;
}
