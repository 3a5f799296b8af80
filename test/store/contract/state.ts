/**
 * Contract: conditional changes of state (`jobSetStateIfMany`) beyond the ends of attempts
 * (end.ts), and reading jobs for a change (`jobGetForUpdate`). A change applies only if its job
 * is still in `from` (and under its lease); the domain plans them, the store applies them.
 */
import { describe, expect, it } from 'vitest';
import type { JobState } from '../../../src/domain/job.js';
import { planCancel, type StateChange } from '../../../src/domain/transitions.js';
import {
  addNeeds,
  attemptOf,
  claim,
  claimId,
  endAttempts,
  endOf,
  getJob,
  insertJob,
  newJob,
  runningJob,
  setStates,
  T0,
  useStore,
  worker1,
  type StoreFactory,
} from './helpers.js';

const NOW = T0 + 50_000;

export function describeStateChanges(factory: StoreFactory): void {
  describe('changes of state', () => {
    const ctx = useStore(factory);
    const cancel = async (id: number): Promise<boolean | undefined> => {
      const [job] = await ctx.store.write((tx) => tx.jobGetForUpdate([id]));
      if (job === undefined) return undefined;
      const change = planCancel(job, NOW);
      if (change === null) return false;
      const [applied] = await setStates(ctx.store, [change]);
      return applied;
    };

    for (const state of ['waiting', 'scheduled', 'queued', 'held'] as const) {
      it(`cancels a ${state} job without adding an attempt`, async () => {
        const needsId = await addNeeds(ctx.store);
        const id = await insertJob(ctx.store, newJob(needsId, { state, runAt: T0 + 1 }));
        expect(await cancel(id)).toBe(true);
        expect(await getJob(ctx.store, id)).toMatchObject({
          id,
          state: 'canceled',
          finishedAt: NOW,
          updatedAt: NOW,
          attempts: [],
        });
      });
    }

    it('cancels a running job and records its attempt as canceled', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      expect(await cancel(job.id)).toBe(true);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'canceled',
        finishedAt: NOW,
        workerId: job.workerId,
        nodeId: job.nodeId,
        attempts: [attemptOf(job, 'canceled', NOW)],
      });
      // The worker's late result no longer applies.
      expect(await endAttempts(ctx.store, [endOf(job, 'succeeded')])).toEqual([false]);
      expect((await getJob(ctx.store, job.id)).state).toBe('canceled');
    });

    it('plans nothing for a job that already ended, which stays as it is', async () => {
      const needsId = await addNeeds(ctx.store);
      const ended: Array<[number, JobState]> = [];
      for (const state of ['succeeded', 'failed'] as const) {
        const job = await runningJob(ctx.store, needsId);
        await endAttempts(ctx.store, [endOf(job, state)]);
        ended.push([job.id, state]);
      }
      const twice = await insertJob(ctx.store, newJob(needsId));
      await cancel(twice);
      ended.push([twice, 'canceled']);
      for (const [id, state] of ended) {
        const before = await getJob(ctx.store, id);
        expect(before.state).toBe(state);
        expect(await cancel(id)).toBe(false);
        expect(await getJob(ctx.store, id)).toStrictEqual(before);
      }
    });

    it('takes a canceled job out of dispatch', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId));
      await cancel(id);
      expect((await claim(ctx.store, [needsId], 5)).jobs).toEqual([]);
    });

    it('applies a change only while its job is still in its from state', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId, { state: 'held' }));
      const release: StateChange = { id, from: 'held', to: 'queued', now: NOW };
      const wrongFrom: StateChange = { id, from: 'scheduled', to: 'queued', now: NOW };
      expect(await setStates(ctx.store, [wrongFrom, release, release])).toEqual([
        false,
        true,
        false,
      ]);
      expect(await getJob(ctx.store, id)).toMatchObject({ state: 'queued', updatedAt: NOW });
      expect((await claim(ctx.store, [needsId], 5)).jobs.map((j) => j.id)).toEqual([id]);
    });

    it('keeps what a change leaves undefined, and sets what it names (null included)', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId, worker1, { runAt: T0 + 7 });
      const error = { code: 'exit_code', message: 'exited with 3' };
      await endAttempts(ctx.store, [
        endOf(job, 'failed', { error, result: { partial: true }, requestFailures: 2 }),
      ]);
      // A retry by hand of a failed job: back to the queue, its end time cleared, the rest kept.
      expect(
        await setStates(ctx.store, [{ id: job.id, from: 'failed', to: 'queued', now: NOW }]),
      ).toEqual([true]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'queued',
        finishedAt: null,
        updatedAt: NOW,
        runAt: T0 + 7,
        error,
        result: { partial: true },
        requestFailures: 2,
      });
      await setStates(ctx.store, [
        {
          id: job.id,
          from: 'queued',
          to: 'held',
          now: NOW + 1,
          hold: { reason: 'checked', by: 'local', at: NOW + 1 },
          error: null,
          result: null,
          requestFailures: 0,
          runAt: NOW + 500,
        },
      ]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'held',
        error: null,
        result: null,
        requestFailures: 0,
        runAt: NOW + 500,
      });
    });

    it('re-queues a lost run ahead of the older jobs of its priority, not of higher ones', async () => {
      const needsId = await addNeeds(ctx.store);
      const lost = await runningJob(ctx.store, needsId);
      const older = await insertJob(ctx.store, newJob(needsId, { createdAt: T0 - 100 }));
      const urgent = await insertJob(ctx.store, newJob(needsId, { priority: 5 }));
      const later = await insertJob(ctx.store, newJob(needsId));
      await endAttempts(ctx.store, [endOf(lost, 'queued', { runAt: NOW, front: true })]);
      const order = (await claim(ctx.store, [needsId], 10, worker1, NOW)).jobs.map((j) => j.id);
      expect(order).toEqual([urgent, lost.id, older, later]);
    });

    it('keeps that order when a worker claims from several needs at once', async () => {
      const needsA = await addNeeds(ctx.store, 'a');
      const needsB = await addNeeds(ctx.store, 'b');
      const older = await insertJob(ctx.store, newJob(needsB));
      const lost = await runningJob(ctx.store, needsA);
      await endAttempts(ctx.store, [endOf(lost, 'queued', { runAt: NOW, front: true })]);
      const claimed = await claim(ctx.store, [needsA, needsB], 10, worker1, NOW);
      expect(claimed.jobs.map((j) => j.id)).toEqual([lost.id, older]);
    });

    it('puts a job re-queued by any other change back in its place by age', async () => {
      const needsId = await addNeeds(ctx.store);
      const older = await insertJob(ctx.store, newJob(needsId));
      const job = await runningJob(ctx.store, needsId);
      await endAttempts(ctx.store, [endOf(job, 'queued', { runAt: NOW, front: true })]);
      // Run again and failed: a retry by hand is not ahead any more.
      const again = await claimId(ctx.store, job.id, worker1, NOW);
      await endAttempts(ctx.store, [endOf(again, 'failed')]);
      await setStates(ctx.store, [{ id: job.id, from: 'failed', to: 'queued', now: NOW }]);
      const claimed = await claim(ctx.store, [needsId], 10, worker1, NOW + 1);
      expect(claimed.jobs.map((j) => j.id)).toEqual([older, job.id]);
    });

    it('reads jobs for a change in id order, leaving out unknown ids', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await insertJob(ctx.store, newJob(needsId));
      const b = await insertJob(ctx.store, newJob(needsId, { state: 'held' }));
      const read = await ctx.store.write((tx) => tx.jobGetForUpdate([b, 999_999, a, b]));
      expect(read.map((j) => [j.id, j.state])).toEqual([
        [a, 'queued'],
        [b, 'held'],
      ]);
      expect(read[0]).toStrictEqual(await getJob(ctx.store, a));
    });
  });
}
