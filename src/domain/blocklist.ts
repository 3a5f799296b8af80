/**
 * The blocklist (Flamenco): a worker that fails jobs of one type `threshold` times within one
 * queue is kept from that queue's jobs of that type until an operator clears it. Only real
 * failures of the job count: an attempt lost with its worker, stopped by the broker (cancel,
 * hold, sleep), or lost to the infrastructure (a process that could not start) says nothing
 * about the worker's ability to run the type. The counting itself is the store's (one row per
 * worker, queue and type, so that it holds across nodes and restarts).
 */
import type { Outcome } from './transitions.js';

/** The key of one (queue, type) pair in a worker's blocklist. */
export const blockKey = (queue: string, type: string): string => `${queue}\u0000${type}`;

/** One block: a worker kept from a queue's jobs of a type. */
export interface Block {
  workerId: string;
  queue: string;
  type: string;
  failures: number;
  blockedAt: number;
}

/** Errors a worker reports for attempts the broker or the worker itself stopped. */
const STOPPED_CODES = new Set(['canceled', 'held', 'requeued', 'lost', 'worker_shutdown']);

/** Whether an attempt's end counts towards its worker's blocklist. */
export function countsAgainstWorker(outcome: Outcome): boolean {
  return (
    outcome.kind === 'fail' && !outcome.infrastructure && !STOPPED_CODES.has(outcome.error.code)
  );
}

/** Whether the failures counted so far block the worker (threshold 0 disables the blocklist). */
export function isBlocked(failures: number, threshold: number): boolean {
  return threshold > 0 && failures >= threshold;
}
