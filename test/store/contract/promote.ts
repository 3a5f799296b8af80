/** Contract: scheduled jobs becoming due. */
import { describe, expect, it } from 'vitest';
import {
  addNeeds,
  claim,
  getJob,
  insertJobs,
  newJob,
  T0,
  useStore,
  type StoreFactory,
} from './helpers.js';

/** Promotion of due scheduled jobs, and the next run time. */
export function describePromote(factory: StoreFactory): void {
  describe('promote due and next run time', () => {
    const ctx = useStore(factory);
    const promote = (now: number, limit: number) =>
      ctx.store.write((tx) => tx.jobPromoteDue(now, limit));

    it('queues the scheduled jobs that are due, earliest first, and returns them', async () => {
      const a = await addNeeds(ctx.store, 'default', 'a');
      const b = await addNeeds(ctx.store, 'default', 'b');
      const [late, early, future, notScheduled] = await insertJobs(ctx.store, [
        newJob(a, { type: 'a', state: 'scheduled', runAt: T0 + 200, priority: 3 }),
        newJob(b, { type: 'b', state: 'scheduled', runAt: T0 + 100 }),
        newJob(a, { type: 'a', state: 'scheduled', runAt: T0 + 10_000 }),
        newJob(a, { type: 'a', state: 'held', runAt: T0 }),
      ]);
      const { jobs } = await promote(T0 + 200, 10);
      expect(jobs).toEqual([
        { id: early, needsId: b, priority: 0 },
        { id: late, needsId: a, priority: 3 },
      ]);
      expect(await getJob(ctx.store, late as number)).toMatchObject({
        state: 'queued',
        updatedAt: T0 + 200,
      });
      expect((await getJob(ctx.store, future as number)).state).toBe('scheduled');
      expect((await getJob(ctx.store, notScheduled as number)).state).toBe('held');
      expect((await claim(ctx.store, [a, b], 10)).jobs.map((j) => j.id)).toEqual([late, early]);
    });

    it('promotes at most limit jobs, the longest overdue first', async () => {
      const needsId = await addNeeds(ctx.store);
      const runAts = [T0 + 3, T0 + 1, T0 + 2, T0 + 1];
      const ids = await insertJobs(
        ctx.store,
        runAts.map((runAt) => newJob(needsId, { state: 'scheduled', runAt })),
      );
      const first = await promote(T0 + 10, 3);
      expect(first.jobs.map((j) => j.id)).toEqual([ids[1], ids[3], ids[2]]);
      const second = await promote(T0 + 10, 3);
      expect(second.jobs.map((j) => j.id)).toEqual([ids[0]]);
      expect((await promote(T0 + 10, 3)).jobs).toEqual([]);
    });

    it('knows the earliest run time among scheduled jobs, or null', async () => {
      expect(await ctx.store.jobNextRunAt()).toBeNull();
      const needsId = await addNeeds(ctx.store);
      await insertJobs(ctx.store, [
        newJob(needsId, { state: 'scheduled', runAt: T0 + 500 }),
        newJob(needsId, { state: 'scheduled', runAt: T0 + 300 }),
        newJob(needsId, { state: 'queued', runAt: T0 + 1 }),
        newJob(needsId, { state: 'held', runAt: T0 + 2 }),
      ]);
      expect(await ctx.store.jobNextRunAt()).toBe(T0 + 300);
      await promote(T0 + 300, 10);
      expect(await ctx.store.jobNextRunAt()).toBe(T0 + 500);
    });
  });
}
