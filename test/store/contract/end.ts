/** Contract: ending attempts. */
import { describe, expect, it } from 'vitest';
import {
  addNeeds,
  attemptOf,
  claim,
  endAttempts,
  endOf,
  getJob,
  insertJob,
  newJob,
  runningJob,
  T0,
  useStore,
  worker2,
  type StoreFactory,
} from './helpers.js';

/** Ends apply only to the current attempt on its worker, and leave a history. */
export function describeEndAttempts(factory: StoreFactory): void {
  describe('end attempts', () => {
    const ctx = useStore(factory);

    it('ends a succeeded attempt: result, end time, history', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const end = endOf(job, 'succeeded', { result: { out: [1, 2] }, now: T0 + 5_000 });
      expect(await endAttempts(ctx.store, [end])).toEqual([true]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'succeeded',
        attempt: 1,
        runAt: T0,
        result: { out: [1, 2] },
        error: null,
        finishedAt: T0 + 5_000,
        updatedAt: T0 + 5_000,
        workerId: 'w1',
        attempts: [attemptOf(job, 'succeeded', T0 + 5_000)],
      });
    });

    it('ends a failed attempt with its error and request failures', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const error = { code: 'exit_code', message: 'exited with 2', details: { exitCode: 2 } };
      const end = endOf(job, 'failed', {
        error,
        record: attemptOf(job, 'failed', T0 + 5_000, error),
        requestFailures: 2,
      });
      expect(await endAttempts(ctx.store, [end])).toEqual([true]);
      const stored = await getJob(ctx.store, job.id);
      expect(stored).toMatchObject({
        state: 'failed',
        error,
        requestFailures: 2,
        finishedAt: T0 + 5_000,
        result: null,
      });
      expect(stored.attempts).toEqual([attemptOf(job, 'failed', T0 + 5_000, error)]);
    });

    it('schedules a retry: run time set, no end time, back in dispatch once due', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      expect(
        await endAttempts(ctx.store, [endOf(job, 'scheduled', { runAt: T0 + 60_000 })]),
      ).toEqual([true]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'scheduled',
        runAt: T0 + 60_000,
        finishedAt: null,
      });
      expect(await ctx.store.jobNextRunAt()).toBe(T0 + 60_000);
    });

    it('requeues: claimable again, with the history of the first attempt kept', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const lost = { code: 'worker_lost', message: 'gone' };
      const first = endOf(job, 'queued', {
        runAt: T0 + 5_000,
        error: lost,
        record: attemptOf(job, 'aborted', T0 + 5_000, lost),
        requestFailures: 1,
      });
      expect(await endAttempts(ctx.store, [first])).toEqual([true]);
      const queued = await getJob(ctx.store, job.id);
      expect(queued).toMatchObject({ state: 'queued', finishedAt: null, requestFailures: 1 });
      const [again] = (await claim(ctx.store, [needsId], 1, worker2, T0 + 6_000)).jobs;
      expect(again).toMatchObject({ id: job.id, attempt: 2, requestFailures: 1 });
      if (again === undefined) return;
      await endAttempts(ctx.store, [endOf(again, 'succeeded', { now: T0 + 7_000 })]);
      expect((await getJob(ctx.store, job.id)).attempts).toEqual([
        attemptOf(job, 'aborted', T0 + 5_000, lost),
        attemptOf(again, 'succeeded', T0 + 7_000),
      ]);
    });

    it('applies only to the current attempt on its worker', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const lease = { attempt: job.attempt, workerId: job.workerId, nodeId: job.nodeId };
      const stale = endOf(job, 'succeeded', { lease: { ...lease, attempt: job.attempt - 1 } });
      const future = endOf(job, 'succeeded', { lease: { ...lease, attempt: job.attempt + 1 } });
      const otherWorker = endOf(job, 'succeeded', { lease: { ...lease, workerId: 'w2' } });
      const otherNode = endOf(job, 'failed', { lease: { ...lease, nodeId: 'n9' } });
      const unknown = endOf(job, 'succeeded', { id: job.id + 1_000 });
      expect(
        await endAttempts(ctx.store, [stale, future, otherWorker, otherNode, unknown]),
      ).toEqual([false, false, false, false, false]);
      const still = await getJob(ctx.store, job.id);
      expect(still).toMatchObject({ state: 'running', attempts: [], finishedAt: null });
    });

    it('does not apply to a job that is no longer running', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const end = endOf(job, 'succeeded');
      expect(await endAttempts(ctx.store, [end, end])).toEqual([true, false]);
      const queued = await insertJob(ctx.store, newJob(needsId));
      expect(
        await endAttempts(ctx.store, [
          { ...end, id: queued, lease: { attempt: 0, workerId: job.workerId, nodeId: job.nodeId } },
        ]),
      ).toEqual([false]);
      expect((await getJob(ctx.store, job.id)).attempts).toHaveLength(1);
    });

    it('answers per entry in a batch', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId);
      const b = await runningJob(ctx.store, needsId);
      const result = await endAttempts(ctx.store, [
        endOf(a, 'succeeded'),
        endOf(b, 'failed', {
          lease: { attempt: b.attempt, workerId: 'someone-else', nodeId: b.nodeId },
        }),
        endOf(b, 'failed'),
      ]);
      expect(result).toEqual([true, false, true]);
      expect((await getJob(ctx.store, a.id)).state).toBe('succeeded');
      expect((await getJob(ctx.store, b.id)).state).toBe('failed');
    });
  });
}
