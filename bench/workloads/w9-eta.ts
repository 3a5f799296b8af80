/**
 * W9 ETA accuracy on a steady workload: jobs that each take JOB_MS, run by one worker of SLOTS
 * slots (no prefetch), so that the queue drains at a steady SLOTS / JOB_MS jobs a second. Once
 * it has run for WARM_MS, SAMPLES queued jobs spread over the queue are asked for their
 * estimated start; when they have started, each estimate is compared with the start the broker
 * recorded. Reported: the median absolute error, and the median error relative to the wait the
 * estimate covered. A system without estimates has no figure.
 */
import { sleep } from '../stats.js';
import type { Workload } from './types.js';

const SLOTS = 8;
const JOB_MS = 20;
const WARM_MS = 1_500;
const SAMPLES = 30;

export const w9: Workload = {
  id: 'w9',
  title: 'W9 ETA accuracy',
  metrics: [
    {
      id: 'w9.error.p50',
      label: `W9 ETA median error (steady: ${SLOTS} slots × ${JOB_MS} ms jobs)`,
      unit: 'ms',
      better: 'lower',
    },
    {
      id: 'w9.relative.p50',
      label: 'W9 ETA median error relative to the wait it estimated',
      unit: '%',
      better: 'lower',
    },
    { id: 'w9.samples', label: 'W9 estimates compared', unit: 'jobs', better: null },
  ],
  timeoutMs: (p) => (p.quick ? 60_000 : 120_000),
  async run(ctx) {
    const { adapter, env, params, scope } = ctx;
    const instance = await scope.open(adapter, env, ctx.label);
    const { enqueueSleepBulk, etaOf, startedAtOf } = instance;
    if (enqueueSleepBulk === undefined || etaOf === undefined || startedAtOf === undefined) {
      for (const id of ['w9.error.p50', 'w9.relative.p50', 'w9.samples']) ctx.figures[id] = 'n/a';
      ctx.notes.push(`${adapter.name}: W9 n/a (no estimated start)`);
      return;
    }
    // Enough for WARM_MS and the waits sampled: about 8 s of work in all (4 s in quick mode).
    const total = Math.round(((params.quick ? 4_000 : 8_000) * SLOTS) / JOB_MS);
    const ids = await enqueueSleepBulk.call(instance, 0, total, JOB_MS);
    const workers = await scope.workers(adapter, instance, {
      processes: 1,
      shape: { workers: 1, slots: SLOTS, jobs: 'sleep' },
    });
    await workers.start();
    await sleep(WARM_MS);
    const done = workers.completed();
    // From a little ahead of the head to near the end of what is left.
    const first = done + 4 * SLOTS;
    const step = Math.max(1, Math.floor((total - first - SLOTS) / SAMPLES));
    const samples: Array<{ id: string; asked: number; eta: number }> = [];
    for (let k = 0; k < SAMPLES; k++) {
      const id = ids[first + k * step];
      if (id === undefined) break;
      const asked = Date.now();
      const eta = await etaOf.call(instance, id);
      if (eta !== null) samples.push({ id, asked, eta });
    }
    await workers.untilCompleted(total);
    const errors: number[] = [];
    const relative: number[] = [];
    for (const s of samples) {
      const started = await startedAtOf.call(instance, s.id);
      if (started === null) continue;
      errors.push(Math.abs(s.eta - started));
      relative.push((100 * Math.abs(s.eta - started)) / Math.max(1, started - s.asked));
    }
    const median = (xs: number[]): number | 'error' => {
      if (xs.length === 0) return 'error';
      const sorted = [...xs].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)]!;
    };
    ctx.figures['w9.error.p50'] = median(errors);
    ctx.figures['w9.relative.p50'] = median(relative);
    ctx.figures['w9.samples'] = errors.length;
    await workers.close();
  },
};
