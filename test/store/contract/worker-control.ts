/**
 * Contract: what operators decide about workers (`workerControlSet`/`Get`), the blocklist
 * (`blocklistFailure`, `blocklistClear`, `blocklistList`) and the workers' usage series
 * (`usageAdd`, `usagePrune`, `usageList`).
 */
import { describe, expect, it } from 'vitest';
import type { UsageSample } from '../../../src/domain/usage.js';
import { defaultControl, withStatus } from '../../../src/domain/worker-control.js';
import { T0, useStore, type StoreFactory } from './helpers.js';

const sample = (at: number, cpu = 0.5): UsageSample => ({
  at,
  cpu,
  memory: { rss: 1, total: 2, free: 1 },
  jobs: [{ jobId: '12', cpu: 0.25, rss: 4096 }],
});

export function describeWorkerControl(factory: StoreFactory): void {
  describe('worker controls', () => {
    const ctx = useStore(factory);

    it('keeps what was decided about a worker, replacing it as a whole', async () => {
      expect(await ctx.store.workerControlGet('w1')).toBeUndefined();
      const control = {
        ...withStatus(defaultControl(), 'asleep', T0),
        queues: ['a', 'b'],
        schedule: {
          active: true,
          days: ['mon' as const],
          start: '22:00',
          end: '06:00',
          timeZone: 'UTC',
        },
      };
      await ctx.store.write((tx) => tx.workerControlSet('w1', control, T0));
      expect(await ctx.store.workerControlGet('w1')).toEqual(control);
      const next = { ...control, status: 'awake' as const, queues: null };
      await ctx.store.write((tx) => tx.workerControlSet('w1', next, T0 + 1));
      expect(await ctx.store.workerControlGet('w1')).toEqual(next);
      expect(await ctx.store.workerControlGet('w2')).toBeUndefined();
    });
  });

  describe('blocklist', () => {
    const ctx = useStore(factory);
    const fail = (workerId: string, queue: string, type: string, now: number, threshold = 3) =>
      ctx.store.write((tx) => tx.blocklistFailure({ workerId, queue, type, threshold, now }));

    it('blocks at the threshold, once, per worker, queue and type', async () => {
      expect(await fail('w1', 'q', 't', T0 + 1)).toBeNull();
      expect(await fail('w1', 'q', 't', T0 + 2)).toBeNull();
      // Other queues, types and workers count apart.
      expect(await fail('w1', 'other', 't', T0 + 2)).toBeNull();
      expect(await fail('w1', 'q', 'u', T0 + 2)).toBeNull();
      expect(await fail('w2', 'q', 't', T0 + 2)).toBeNull();
      expect(await ctx.store.blocklistList({})).toEqual([]);
      expect(await fail('w1', 'q', 't', T0 + 3)).toEqual({
        workerId: 'w1',
        queue: 'q',
        type: 't',
        failures: 3,
        blockedAt: T0 + 3,
      });
      // Blocked already: a further failure blocks nothing new.
      expect(await fail('w1', 'q', 't', T0 + 4)).toBeNull();
      expect(await ctx.store.blocklistList({ workerId: 'w1' })).toEqual([
        { workerId: 'w1', queue: 'q', type: 't', failures: 4, blockedAt: T0 + 3 },
      ]);
      expect(await ctx.store.blocklistList({ workerId: 'w2' })).toEqual([]);
    });

    it('a threshold of 1 blocks at the first failure', async () => {
      expect(await fail('w1', 'q', 't', T0, 1)).toMatchObject({ failures: 1, blockedAt: T0 });
    });

    it('lists the blocks of queue and type pairs, and clears by type, in one queue or all', async () => {
      for (const queue of ['a', 'b']) {
        await fail('w1', queue, 't', T0, 1);
        await fail('w2', queue, 't', T0, 1);
      }
      await fail('w1', 'a', 'u', T0, 1);
      const pairs = await ctx.store.blocklistList({ pairs: [{ queue: 'a', type: 't' }] });
      expect(pairs.map((b) => b.workerId)).toEqual(['w1', 'w2']);
      expect(await ctx.store.blocklistList({ pairs: [] })).toEqual([]);
      expect(await ctx.store.blocklistList({ pairs: [{ queue: 'a', type: 'x' }] })).toEqual([]);

      const one = await ctx.store.write((tx) =>
        tx.blocklistClear({ workerId: 'w1', type: 't', queue: 'a' }),
      );
      expect(one.map((b) => b.queue)).toEqual(['a']);
      const rest = await ctx.store.write((tx) => tx.blocklistClear({ workerId: 'w1', type: 't' }));
      expect(rest.map((b) => b.queue)).toEqual(['b']);
      expect((await ctx.store.blocklistList({ workerId: 'w1' })).map((b) => b.type)).toEqual(['u']);
      // Cleared means counted from zero again.
      expect(await fail('w1', 'a', 't', T0 + 9, 2)).toBeNull();
    });
  });

  describe('usage series', () => {
    const ctx = useStore(factory);

    it('adds samples (a repeat is ignored), lists them from a time on, and prunes by age', async () => {
      await ctx.store.write((tx) =>
        tx.usageAdd([
          { workerId: 'w1', resolution: 'fine', sample: sample(T0) },
          { workerId: 'w1', resolution: 'fine', sample: sample(T0 + 5_000) },
          { workerId: 'w1', resolution: 'minute', sample: sample(T0, 0.4) },
          { workerId: 'w2', resolution: 'fine', sample: sample(T0 + 5_000) },
        ]),
      );
      await ctx.store.write((tx) =>
        tx.usageAdd([{ workerId: 'w1', resolution: 'fine', sample: sample(T0, 0.9) }]),
      );
      await ctx.store.write((tx) => tx.usageAdd([]));
      const fine = await ctx.store.usageList({
        workerId: 'w1',
        resolution: 'fine',
        since: T0,
        limit: 10,
      });
      expect(fine).toEqual([sample(T0), sample(T0 + 5_000)]);
      expect(
        await ctx.store.usageList({ workerId: 'w1', resolution: 'fine', since: T0 + 1, limit: 10 }),
      ).toEqual([sample(T0 + 5_000)]);
      expect(
        await ctx.store.usageList({ workerId: 'w1', resolution: 'fine', since: T0, limit: 1 }),
      ).toHaveLength(1);
      expect(
        await ctx.store.usageList({ workerId: 'w1', resolution: 'minute', since: 0, limit: 10 }),
      ).toEqual([sample(T0, 0.4)]);

      const pruned = await ctx.store.write((tx) => tx.usagePrune({ fine: T0 + 1, minute: T0 }));
      expect(pruned).toBe(1);
      expect(
        await ctx.store.usageList({ workerId: 'w1', resolution: 'fine', since: 0, limit: 10 }),
      ).toEqual([sample(T0 + 5_000)]);
      expect(
        await ctx.store.usageList({ workerId: 'w1', resolution: 'minute', since: 0, limit: 10 }),
      ).toHaveLength(1);
    });
  });
}
