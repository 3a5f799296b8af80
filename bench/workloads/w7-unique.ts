/**
 * W7 submission with uniqueness keys (issue 9): what a key costs a submission. N no-op jobs
 * submitted into fresh, idle instances (no worker): plain jobs into one, jobs each with its own
 * key (`uniqueKey(i)`, all distinct, so every submission adds a job) into another, (a) in bulk as
 * W1a enqueues, (b) one by one from 32 concurrent submitters as W1b does.
 *
 * The two instances take turns in ROUNDS rounds of N / ROUNDS jobs, in the order plain, keyed;
 * keyed, plain; ... (ABBA), and each mode's rate is N over the time of its own rounds: a machine
 * whose load drifts (it is shared) or an instance that slows as it fills weighs on both alike.
 * Before the first round WARM jobs go the same way into each (indices, and keys, after N), as W2
 * warms up. Reported: jobs/s of each, and keyed / plain in %.
 *
 * After the rounds the keyed instance must hold N + WARM jobs, and resubmitting a few of its
 * keys must add none; otherwise its figure is `error` (the keys were not enforced, so it timed
 * nothing).
 */
import type { SystemInstance } from '../systems/types.js';
import { now } from '../stats.js';
import type { Figure, Workload, WorkloadRun } from './types.js';

/** Turns each mode takes. */
const ROUNDS = 4;

/** Keys resubmitted to check that the instance enforces them. */
const RECHECK = 10;

/** Jobs submitted into each instance before the first round, the same way. */
const WARM = 32;

type Mode = 'plain' | 'unique';
type Way = 'bulk' | 'single';

/** One mode's instance, how jobs go into it, and the ms its rounds took. */
interface Side {
  instance: SystemInstance;
  send(from: number, count: number): Promise<void>;
  spent: number;
}

/** Submits jobs [from, from + count) into the instance of `mode`, in bulk or one by one. */
function submitter(
  ctx: WorkloadRun,
  instance: SystemInstance,
  mode: Mode,
  way: Way,
): (from: number, count: number) => Promise<void> {
  const { params, scope } = ctx;
  if (way === 'bulk') {
    return (from, count) =>
      mode === 'plain'
        ? instance.enqueueBulk(from, count, scope.signal)
        : instance.enqueueUniqueBulk(from, count, scope.signal);
  }
  const one = (i: number): Promise<string> =>
    mode === 'plain' ? instance.enqueueOne(i) : instance.enqueueUniqueOne(i);
  return async (from, count) => {
    let next = from;
    const loop = async (): Promise<void> => {
      while (next < from + count) {
        scope.signal.throwIfAborted();
        await one(next++);
      }
    };
    await Promise.all(Array.from({ length: params.submitters }, loop));
  };
}

/** Both modes of one way, in ABBA rounds: jobs/s of each. */
async function measure(ctx: WorkloadRun, way: Way): Promise<Record<Mode, Figure>> {
  const { adapter, env, params, scope } = ctx;
  const n = params.w7Jobs;
  const open = async (mode: Mode): Promise<Side> => {
    const instance = await scope.open(adapter, env, `${ctx.label}-${way}-${mode}`);
    const send = submitter(ctx, instance, mode, way);
    await send(n, WARM);
    return { instance, send, spent: 0 };
  };
  const sides: Record<Mode, Side> = { plain: await open('plain'), unique: await open('unique') };
  for (let r = 0; r < ROUNDS; r++) {
    const from = Math.floor((r * n) / ROUNDS);
    const count = Math.floor(((r + 1) * n) / ROUNDS) - from;
    const order: Mode[] = r % 2 === 0 ? ['plain', 'unique'] : ['unique', 'plain'];
    for (const mode of order) {
      const t0 = now();
      await sides[mode].send(from, count);
      sides[mode].spent += now() - t0;
    }
  }
  const ok = await enforced(ctx, sides.unique.instance, way === 'bulk' ? 'bulk' : 'one by one');
  await scope.close(ctx.log);
  const rateOf = (side: Side): Figure => (side.spent > 0 ? (n * 1000) / side.spent : 'error');
  return { plain: rateOf(sides.plain), unique: ok ? rateOf(sides.unique) : 'error' };
}

/** Whether the instance holds a job per key, and still as many after a few were sent again. */
async function enforced(
  ctx: WorkloadRun,
  instance: SystemInstance,
  phase: string,
): Promise<boolean> {
  const keys = ctx.params.w7Jobs + WARM;
  const before = await instance.jobCount();
  await instance.enqueueUniqueBulk(0, RECHECK, ctx.scope.signal);
  const after = await instance.jobCount();
  if (before === keys && after === keys) return true;
  ctx.notes.push(
    `${ctx.adapter.name}: W7 ${phase}: ${before} jobs for ${keys} distinct keys, ${after} after ` +
      `${RECHECK} of them again (expected ${keys} both times); figure withheld`,
  );
  return false;
}

function percent(unique: Figure, plain: Figure): Figure {
  return typeof unique === 'number' && typeof plain === 'number' && plain > 0
    ? (100 * unique) / plain
    : 'error';
}

export const w7: Workload = {
  id: 'w7',
  title: 'W7 submission with uniqueness keys',
  metrics: [
    { id: 'w7.bulk.plain', label: 'W7a bulk: plain jobs', unit: 'jobs/s', better: 'higher' },
    {
      id: 'w7.bulk.unique',
      label: 'W7a bulk: each job with its own key',
      unit: 'jobs/s',
      better: 'higher',
    },
    { id: 'w7.bulk.ratio', label: 'W7a bulk: keyed / plain', unit: '%', better: 'higher' },
    {
      id: 'w7.single.plain',
      label: 'W7b 32 submitters: plain jobs',
      unit: 'jobs/s',
      better: 'higher',
    },
    {
      id: 'w7.single.unique',
      label: 'W7b 32 submitters: each job with its own key',
      unit: 'jobs/s',
      better: 'higher',
    },
    {
      id: 'w7.single.ratio',
      label: 'W7b 32 submitters: keyed / plain',
      unit: '%',
      better: 'higher',
    },
  ],
  timeoutMs: (p) => (p.quick ? 60_000 : Math.max(300_000, p.w7Jobs * 12)),
  async run(ctx) {
    const f = ctx.figures;
    const bulk = await measure(ctx, 'bulk');
    f['w7.bulk.plain'] = bulk.plain;
    f['w7.bulk.unique'] = bulk.unique;
    f['w7.bulk.ratio'] = percent(bulk.unique, bulk.plain);
    const single = await measure(ctx, 'single');
    f['w7.single.plain'] = single.plain;
    f['w7.single.unique'] = single.unique;
    f['w7.single.ratio'] = percent(single.unique, single.plain);
  },
};
