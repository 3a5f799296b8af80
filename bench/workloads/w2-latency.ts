/**
 * W2 latency: jobs submitted one at a time into an idle queue with a waiting worker (1 process,
 * 32 slots). For each job: submit → handler start (the worker process's timestamp, same clock),
 * and submit → completion known to the submitter (the system's own mechanism, see the adapter's
 * `completionKnown`). The next job is submitted only after the worker finished the previous one.
 */
import { now, percentile, sleep } from '../stats.js';
import type { Workload } from './types.js';

export const w2: Workload = {
  id: 'w2',
  title: 'W2 latency',
  metrics: [
    {
      id: 'w2.start.p50',
      label: 'W2 submit→start p50',
      unit: 'ms',
      better: 'lower',
      rule: 'below',
      reference: '≤0.75',
    },
    {
      id: 'w2.start.p95',
      label: 'W2 submit→start p95',
      unit: 'ms',
      better: 'lower',
      rule: 'below',
    },
    {
      id: 'w2.start.p99',
      label: 'W2 submit→start p99',
      unit: 'ms',
      better: 'lower',
      rule: 'below',
      reference: '≤2',
    },
    {
      id: 'w2.done.p50',
      label: 'W2 submit→completion known p50',
      unit: 'ms',
      better: 'lower',
      rule: 'below',
      reference: '≤1',
    },
    {
      id: 'w2.done.p95',
      label: 'W2 submit→completion known p95',
      unit: 'ms',
      better: 'lower',
      rule: 'below',
    },
    {
      id: 'w2.done.p99',
      label: 'W2 submit→completion known p99',
      unit: 'ms',
      better: 'lower',
      rule: 'below',
    },
    { id: 'w2.samples', label: 'W2 jobs measured', unit: 'jobs', better: null },
  ],
  timeoutMs: (p) => p.w2BudgetMs + 60_000,
  async run(ctx) {
    const { adapter, env, params, scope } = ctx;
    const instance = await scope.open(adapter, env, `${ctx.label}`);
    const group = await scope.workers(adapter, instance, {
      processes: 1,
      shape: { workers: 1, slots: 32 },
      perJob: true,
    });
    await group.start();
    await instance.prepareCompletion?.();
    const completion = instance.waitCompleted?.bind(instance);
    // Warm-up: one job through every path (connections, prepared statements) before timing.
    const warm = await instance.enqueueOne(-1);
    await group.doneOf(-1);
    if (completion) await completion(warm, 10_000);
    await sleep(100);

    const starts: number[] = [];
    const dones: number[] = [];
    const deadline = Date.now() + params.w2BudgetMs;
    for (let i = 0; i < params.w2Jobs && Date.now() < deadline; i++) {
      scope.signal.throwIfAborted();
      const submitted = now();
      const id = await instance.enqueueOne(i);
      if (completion) {
        await group.guard(completion(id, 30_000));
        dones.push(now() - submitted);
      }
      starts.push((await group.startOf(i)) - submitted);
      await group.doneOf(i);
      ctx.figures['w2.samples'] = starts.length;
    }
    starts.sort((a, b) => a - b);
    dones.sort((a, b) => a - b);
    for (const p of [50, 95, 99]) {
      ctx.figures[`w2.start.p${p}`] = percentile(starts, p) ?? 'error';
      ctx.figures[`w2.done.p${p}`] = completion ? (percentile(dones, p) ?? 'error') : 'n/a';
    }
    if (starts.length < params.w2Jobs) {
      ctx.notes.push(
        `${adapter.name}: W2 measured ${starts.length} of ${params.w2Jobs} jobs within its time budget`,
      );
    }
  },
};
