/**
 * W4 many workers: many 1-slot workers connected at once (held by a few processes), the broker's
 * CPU while they are idle and heartbeating (all broker processes of a cluster added up), then
 * jobs/s for a bulk enqueue they all take from.
 * Only for systems with a notion of many connected workers (Switchyard); the others get n/a.
 */
import { cpuSeconds } from '../procs.js';
import { now, rate, sleep } from '../stats.js';
import type { Workload } from './types.js';

export const w4: Workload = {
  id: 'w4',
  title: 'W4 many workers',
  metrics: [
    { id: 'w4.connect', label: 'W4 time to connect all workers', unit: 's', better: 'lower' },
    {
      id: 'w4.idlecpu',
      label: 'W4 broker CPU, idle workers heartbeating',
      unit: '% core',
      better: 'lower',
      absolute: { op: '<', value: 5, text: '<5%' },
    },
    {
      id: 'w4.rate',
      label: 'W4 jobs/s over all workers',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
    },
  ],
  timeoutMs: (p) => (p.quick ? 40_000 : 180_000),
  async run(ctx) {
    const { adapter, env, params, scope } = ctx;
    if (!adapter.manyWorkers) {
      for (const m of w4.metrics) ctx.figures[m.id] = 'n/a';
      return;
    }
    const instance = await scope.open(adapter, env, ctx.label);
    const perProcess = Math.ceil(params.w4Workers / params.w4Processes);
    const group = await scope.workers(adapter, instance, {
      processes: params.w4Processes,
      shape: { workers: perProcess, slots: 1 },
    });
    const c0 = now();
    await group.start();
    ctx.figures['w4.connect'] = (now() - c0) / 1000;

    // The broker's CPU: with several nodes, that of all their processes added up.
    const pids = instance.serverPids();
    const cpu = (): number | null => {
      const each = pids.map(cpuSeconds);
      return each.every((s): s is number => s !== null) ? each.reduce((a, b) => a + b, 0) : null;
    };
    if (pids.length > 0) {
      await sleep(2_000);
      const cpu0 = cpu();
      const t0 = now();
      await sleep(params.w4IdleMs);
      const cpu1 = cpu();
      if (cpu0 !== null && cpu1 !== null) {
        ctx.figures['w4.idlecpu'] = (100 * (cpu1 - cpu0)) / ((now() - t0) / 1000);
      }
    }

    const j0 = now();
    await instance.enqueueBulk(0, params.w4Jobs, scope.signal);
    const end = await group.untilCompleted(params.w4Jobs);
    ctx.figures['w4.rate'] = rate(params.w4Jobs, j0, end) ?? 'error';
    ctx.notes.push(
      `${adapter.name}: W4 used ${perProcess * params.w4Processes} workers × 1 slot in ${params.w4Processes} processes`,
    );
  },
};
