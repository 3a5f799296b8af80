/**
 * W6 filtered retry (issue 9): N failed jobs retried with one call of the system's own
 * operation, and what that does to everyone else's latency.
 * 1. Fill: N jobs of the failing queue (type) `fail`, one attempt each, enqueued in bulk and run
 *    by a worker process that fails each at once; done when the system counts N failed jobs.
 *    That worker process then stops, so that the retried jobs stay queued, and the stores on
 *    PostgreSQL are ANALYZEd (autovacuum is off on the bench server; a table filled in seconds
 *    has no statistics, which sends pg-boss's retry of 500 ids into a scan per id).
 * 2. Idle: submit → start of no-op jobs submitted one at a time, W2's way (another worker
 *    process, 1 × 32 slots, on the no-op queue), with the N failed jobs stored and nothing else
 *    going on: `w6Probes` jobs, within W2's time budget.
 * 3. During: the retry of every failed job (Switchyard: POST /jobs/actions {action: retry,
 *    filter: {state: failed}}; the peers: see their settings), timed from the call to its
 *    answer, and the same probes submitted one after the other for as long as it runs.
 * Reported: the retry's time and jobs/s, the probes' p50 and p99 idle and during, and during /
 * idle. A system without a retry operation is n/a.
 */
import type { SystemInstance } from '../systems/types.js';
import { now, rate } from '../stats.js';
import { p50p99, probeStarts, probeWorker } from './probe.js';
import type { Figure, Workload, WorkloadRun } from './types.js';

/** How often the fill asks the system for its count of failed jobs. */
const POLL_MS = 200;

/** Fills the instance with `n` failed jobs; resolves with the fill's rate (jobs/s). */
async function fill(ctx: WorkloadRun, instance: SystemInstance, n: number): Promise<number | null> {
  const { adapter, scope } = ctx;
  const t0 = now();
  await instance.enqueueFailing(0, n, scope.signal);
  const failing = await scope.workers(adapter, instance, {
    processes: 1,
    shape: { workers: 1, slots: 32, jobs: 'fail' },
  });
  failing.startNoWait();
  await failing.guard(
    (async () => {
      while ((await instance.failedCount()) < n) {
        scope.signal.throwIfAborted();
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    })(),
  );
  const t1 = now();
  await failing.close();
  // Autovacuum would have analyzed a store that filled over time; this one filled in seconds.
  await instance.refreshStatistics?.();
  return rate(n, t0, t1);
}

export const w6: Workload = {
  id: 'w6',
  title: 'W6 filtered retry of failed jobs',
  metrics: [
    { id: 'w6.retry.time', label: 'W6 retry of all failed jobs: time', unit: 's', better: 'lower' },
    {
      id: 'w6.retry.rate',
      label: 'W6 retry of all failed jobs: rate',
      unit: 'jobs/s',
      better: 'higher',
    },
    { id: 'w6.idle.p50', label: 'W6 submit→start p50, no retry', unit: 'ms', better: 'lower' },
    { id: 'w6.idle.p99', label: 'W6 submit→start p99, no retry', unit: 'ms', better: 'lower' },
    {
      id: 'w6.during.p50',
      label: 'W6 submit→start p50 during the retry',
      unit: 'ms',
      better: 'lower',
    },
    {
      id: 'w6.during.p99',
      label: 'W6 submit→start p99 during the retry',
      unit: 'ms',
      better: 'lower',
    },
    { id: 'w6.slowdown.p50', label: 'W6 p50 during / no retry', unit: '×', better: 'lower' },
    { id: 'w6.slowdown.p99', label: 'W6 p99 during / no retry', unit: '×', better: 'lower' },
    { id: 'w6.samples', label: 'W6 jobs measured during the retry', unit: 'jobs', better: null },
    {
      id: 'w6.fill',
      label: 'W6 fill before the retry: enqueue and fail',
      unit: 'jobs/s',
      better: 'higher',
    },
  ],
  timeoutMs: (p) => (p.quick ? 60_000 : Math.max(300_000, p.w6Jobs * 3) + p.w2BudgetMs),
  async run(ctx) {
    const { adapter, env, params, scope } = ctx;
    const n = params.w6Jobs;
    const instance = await scope.open(adapter, env, ctx.label);
    if (instance.retryFailed === undefined) {
      for (const m of w6.metrics) ctx.figures[m.id] = 'n/a';
      return;
    }
    ctx.figures['w6.fill'] = (await fill(ctx, instance, n)) ?? 'error';

    const group = await probeWorker(scope, adapter, instance);
    const deadline = Date.now() + params.w2BudgetMs;
    const idle = await probeStarts(
      scope,
      instance,
      group,
      0,
      (k) => k < params.w6Probes && Date.now() < deadline,
    );
    const idleP = p50p99(idle);
    ctx.figures['w6.idle.p50'] = idleP.p50;
    ctx.figures['w6.idle.p99'] = idleP.p99;

    let running = true;
    const t0 = now();
    const retry = instance.retryFailed().then(
      (changed) => ({ changed, at: now() }),
      (error: unknown) => ({ error, at: now() }),
    );
    void retry.finally(() => (running = false));
    const during = await probeStarts(scope, instance, group, params.w6Probes, () => running);
    const outcome = await retry;
    if ('error' in outcome) throw outcome.error;
    const seconds = (outcome.at - t0) / 1000;
    const left = await instance.failedCount();
    const retried = outcome.changed ?? n - left;
    ctx.figures['w6.retry.time'] = seconds;
    ctx.figures['w6.retry.rate'] = rate(retried, t0, outcome.at) ?? 'error';
    if (retried !== n || left !== 0) {
      ctx.notes.push(`${adapter.name}: W6 retried ${retried} of ${n} failed jobs (${left} left)`);
    }

    const duringP = p50p99(during);
    ctx.figures['w6.during.p50'] = duringP.p50;
    ctx.figures['w6.during.p99'] = duringP.p99;
    ctx.figures['w6.samples'] = during.length;
    const ratio = (a: Figure, b: Figure): Figure =>
      typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : 'error';
    ctx.figures['w6.slowdown.p50'] = ratio(duringP.p50, idleP.p50);
    ctx.figures['w6.slowdown.p99'] = ratio(duringP.p99, idleP.p99);
    if (idle.length < params.w6Probes) {
      ctx.notes.push(
        `${adapter.name}: W6 measured ${idle.length} of ${params.w6Probes} jobs with no retry within its time budget`,
      );
    }
  },
};
