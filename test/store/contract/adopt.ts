/** Contract: adoption by a reconnecting worker, orphans, and a worker's running jobs. */
import { describe, expect, it } from 'vitest';
import {
  addNeeds,
  endAttempts,
  endOf,
  getJob,
  insertJob,
  newJob,
  runningJob,
  T0,
  useStore,
  worker1,
  worker2,
  type StoreFactory,
} from './helpers.js';

/** Adoption, orphans, and running jobs by worker. */
export function describeAdopt(factory: StoreFactory): void {
  describe('adopt', () => {
    const ctx = useStore(factory);

    it('re-points a running attempt at the node of the worker that still runs it', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId, worker1);
      const moved = { workerId: worker1.workerId, workerName: 'alpha-2', nodeId: 'n2' };
      const adopted = await ctx.store.write((tx) =>
        tx.jobAdopt({ id: job.id, attempt: job.attempt, ...moved, now: T0 + 9_000 }),
      );
      expect(adopted).toStrictEqual({ ...job, ...moved });
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'running',
        attempt: job.attempt,
        workerId: 'w1',
        workerName: 'alpha-2',
        nodeId: 'n2',
        startedAt: job.startedAt,
        updatedAt: T0 + 9_000,
      });
      // The attempt is now the new node's: its end applies, the old node's would not.
      const lease = { attempt: job.attempt, workerId: job.workerId };
      expect(
        await endAttempts(ctx.store, [
          endOf(job, 'succeeded', { lease: { ...lease, nodeId: 'n1' } }),
          endOf(job, 'succeeded', { lease: { ...lease, nodeId: 'n2' } }),
        ]),
      ).toEqual([false, true]);
    });

    it('does not adopt for another worker, another attempt, a job not running, or an unknown job', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const queued = await insertJob(ctx.store, newJob(needsId));
      const results = await ctx.store.write(async (tx) => [
        await tx.jobAdopt({ id: job.id, attempt: job.attempt, ...worker2, now: T0 }),
        await tx.jobAdopt({ id: job.id, attempt: job.attempt + 1, ...worker1, now: T0 }),
        await tx.jobAdopt({ id: queued, attempt: 0, ...worker2, now: T0 }),
        await tx.jobAdopt({ id: 987_654, attempt: 1, ...worker2, now: T0 }),
      ]);
      expect(results).toEqual([undefined, undefined, undefined, undefined]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({ workerId: 'w1', nodeId: 'n1' });
      expect((await getJob(ctx.store, queued)).state).toBe('queued');
    });
  });

  describe('orphans and running jobs by worker', () => {
    const ctx = useStore(factory);

    it('lists running jobs whose node is not live, oldest first, up to the limit', async () => {
      const needsId = await addNeeds(ctx.store);
      const onN1a = await runningJob(ctx.store, needsId, worker1);
      const onN2 = await runningJob(ctx.store, needsId, worker2);
      const onN3 = await runningJob(ctx.store, needsId, { ...worker2, nodeId: 'n3' });
      const onN1b = await runningJob(ctx.store, needsId, worker1);
      await insertJob(ctx.store, newJob(needsId));

      const ids = async (live: string[], limit = 10) =>
        (await ctx.store.jobListOrphans(live, limit)).map((j) => j.id);
      expect(await ids(['n1', 'n2', 'n3'])).toEqual([]);
      expect(await ids(['n1'])).toEqual([onN2.id, onN3.id]);
      expect(await ids([])).toEqual([onN1a.id, onN2.id, onN3.id, onN1b.id]);
      expect(await ids([], 2)).toEqual([onN1a.id, onN2.id]);
      expect(await ctx.store.jobListOrphans(['n1', 'n3'], 10)).toStrictEqual([onN2]);
    });

    it('does not list jobs that stopped running as orphans', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      await endAttempts(ctx.store, [endOf(job, 'succeeded')]);
      expect(await ctx.store.jobListOrphans([], 10)).toEqual([]);
    });

    it("lists one worker's running jobs", async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId, worker1);
      await runningJob(ctx.store, needsId, worker2);
      const b = await runningJob(ctx.store, needsId, worker1);
      const ended = await runningJob(ctx.store, needsId, worker1);
      await endAttempts(ctx.store, [endOf(ended, 'failed')]);
      expect(await ctx.store.jobListRunningByWorker('w1')).toStrictEqual([a, b]);
      expect(await ctx.store.jobListRunningByWorker('nobody')).toEqual([]);
    });
  });
}
