/**
 * W1 throughput: N no-op jobs processed by one worker process with 32 slots.
 * (a) bulk: enqueue all N with the bulk API into an idle system (worker process set up but not
 *     yet taking jobs), then start the worker: enqueue alone, drain alone (from the worker's
 *     start signal to the N-th completion), and end to end (first enqueue to last completion).
 * (b) one by one: 32 concurrent submitters, the worker already taking jobs: enqueue alone
 *     (first submit to last acknowledgment) and end to end (first submit to last completion).
 */
import { now, rate } from '../stats.js';
import type { Workload, WorkloadRun } from './types.js';

const SHAPE = { workers: 1, slots: 32 };

async function bulk(ctx: WorkloadRun): Promise<void> {
  const { adapter, env, params, scope } = ctx;
  const n = params.w1Jobs;
  const instance = await scope.open(adapter, env, `${ctx.label}-bulk`);
  const group = await scope.workers(adapter, instance, { processes: 1, shape: SHAPE });
  const t0 = now();
  await instance.enqueueBulk(0, n, scope.signal);
  const t1 = now();
  ctx.figures['w1.bulk.enqueue'] = rate(n, t0, t1) ?? 'error';
  group.startNoWait();
  const end = await group.untilCompleted(n);
  ctx.figures['w1.bulk.drain'] = rate(n, t1, end) ?? 'error';
  ctx.figures['w1.bulk.e2e'] = rate(n, t0, end) ?? 'error';
  await scope.close(ctx.log);
}

async function oneByOne(ctx: WorkloadRun): Promise<void> {
  const { adapter, env, params, scope } = ctx;
  const n = params.w1Jobs;
  const instance = await scope.open(adapter, env, `${ctx.label}-single`);
  const group = await scope.workers(adapter, instance, { processes: 1, shape: SHAPE });
  await group.start();
  let next = 0;
  const submitter = async (): Promise<void> => {
    while (next < n) {
      scope.signal.throwIfAborted();
      await instance.enqueueOne(next++);
    }
  };
  const t0 = now();
  await group.guard(Promise.all(Array.from({ length: params.submitters }, submitter)));
  const t1 = now();
  ctx.figures['w1.single.enqueue'] = rate(n, t0, t1) ?? 'error';
  const end = await group.untilCompleted(n);
  ctx.figures['w1.single.e2e'] = rate(n, t0, end) ?? 'error';
}

export const w1: Workload = {
  id: 'w1',
  title: 'W1 throughput',
  metrics: [
    {
      id: 'w1.bulk.e2e',
      label: 'W1a bulk: end to end',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
      reference: '≥28,000',
    },
    {
      id: 'w1.bulk.enqueue',
      label: 'W1a bulk: enqueue alone',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
      reference: '≥84,000',
    },
    {
      id: 'w1.bulk.drain',
      label: 'W1a bulk: drain alone',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
      reference: '≥44,000',
    },
    {
      id: 'w1.single.enqueue',
      label: 'W1b 32 submitters: enqueue alone',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
      reference: '≥44,000',
    },
    {
      id: 'w1.single.e2e',
      label: 'W1b 32 submitters: end to end',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
    },
  ],
  timeoutMs: (p) => (p.quick ? 40_000 : Math.max(240_000, p.w1Jobs * 6)),
  async run(ctx) {
    await bulk(ctx);
    await oneByOne(ctx);
  },
};
