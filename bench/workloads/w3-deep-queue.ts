/**
 * W3 deep queue: the dispatch rate at the head of a deep queue against that of a nearly empty
 * one, and the memory of the broker holding the deep queue.
 * 1. Empty: enqueue `head` jobs, start a worker process (1 × 32 slots), time all `head`.
 * 2. Deep: stop that worker, enqueue `depth` more (bulk), start a new worker process, time the
 *    first `head` completions with `depth` jobs still behind them.
 * Memory: the Switchyard broker's peak RSS (VmHWM, covering enqueue and dispatch); for peers
 * the adapter's server figure (Redis RSS) or n/a.
 * 3. Fair (systems with fair queueing): on a fresh instance whose queue is fair, the same deep
 *    queue with its jobs spread over FAIR_GROUPS groups; the head's dispatch rate against the
 *    deep queue's under priority (within 10%: the discipline costs the claim nothing).
 */
import { peakRssBytes } from '../procs.js';
import { now, rate } from '../stats.js';
import type { Workload } from './types.js';

const SHAPE = { workers: 1, slots: 32 };
const FAIR_GROUPS = 10_000;

export const w3: Workload = {
  id: 'w3',
  title: 'W3 deep queue',
  metrics: [
    {
      id: 'w3.empty',
      label: 'W3 dispatch, near-empty queue',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
    },
    {
      id: 'w3.deep',
      label: 'W3 dispatch at the head of the deep queue',
      unit: 'jobs/s',
      better: 'higher',
      rule: '2x',
    },
    {
      id: 'w3.ratio',
      label: 'W3 deep / empty dispatch rate',
      unit: '%',
      better: 'higher',
      absolute: { op: '>=', value: 90, text: '≥90% (within 10%)' },
    },
    {
      id: 'w3.fair',
      label: `W3 dispatch at the head of the deep queue, fair over ${FAIR_GROUPS.toLocaleString('en-US')} groups`,
      unit: 'jobs/s',
      better: 'higher',
    },
    {
      id: 'w3.fairRatio',
      label: 'W3 fair / priority dispatch rate of the deep queue',
      unit: '%',
      better: 'higher',
      absolute: { op: '>=', value: 90, text: '≥90% (within 10%)' },
    },
    {
      id: 'w3.fairEnqueue',
      label: 'W3 bulk enqueue of the deep fair queue',
      unit: 'jobs/s',
      better: 'higher',
    },
    {
      id: 'w3.enqueue',
      label: 'W3 bulk enqueue of the deep queue',
      unit: 'jobs/s',
      better: 'higher',
    },
    {
      id: 'w3.memory',
      label: 'W3 server memory with the deep queue',
      unit: 'MB',
      better: 'lower',
      absolute: { op: '<', value: 300, text: '<300 MB' },
    },
  ],
  timeoutMs: (p) => (p.quick ? 60_000 : Math.max(240_000, p.w3Depth * 1.2)),
  async run(ctx) {
    const { adapter, env, params, scope } = ctx;
    const instance = await scope.open(adapter, env, ctx.label);
    const head = params.w3Head;

    const first = await scope.workers(adapter, instance, { processes: 1, shape: SHAPE });
    await instance.enqueueBulk(0, head, scope.signal);
    const e0 = now();
    first.startNoWait();
    const e1 = await first.untilCompleted(head);
    const empty = rate(head, e0, e1);
    ctx.figures['w3.empty'] = empty ?? 'error';
    await first.close();

    const q0 = now();
    await instance.enqueueBulk(head, params.w3Depth, scope.signal);
    ctx.figures['w3.enqueue'] = rate(params.w3Depth, q0, now()) ?? 'error';
    const second = await scope.workers(adapter, instance, { processes: 1, shape: SHAPE });
    const d0 = now();
    second.startNoWait();
    const d1 = await second.untilCompleted(head);
    const deep = rate(head, d0, d1);
    ctx.figures['w3.deep'] = deep ?? 'error';
    if (empty !== null && deep !== null) ctx.figures['w3.ratio'] = (100 * deep) / empty;

    const pids = instance.serverPids();
    if (pids.length > 0) {
      let total = 0;
      for (const pid of pids) total += peakRssBytes(pid) ?? 0;
      ctx.figures['w3.memory'] = total / 1024 / 1024;
    } else {
      const bytes = await instance.serverMemory();
      ctx.figures['w3.memory'] = bytes === null ? 'n/a' : bytes / 1024 / 1024;
    }
    await second.close();

    if (instance.useFairQueue === undefined || instance.enqueueGroupedBulk === undefined) {
      ctx.figures['w3.fair'] = 'n/a';
      ctx.figures['w3.fairRatio'] = 'n/a';
      ctx.figures['w3.fairEnqueue'] = 'n/a';
      return;
    }
    // The priority instance (its million jobs) goes first: the fair one runs on the machine alone.
    await instance.close();
    const fair = await scope.open(adapter, env, `${ctx.label} fair`);
    await fair.useFairQueue!();
    const f0 = now();
    await fair.enqueueGroupedBulk!(0, params.w3Depth + head, FAIR_GROUPS, scope.signal);
    ctx.figures['w3.fairEnqueue'] = rate(params.w3Depth + head, f0, now()) ?? 'error';
    const third = await scope.workers(adapter, fair, { processes: 1, shape: SHAPE });
    const g0 = now();
    third.startNoWait();
    const g1 = await third.untilCompleted(head);
    const fairRate = rate(head, g0, g1);
    ctx.figures['w3.fair'] = fairRate ?? 'error';
    if (fairRate !== null && deep !== null) ctx.figures['w3.fairRatio'] = (100 * fairRate) / deep;
    await third.close();
  },
};
