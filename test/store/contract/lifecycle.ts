/**
 * Contract: the job lifecycle beyond running and ending — jobs submitted with options, held or
 * already canceled; holds, uncounted attempts and error groups set and cleared by changes (as
 * the domain plans them); replans; deleting and purging. Dependencies are in dependencies.ts,
 * uniqueness keys in unique.ts; selecting jobs by the lifecycle's filters, counting them and
 * the failed queue's groups in select.ts.
 */
import { describe, expect, it } from 'vitest';
import type { HoldInfo, JobOptions, JobState } from '../../../src/domain/job.js';
import { planCancel, planHold, planRelease, planRetry } from '../../../src/domain/transitions.js';
import {
  addNeeds,
  attemptOf,
  claim,
  claimId,
  endAttempts,
  endOf,
  failedJob,
  forUpdate,
  getJob,
  insertJob,
  insertJobs,
  newJob,
  runningJob,
  setStates,
  T0,
  useStore,
  worker1,
  type StoreFactory,
} from './helpers.js';

const NOW = T0 + 50_000;
const hold: HoldInfo = { reason: 'disk full on the build host', by: 'token:ab12', at: NOW };
/** NUL, U+FFFF and a lone surrogate: what jsonb and UTF-8 cannot hold as they are. */
const ODD = 'k\u0000\uffff\ud800';
const options: JobOptions = {
  backoff: { type: 'fixed', delayMs: 2_000, maxDelayMs: 60_000, jitter: 0 },
  silenceTimeoutMs: 30_000,
  unique: { key: `nightly-${ODD}`, forMs: 3_600_000, while: ['queued', 'running'] },
};

export function describeLifecycle(factory: StoreFactory): void {
  describe('jobs submitted with options, held or canceled', () => {
    const ctx = useStore(factory);

    it('keeps the options and the hold of a job, and gives the options to its claim', async () => {
      const needsId = await addNeeds(ctx.store);
      const [plain, withOptions, held] = await insertJobs(ctx.store, [
        newJob(needsId),
        newJob(needsId, { options }),
        newJob(needsId, { state: 'held', hold }),
      ]);
      expect(await getJob(ctx.store, plain!)).toMatchObject({
        options: null,
        hold: null,
        uncounted: 0,
        errorGroup: null,
      });
      expect(await getJob(ctx.store, withOptions!)).toMatchObject({ options, hold: null });
      expect(await getJob(ctx.store, held!)).toMatchObject({ state: 'held', hold, options: null });
      const claimed = (await claim(ctx.store, [needsId], 10)).jobs;
      expect(claimed.map((j) => [j.id, j.options, j.uncounted])).toEqual([
        [plain, null, 0],
        [withOptions, options, 0],
      ]);
      expect(await ctx.store.jobListRunningByWorker(worker1.workerId)).toMatchObject([
        { id: plain, options: null, uncounted: 0 },
        { id: withOptions, options, uncounted: 0 },
      ]);
    });

    it('inserts a job canceled, ended as it was submitted, with its error', async () => {
      const needsId = await addNeeds(ctx.store);
      const error = { code: 'dependency_failed', message: 'job 7 failed', details: { id: '7' } };
      const id = await insertJob(
        ctx.store,
        newJob(needsId, { state: 'canceled', error, createdAt: T0 - 10 }),
      );
      expect(await getJob(ctx.store, id)).toMatchObject({
        state: 'canceled',
        error,
        createdAt: T0 - 10,
        updatedAt: T0 - 10,
        finishedAt: T0 - 10,
        attempts: [],
      });
      expect((await claim(ctx.store, [needsId], 5)).jobs).toEqual([]);
      expect((await ctx.store.jobCounts()).canceled).toBe(1);
    });

    it('refuses a held job without a hold, and a hold on a job that is not held', async () => {
      const needsId = await addNeeds(ctx.store);
      await expect(
        insertJobs(ctx.store, [newJob(needsId, { state: 'held', hold: null })]),
      ).rejects.toThrow(/constraint/i);
      await expect(insertJobs(ctx.store, [newJob(needsId, { hold })])).rejects.toThrow(
        /constraint/i,
      );
      expect(await ctx.store.jobList({ order: 'asc', limit: 10 })).toEqual([]);
    });
  });

  describe('holds, uncounted attempts and error groups in changes', () => {
    const ctx = useStore(factory);

    it('sets a hold on a waiting job and clears it on release', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId, { state: 'scheduled', runAt: NOW }));
      const held = planHold(await forUpdate(ctx.store, id), hold, NOW);
      expect(await setStates(ctx.store, [held!])).toEqual([true]);
      expect(await getJob(ctx.store, id)).toMatchObject({ state: 'held', hold, uncounted: 0 });
      const released = planRelease(await forUpdate(ctx.store, id), NOW + 1);
      expect(released).toMatchObject({ hold: null });
      expect(await setStates(ctx.store, [released!])).toEqual([true]);
      expect(await getJob(ctx.store, id)).toMatchObject({
        state: 'queued',
        hold: null,
        runAt: NOW + 1,
      });
      expect(
        (await claim(ctx.store, [needsId], 5, worker1, NOW + 2)).jobs.map((j) => j.id),
      ).toEqual([id]);
    });

    it('clears the hold of a held job that leaves held without saying so (a cancellation)', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId, { state: 'held', hold }));
      const cancel = planCancel(await forUpdate(ctx.store, id), NOW);
      expect(cancel).not.toHaveProperty('hold');
      expect(await setStates(ctx.store, [cancel!])).toEqual([true]);
      expect(await getJob(ctx.store, id)).toMatchObject({ state: 'canceled', hold: null });
    });

    it('holds a running job: its attempt recorded as held and not counted', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      await ctx.store.write((tx) =>
        tx.jobAttributeSet([{ id: job.id, attempt: 1, key: 'endpoint', value: 'h:1' }]),
      );
      expect((await getJob(ctx.store, job.id)).attributes).toEqual({ endpoint: 'h:1' });
      const change = planHold(await forUpdate(ctx.store, job.id), hold, NOW);
      expect(change).toMatchObject({ uncounted: 1, lease: { attempt: 1 } });
      expect(await setStates(ctx.store, [change!])).toEqual([true]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'held',
        hold,
        uncounted: 1,
        // The service it published is gone with its process.
        attributes: {},
        attempts: [attemptOf(job, 'held', NOW)],
      });
      // Released and run again: the claim tells the broker what did not count.
      await setStates(ctx.store, [planRelease(await forUpdate(ctx.store, job.id), NOW)!]);
      const again = await claimId(ctx.store, job.id, worker1, NOW + 1);
      expect(again).toMatchObject({ attempt: 2, uncounted: 1, options: null });
    });

    it('keeps uncounted attempts and the error group unless a change names them', async () => {
      const needsId = await addNeeds(ctx.store);
      const { id, errorGroup, error } = await failedJob(ctx.store, needsId);
      expect(await getJob(ctx.store, id)).toMatchObject({ state: 'failed', errorGroup, error });
      // A change that names neither keeps both.
      await setStates(ctx.store, [{ id, from: 'failed', to: 'queued', now: NOW, uncounted: 3 }]);
      expect(await getJob(ctx.store, id)).toMatchObject({ errorGroup, uncounted: 3 });
      await setStates(ctx.store, [{ id, from: 'queued', to: 'canceled', now: NOW + 1 }]);
      expect(await getJob(ctx.store, id)).toMatchObject({
        state: 'canceled',
        errorGroup,
        uncounted: 3,
      });
    });

    it('retries a failed job by hand: error and group cleared, earlier attempts uncounted', async () => {
      const needsId = await addNeeds(ctx.store);
      const { id } = await failedJob(ctx.store, needsId);
      const retry = planRetry(await forUpdate(ctx.store, id), NOW);
      expect(retry).toMatchObject({ errorGroup: null, error: null, uncounted: 1 });
      expect(await setStates(ctx.store, [retry!])).toEqual([true]);
      expect(await getJob(ctx.store, id)).toMatchObject({
        state: 'queued',
        error: null,
        result: null,
        errorGroup: null,
        uncounted: 1,
        finishedAt: null,
        attempt: 1,
      });
      // Its next run succeeds: the success keeps what the retry set.
      const job = await claimId(ctx.store, id, worker1, NOW + 1);
      expect(job).toMatchObject({ attempt: 2, uncounted: 1 });
      await endAttempts(ctx.store, [endOf(job, 'succeeded', { now: NOW + 2 })]);
      expect(await getJob(ctx.store, id)).toMatchObject({
        state: 'succeeded',
        uncounted: 1,
        errorGroup: null,
        hold: null,
      });
    });
  });

  describe('replans', () => {
    const ctx = useStore(factory);

    it('changes the priority of a waiting job, only while it is in the state planned', async () => {
      const needsId = await addNeeds(ctx.store);
      const [first, second] = await insertJobs(ctx.store, [newJob(needsId), newJob(needsId)]);
      const applied = await ctx.store.write((tx) =>
        tx.jobReplan([
          { id: second!, from: 'scheduled', priority: 9, now: NOW },
          { id: second!, from: 'queued', priority: 5, now: NOW },
          { id: 999_999, from: 'queued', priority: 5, now: NOW },
        ]),
      );
      expect(applied).toEqual([false, true, false]);
      expect(await getJob(ctx.store, second!)).toMatchObject({
        priority: 5,
        queue: 'default',
        state: 'queued',
        updatedAt: NOW,
      });
      expect(await getJob(ctx.store, first!)).toMatchObject({ priority: 0, updatedAt: T0 });
      const order = (await claim(ctx.store, [needsId], 5)).jobs.map((j) => j.id);
      expect(order).toEqual([second, first]);
    });

    it('moves a job to another queue with its needs, keeping what the replan leaves out', async () => {
      const from = await addNeeds(ctx.store, 'cpu');
      const to = await addNeeds(ctx.store, 'gpu');
      const ids = await insertJobs(ctx.store, [
        newJob(from, { queue: 'cpu', priority: 3 }),
        newJob(from, { queue: 'cpu', state: 'held' }),
        newJob(from, { queue: 'cpu', state: 'waiting' }),
      ]);
      const applied = await ctx.store.write((tx) =>
        tx.jobReplan([
          { id: ids[0]!, from: 'queued', queue: 'gpu', needsId: to, now: NOW },
          { id: ids[1]!, from: 'held', queue: 'gpu', needsId: to, priority: -2, now: NOW },
          { id: ids[2]!, from: 'waiting', queue: 'gpu', needsId: to, now: NOW },
        ]),
      );
      expect(applied).toEqual([true, true, true]);
      const jobs = await Promise.all(ids.map((id) => getJob(ctx.store, id)));
      expect(jobs.map((j) => [j.queue, j.priority, j.state])).toEqual([
        ['gpu', 3, 'queued'],
        ['gpu', -2, 'held'],
        ['gpu', 0, 'waiting'],
      ]);
      expect((await claim(ctx.store, [from], 5)).jobs).toEqual([]);
      expect((await claim(ctx.store, [to], 5)).jobs.map((j) => [j.id, j.queue])).toEqual([
        [ids[0], 'gpu'],
      ]);
    });

    it('never replans a running or ended job, whatever the plan says it is in', async () => {
      const needsId = await addNeeds(ctx.store);
      const running = await runningJob(ctx.store, needsId);
      const done = await runningJob(ctx.store, needsId);
      await endAttempts(ctx.store, [endOf(done, 'succeeded')]);
      const { id: failed } = await failedJob(ctx.store, needsId);
      const applied = await ctx.store.write((tx) =>
        tx.jobReplan([
          { id: running.id, from: 'running', priority: 7, now: NOW },
          { id: done.id, from: 'succeeded', priority: 7, now: NOW },
          { id: failed, from: 'failed', priority: 7, now: NOW },
        ]),
      );
      expect(applied).toEqual([false, false, false]);
      for (const id of [running.id, done.id, failed]) {
        expect((await getJob(ctx.store, id)).priority).toBe(0);
      }
    });

    it('refuses a move to another queue that names no needs', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId));
      await expect(
        ctx.store.write((tx) => tx.jobReplan([{ id, from: 'queued', queue: 'gpu', now: NOW }])),
      ).rejects.toThrow(/names no needs/);
      expect((await getJob(ctx.store, id)).queue).toBe('default');
    });
  });

  describe('deleting and purging', () => {
    const ctx = useStore(factory);

    it('deletes jobs with their logs, links and keys, and counts those that existed', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const [dependency, kept] = await insertJobs(ctx.store, [newJob(needsId), newJob(needsId)]);
      await ctx.store.write(async (tx) => {
        await tx.jobLogAppend([{ jobId: job.id, attempt: 1, stream: 'stdout', at: T0, data: 'x' }]);
        await tx.jobDependenciesAdd([{ jobId: job.id, dependsOn: dependency! }]);
        await tx.uniqueTake('the key');
        await tx.uniqueSet('the key', job.id, { forMs: null, while: null });
      });
      const deleted = await ctx.store.write((tx) =>
        tx.jobDelete([job.id, 999_999, job.id, dependency!]),
      );
      expect(deleted).toBe(2);
      expect(await ctx.store.jobGet(job.id)).toBeUndefined();
      expect(await ctx.store.jobGet(dependency!)).toBeUndefined();
      expect(await ctx.store.jobGet(kept!)).toBeDefined();
      expect(await ctx.store.jobLogs(job.id, 0, 10)).toEqual([]);
      expect(await ctx.store.jobDependencyView(job.id)).toEqual({
        dependencies: [],
        dependents: [],
      });
      expect(await ctx.store.write((tx) => tx.uniqueTake('the key'))).toBeNull();
      expect(await ctx.store.write((tx) => tx.jobDelete([]))).toBe(0);
    });

    it('leaves the jobs that waited for a deleted job seeing it as canceled', async () => {
      const needsId = await addNeeds(ctx.store);
      const [a, b, waiting] = await insertJobs(ctx.store, [
        newJob(needsId),
        newJob(needsId),
        newJob(needsId, { state: 'waiting' }),
      ]);
      await ctx.store.write((tx) =>
        tx.jobDependenciesAdd([
          { jobId: waiting!, dependsOn: a! },
          { jobId: waiting!, dependsOn: b! },
        ]),
      );
      await ctx.store.write((tx) => tx.jobDelete([a!]));
      expect(await ctx.store.write((tx) => tx.jobDependents([a!]))).toEqual([
        {
          id: waiting,
          state: 'waiting',
          needsId,
          priority: 0,
          runAt: T0,
          options: null,
          dependencies: [
            { id: a, state: 'canceled' },
            { id: b, state: 'queued' },
          ],
        },
      ]);
      expect(await ctx.store.jobDependencyView(waiting!)).toEqual({
        dependencies: [
          { id: a, state: 'canceled' },
          { id: b, state: 'queued' },
        ],
        dependents: [],
      });
    });

    it('purges the oldest ended jobs of a state first, no more than asked', async () => {
      const needsId = await addNeeds(ctx.store);
      // End times out of id order: the purge goes by end time.
      const endedAt = [NOW + 400, NOW + 100, NOW + 300, NOW + 200, NOW + 900];
      const ids: number[] = [];
      for (const at of endedAt) {
        const job = await runningJob(ctx.store, needsId);
        await endAttempts(ctx.store, [endOf(job, 'succeeded', { now: at })]);
        ids.push(job.id);
      }
      const { id: failed } = await failedJob(ctx.store, needsId);
      const queued = await insertJob(ctx.store, newJob(needsId));
      await ctx.store.write(async (tx) => {
        await tx.uniqueTake('old');
        await tx.uniqueSet('old', ids[1]!, { forMs: null, while: null });
      });
      const purge = (state: JobState, before: number, limit: number) =>
        ctx.store.write((tx) => tx.jobPurge(state, before, limit));
      expect(await purge('succeeded', NOW + 900, 2)).toEqual([ids[1], ids[3]]);
      expect(await purge('succeeded', NOW + 900, 10)).toEqual([ids[2], ids[0]]);
      // Ended at the cutoff: not before it.
      expect(await purge('succeeded', NOW + 900, 10)).toEqual([]);
      expect(await purge('succeeded', NOW + 901, 0)).toEqual([]);
      // Only ended states have anything to purge.
      expect(await purge('queued', T0 + 1_000_000, 10)).toEqual([]);
      const left = await ctx.store.jobList({ order: 'asc', limit: 10 });
      expect(left.map((j) => j.id)).toEqual([ids[4], failed, queued]);
      expect(await ctx.store.write((tx) => tx.uniqueTake('old'))).toBeNull();
      expect(await purge('failed', T0 + 5_001, 10)).toEqual([failed]);
    });
  });
}
