/**
 * Contract: cancellation. Unknown id → undefined. A job that already ended is returned unchanged
 * with `before` its terminal state (the caller answers 409 naming it).
 */
import { describe, expect, it } from 'vitest';
import type { JobState } from '../../../src/domain/job.js';
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
  type StoreFactory,
} from './helpers.js';

const NOW = T0 + 50_000;

/** Cancellation from each state. */
export function describeCancel(factory: StoreFactory): void {
  describe('cancel', () => {
    const ctx = useStore(factory);
    const cancel = (id: number) => ctx.store.write((tx) => tx.jobCancel(id, NOW));

    for (const state of ['waiting', 'scheduled', 'queued', 'held'] as const) {
      it(`cancels a ${state} job without adding an attempt`, async () => {
        const needsId = await addNeeds(ctx.store);
        const id = await insertJob(ctx.store, newJob(needsId, { state, runAt: T0 + 1 }));
        const result = await cancel(id);
        expect(result?.before).toBe(state);
        expect(result?.job).toMatchObject({
          id,
          state: 'canceled',
          finishedAt: NOW,
          updatedAt: NOW,
          attempts: [],
        });
        expect(await getJob(ctx.store, id)).toStrictEqual(result?.job);
      });
    }

    it('cancels a running job and records its attempt as canceled', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const result = await cancel(job.id);
      expect(result?.before).toBe('running');
      expect(result?.job).toMatchObject({
        state: 'canceled',
        finishedAt: NOW,
        workerId: job.workerId,
        attempts: [attemptOf(job, 'canceled', NOW)],
      });
      // The worker's late result no longer applies.
      expect(await endAttempts(ctx.store, [endOf(job, 'succeeded')])).toEqual([false]);
      expect((await getJob(ctx.store, job.id)).state).toBe('canceled');
    });

    it('returns a job that already ended unchanged, with its terminal state', async () => {
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
        const result = await ctx.store.write((tx) => tx.jobCancel(id, NOW + 1));
        expect(result).toStrictEqual({ before: state, job: before });
        expect(await getJob(ctx.store, id)).toStrictEqual(before);
      }
    });

    it('returns undefined for an unknown job', async () => {
      expect(await cancel(424_242)).toBeUndefined();
    });

    it('takes a canceled job out of dispatch', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId));
      await cancel(id);
      expect((await claim(ctx.store, [needsId], 5)).jobs).toEqual([]);
    });
  });
}
