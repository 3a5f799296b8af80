/**
 * W8 latency under a flood: W2's measure (jobs submitted one at a time into an idle queue with a
 * waiting 32-slot worker, submit → handler start) while one other job, run by a worker process
 * of its own, writes FLOOD_LINES_PER_S lines a second to its log. A system's log is what it
 * keeps per job (Switchyard's job output and messages, BullMQ's job.log); a system without one
 * has no figure. The baseline is W2 of the same run.
 */
import { FLOOD_LINES_PER_S } from '../systems/types.js';
import { now, percentile, sleep } from '../stats.js';
import type { Workload } from './types.js';

/** Index of the flooding job (the measured ones are 0..). */
const FLOOD_JOB = -2;

export const w8: Workload = {
  id: 'w8',
  title: 'W8 latency while a job floods its log',
  metrics: [
    {
      id: 'w8.start.p50',
      label: `W8 submit→start p50, one job logging ${FLOOD_LINES_PER_S / 1000}k lines/s`,
      unit: 'ms',
      better: 'lower',
      rule: 'below',
    },
    {
      id: 'w8.start.p99',
      label: `W8 submit→start p99, one job logging ${FLOOD_LINES_PER_S / 1000}k lines/s`,
      unit: 'ms',
      better: 'lower',
      rule: 'below',
    },
    { id: 'w8.samples', label: 'W8 jobs measured', unit: 'jobs', better: null },
  ],
  timeoutMs: (p) => p.w2BudgetMs + 90_000,
  async run(ctx) {
    const { adapter, env, params, scope } = ctx;
    const instance = await scope.open(adapter, env, `${ctx.label}`);
    if (instance.enqueueFlood === undefined) {
      for (const id of ['w8.start.p50', 'w8.start.p99', 'w8.samples']) ctx.figures[id] = 'n/a';
      ctx.notes.push(`${adapter.name}: W8 n/a (no per-job log)`);
      return;
    }
    const group = await scope.workers(adapter, instance, {
      processes: 1,
      shape: { workers: 1, slots: 32 },
      perJob: true,
    });
    const flooder = await scope.workers(adapter, instance, {
      processes: 1,
      shape: { workers: 1, slots: 1, jobs: 'flood' },
      perJob: true,
    });
    await Promise.all([group.start(), flooder.start()]);
    const warm = await instance.enqueueOne(-1);
    await group.doneOf(-1);
    void warm;
    // The flood lasts the whole measure (the budget), then some.
    const seconds = Math.ceil(params.w2BudgetMs / 1000) + 5;
    await instance.enqueueFlood(FLOOD_JOB, seconds);
    await flooder.startOf(FLOOD_JOB);
    // Let the flood reach its pace before timing.
    await sleep(500);
    const floodEnds = Date.now() + seconds * 1000 - 1000;

    const starts: number[] = [];
    const deadline = Math.min(Date.now() + params.w2BudgetMs, floodEnds);
    for (let i = 0; i < params.w2Jobs && Date.now() < deadline; i++) {
      scope.signal.throwIfAborted();
      const submitted = now();
      await instance.enqueueOne(i);
      starts.push((await group.startOf(i)) - submitted);
      await group.doneOf(i);
      ctx.figures['w8.samples'] = starts.length;
    }
    starts.sort((a, b) => a - b);
    for (const p of [50, 99]) ctx.figures[`w8.start.p${p}`] = percentile(starts, p) ?? 'error';
    if (starts.length < params.w2Jobs) {
      ctx.notes.push(
        `${adapter.name}: W8 measured ${starts.length} of ${params.w2Jobs} jobs within its time budget`,
      );
    }
  },
};
