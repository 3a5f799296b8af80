/**
 * Contract: dependencies between jobs. A waiting job is told, when a job it depends on ends,
 * with the states of all its dependencies; a dependency deleted meanwhile counts as canceled.
 */
import { describe, expect, it } from 'vitest';
import { planCancel } from '../../../src/domain/transitions.js';
import {
  addNeeds,
  endAttempts,
  endOf,
  failedJob,
  forUpdate,
  insertJob,
  insertJobs,
  newJob,
  runningJob,
  setStates,
  T0,
  useStore,
  type StoreFactory,
} from './helpers.js';

const NOW = T0 + 50_000;

/** A dependent's options come with it: its callback when a dependency cancels it, for one. */
const notifyOptions = {
  dependencies: 1,
  notify: { url: 'https://example.test/hook', events: ['canceled' as const] },
};

export function describeDependencies(factory: StoreFactory): void {
  describe('dependencies', () => {
    const ctx = useStore(factory);

    it('gives each waiting dependent with the states of all its dependencies', async () => {
      const needsId = await addNeeds(ctx.store);
      // One dependency in each state, and one deleted.
      const states = ['waiting', 'scheduled', 'queued', 'held'] as const;
      const deps = await insertJobs(
        ctx.store,
        states.map((state) => newJob(needsId, { state, runAt: T0 + 1 })),
      );
      const running = await runningJob(ctx.store, needsId);
      const succeeded = await runningJob(ctx.store, needsId);
      await endAttempts(ctx.store, [endOf(succeeded, 'succeeded')]);
      const { id: failed } = await failedJob(ctx.store, needsId);
      const canceled = await insertJob(ctx.store, newJob(needsId));
      await setStates(ctx.store, [planCancel(await forUpdate(ctx.store, canceled), NOW)!]);
      const deleted = await insertJob(ctx.store, newJob(needsId));
      await ctx.store.write((tx) => tx.jobDelete([deleted]));
      const all = [...deps, running.id, succeeded.id, failed, canceled, deleted];

      const [w1, w2, notWaiting] = await insertJobs(ctx.store, [
        newJob(needsId, { state: 'waiting', priority: 4, runAt: NOW, options: notifyOptions }),
        newJob(needsId, { state: 'waiting' }),
        newJob(needsId, { state: 'held' }),
      ]);
      await ctx.store.write(async (tx) => {
        await tx.jobDependenciesAdd(all.map((d) => ({ jobId: w1!, dependsOn: d })).reverse());
        await tx.jobDependenciesAdd([
          { jobId: w2!, dependsOn: succeeded.id },
          { jobId: notWaiting!, dependsOn: succeeded.id },
        ]);
        // Linking again changes nothing.
        await tx.jobDependenciesAdd([{ jobId: w2!, dependsOn: succeeded.id }]);
      });

      const dependents = await ctx.store.write((tx) => tx.jobDependents([succeeded.id, failed]));
      expect(dependents).toEqual([
        {
          id: w1,
          state: 'waiting',
          needsId,
          priority: 4,
          runAt: NOW,
          options: notifyOptions,
          dependencies: [
            ...deps.map((id, i) => ({ id, state: states[i] })),
            { id: running.id, state: 'running' },
            { id: succeeded.id, state: 'succeeded' },
            { id: failed, state: 'failed' },
            { id: canceled, state: 'canceled' },
            { id: deleted, state: 'canceled' },
          ],
        },
        {
          id: w2,
          state: 'waiting',
          needsId,
          priority: 0,
          runAt: T0,
          options: null,
          dependencies: [{ id: succeeded.id, state: 'succeeded' }],
        },
      ]);
      expect(await ctx.store.write((tx) => tx.jobDependents([deps[0]!]))).toEqual([
        expect.objectContaining({ id: w1 }),
      ]);
      expect(await ctx.store.write((tx) => tx.jobDependents([w1!, 999_999]))).toEqual([]);
      expect(await ctx.store.write((tx) => tx.jobDependents([]))).toEqual([]);
    });

    it('shows what a job waits for and which jobs wait for it', async () => {
      const needsId = await addNeeds(ctx.store);
      const [a, b, c, d] = await insertJobs(ctx.store, [
        newJob(needsId),
        newJob(needsId, { state: 'waiting' }),
        newJob(needsId, { state: 'waiting' }),
        newJob(needsId, { state: 'held' }),
      ]);
      await ctx.store.write((tx) =>
        tx.jobDependenciesAdd([
          { jobId: d!, dependsOn: b! },
          { jobId: b!, dependsOn: a! },
          { jobId: c!, dependsOn: b! },
        ]),
      );
      expect(await ctx.store.jobDependencyView(b!)).toEqual({
        dependencies: [{ id: a, state: 'queued' }],
        dependents: [c, d],
      });
      expect(await ctx.store.jobDependencyView(a!)).toEqual({ dependencies: [], dependents: [b] });
      expect(await ctx.store.jobDependencyView(999_999)).toEqual({
        dependencies: [],
        dependents: [],
      });
    });
  });
}
