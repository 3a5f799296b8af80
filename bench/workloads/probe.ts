/**
 * W2's way of timing submit → start, for workloads that time it beside something else (W6):
 * no-op jobs submitted one at a time to a waiting worker process (1 × 32 slots, per-job
 * reports), the next only after the worker finished the previous one.
 */
import type { SystemAdapter, SystemInstance } from '../systems/types.js';
import { now, percentile, sleep } from '../stats.js';
import type { Scope } from './types.js';
import type { WorkerGroup } from '../worker-link.js';

/** The worker process that runs the probes, started and warmed up (one job through every path). */
export async function probeWorker(
  scope: Scope,
  adapter: SystemAdapter,
  instance: SystemInstance,
): Promise<WorkerGroup> {
  const group = await scope.workers(adapter, instance, {
    processes: 1,
    shape: { workers: 1, slots: 32 },
    perJob: true,
  });
  await group.start();
  await instance.enqueueOne(-1);
  await group.doneOf(-1);
  await sleep(100);
  return group;
}

/**
 * Submits probes `from`, `from + 1`, ... while `more(count)` holds (checked before each one) and
 * answers with their submit → start times in ms, sorted.
 */
export async function probeStarts(
  scope: Scope,
  instance: SystemInstance,
  group: WorkerGroup,
  from: number,
  more: (count: number) => boolean,
): Promise<number[]> {
  const starts: number[] = [];
  for (let i = from; more(starts.length); i++) {
    scope.signal.throwIfAborted();
    const submitted = now();
    await group.guard(instance.enqueueOne(i));
    starts.push((await group.startOf(i)) - submitted);
    await group.doneOf(i);
  }
  return starts.sort((a, b) => a - b);
}

/** p50 and p99 of sorted samples, or `error` where there are none. */
export function p50p99(sorted: readonly number[]): {
  p50: number | 'error';
  p99: number | 'error';
} {
  return { p50: percentile(sorted, 50) ?? 'error', p99: percentile(sorted, 99) ?? 'error' };
}
