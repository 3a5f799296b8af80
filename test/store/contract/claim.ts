/** Contract: claiming queued jobs for a worker. */
import { describe, expect, it } from 'vitest';
import {
  addNeeds,
  claim,
  claimId,
  endAttempts,
  endOf,
  getJob,
  insertJob,
  insertJobs,
  newJob,
  T0,
  useStore,
  worker1,
  worker2,
  type StoreFactory,
} from './helpers.js';

/** Claims by needs and by ids. */
export function describeClaim(factory: StoreFactory): void {
  describe('claim', () => {
    const ctx = useStore(factory);

    it('takes the highest priority first, then the oldest', async () => {
      const needsId = await addNeeds(ctx.store);
      const [low, highOld, mid, highNew] = await insertJobs(ctx.store, [
        newJob(needsId, { priority: -1 }),
        newJob(needsId, { priority: 5 }),
        newJob(needsId, { priority: 0 }),
        newJob(needsId, { priority: 5 }),
      ]);
      const { jobs } = await claim(ctx.store, [needsId], 10);
      expect(jobs.map((j) => j.id)).toEqual([highOld, highNew, mid, low]);
    });

    it('orders across needs as if they were one queue', async () => {
      const a = await addNeeds(ctx.store, 'default', 'a');
      const b = await addNeeds(ctx.store, 'default', 'b');
      const [a1, b1, a2, b2] = await insertJobs(ctx.store, [
        newJob(a, { type: 'a' }),
        newJob(b, { type: 'b', priority: 1 }),
        newJob(a, { type: 'a' }),
        newJob(b, { type: 'b' }),
      ]);
      const { jobs } = await claim(ctx.store, [a, b], 3);
      expect(jobs.map((j) => j.id)).toEqual([b1, a1, a2]);
      expect((await claim(ctx.store, [a, b], 3)).jobs.map((j) => j.id)).toEqual([b2]);
    });

    it('claims only jobs of the given needs', async () => {
      const mine = await addNeeds(ctx.store, 'default', 'mine');
      const other = await addNeeds(ctx.store, 'default', 'other');
      const [otherJob] = await insertJobs(ctx.store, [
        newJob(other, { type: 'other', priority: 9 }),
      ]);
      const [myJob] = await insertJobs(ctx.store, [newJob(mine, { type: 'mine' })]);
      const { jobs } = await claim(ctx.store, [mine], 10);
      expect(jobs.map((j) => j.id)).toEqual([myJob]);
      expect((await getJob(ctx.store, otherJob as number)).state).toBe('queued');
    });

    it('claims at most limit jobs, and none for a limit of 0', async () => {
      const needsId = await addNeeds(ctx.store);
      await insertJobs(
        ctx.store,
        Array.from({ length: 5 }, () => newJob(needsId)),
      );
      expect((await claim(ctx.store, [needsId], 0)).jobs).toEqual([]);
      expect((await claim(ctx.store, [needsId], 2)).jobs).toHaveLength(2);
      expect((await ctx.store.jobCounts()).queued).toBe(3);
    });

    it('claims only queued jobs', async () => {
      const needsId = await addNeeds(ctx.store);
      const states = ['scheduled', 'held', 'waiting'] as const;
      await insertJobs(
        ctx.store,
        states.map((state) => newJob(needsId, { state, runAt: T0 - 1 })),
      );
      expect((await claim(ctx.store, [needsId], 10)).jobs).toEqual([]);
    });

    it('never claims a job twice', async () => {
      const needsId = await addNeeds(ctx.store);
      await insertJobs(
        ctx.store,
        Array.from({ length: 4 }, () => newJob(needsId)),
      );
      const first = await claim(ctx.store, [needsId], 3);
      const second = await claim(ctx.store, [needsId], 3, worker2);
      const ids = [...first.jobs, ...second.jobs].map((j) => j.id);
      expect(ids).toHaveLength(4);
      expect(new Set(ids).size).toBe(4);
      expect((await claim(ctx.store, [needsId], 3)).jobs).toEqual([]);
    });

    it('never claims a job twice inside one transaction', async () => {
      const needsId = await addNeeds(ctx.store);
      await insertJobs(ctx.store, [newJob(needsId), newJob(needsId)]);
      const ids = await ctx.store.write(async (tx) => {
        const p = { needsIds: [needsId], limit: 2, now: T0 };
        const a = await tx.jobClaim({ ...p, ...worker1 });
        const b = await tx.jobClaim({ ...p, ...worker2 });
        return [...a.jobs, ...b.jobs].map((j) => j.id);
      });
      expect(ids).toHaveLength(2);
    });

    it('moves the job to running for the worker and returns what the worker needs', async () => {
      const needsId = await addNeeds(ctx.store, 'gpu', 'train', { hwgroup: 'a' });
      const id = await insertJob(
        ctx.store,
        newJob(needsId, {
          type: 'train',
          queue: 'gpu',
          payload: { epochs: 3 },
          requires: { hwgroup: 'a' },
          priority: 2,
          maxAttempts: 2,
          timeoutMs: 1_000,
          killSignal: 'SIGINT',
          killGraceMs: 500,
        }),
      );
      const { jobs } = await claim(ctx.store, [needsId], 1, worker1, T0 + 77);
      expect(jobs).toStrictEqual([
        {
          id,
          needsId,
          attempt: 1,
          type: 'train',
          queue: 'gpu',
          payload: { epochs: 3 },
          requires: { hwgroup: 'a' },
          priority: 2,
          maxAttempts: 2,
          requestFailures: 0,
          timeoutMs: 1_000,
          killSignal: 'SIGINT',
          killGraceMs: 500,
          runAt: T0,
          startedAt: T0 + 77,
          workerId: 'w1',
          workerName: 'alpha',
          nodeId: 'n1',
          uncounted: 0,
          options: null,
        },
      ]);
      const job = await getJob(ctx.store, id);
      expect(job).toMatchObject({
        state: 'running',
        attempt: 1,
        workerId: 'w1',
        workerName: 'alpha',
        startedAt: T0 + 77,
        updatedAt: T0 + 77,
        finishedAt: null,
      });
    });

    it('gives each claim of the same job the next attempt number and clears progress', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId));
      const first = await claimId(ctx.store, id);
      expect(first.attempt).toBe(1);
      await ctx.store.write((tx) =>
        tx.jobProgressSet([
          { id, attempt: 1, progress: { percent: 50, message: 'half', at: T0 + 2 } },
        ]),
      );
      expect(await endAttempts(ctx.store, [endOf(first, 'queued', { runAt: T0 })])).toEqual([true]);
      const { jobs } = await claim(ctx.store, [needsId], 1, worker2, T0 + 9_000);
      expect(jobs.map((j) => [j.id, j.attempt, j.workerId, j.startedAt])).toEqual([
        [id, 2, 'w2', T0 + 9_000],
      ]);
      expect((await getJob(ctx.store, id)).progress).toBeNull();
    });

    it('reports a needs exhausted when it has no queued job left', async () => {
      const few = await addNeeds(ctx.store, 'default', 'few');
      const many = await addNeeds(ctx.store, 'default', 'many');
      const none = await addNeeds(ctx.store, 'default', 'none');
      await insertJobs(ctx.store, [
        newJob(few, { type: 'few' }),
        ...Array.from({ length: 5 }, () => newJob(many, { type: 'many' })),
      ]);
      const result = await claim(ctx.store, [few, many, none], 3);
      expect(result.jobs).toHaveLength(3);
      expect([...result.exhausted].sort((x, y) => x - y)).toEqual([few, none]);
    });

    it('does not report a needs exhausted while it still has queued jobs', async () => {
      const hi = await addNeeds(ctx.store, 'default', 'hi');
      const lo = await addNeeds(ctx.store, 'default', 'lo');
      await insertJobs(ctx.store, [
        newJob(hi, { type: 'hi', priority: 9 }),
        newJob(hi, { type: 'hi', priority: 9 }),
        newJob(lo, { type: 'lo' }),
      ]);
      // `lo` has fewer jobs than the limit, but the limit is used up before its job is reached.
      const result = await claim(ctx.store, [hi, lo], 2);
      expect(result.jobs.map((j) => j.type)).toEqual(['hi', 'hi']);
      expect(result.exhausted).not.toContain(lo);
      const next = await claim(ctx.store, [hi, lo], 2);
      expect(next.jobs.map((j) => j.type)).toEqual(['lo']);
      expect([...next.exhausted].sort((x, y) => x - y)).toEqual([hi, lo]);
    });
  });

  describe('claim by ids', () => {
    const ctx = useStore(factory);

    it('claims the named queued jobs in the order given, skipping any not queued', async () => {
      const needsId = await addNeeds(ctx.store);
      const [a, b, held, c] = await insertJobs(ctx.store, [
        newJob(needsId),
        newJob(needsId),
        newJob(needsId, { state: 'held' }),
        newJob(needsId),
      ]);
      await claimId(ctx.store, b as number, worker2);
      const jobs = await ctx.store.write((tx) =>
        tx.jobClaimIds([c as number, held as number, b as number, 999_999, a as number], {
          ...worker1,
          now: T0,
        }),
      );
      expect(jobs.map((j) => j.id)).toEqual([c, a]);
      expect(jobs.every((j) => j.workerId === 'w1' && j.attempt === 1)).toBe(true);
      expect((await getJob(ctx.store, b as number)).workerId).toBe('w2');
      expect((await getJob(ctx.store, held as number)).state).toBe('held');
    });

    it('claims a job named twice only once', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId));
      const jobs = await ctx.store.write((tx) => tx.jobClaimIds([id, id], { ...worker1, now: T0 }));
      expect(jobs.map((j) => j.id)).toEqual([id]);
    });
  });
}
