/** Contract: listing, paging and counting jobs. */
import { describe, expect, it } from 'vitest';
import { jobStates, type JobState } from '../../../src/domain/job.js';
import type { JobQuery, Store } from '../../../src/store/store.js';
import {
  addNeeds,
  endAttempts,
  endOf,
  insertJobs,
  newJob,
  runningJob,
  useStore,
  worker2,
  type StoreFactory,
} from './helpers.js';

/** Every page of a query, following cursors; fails on a page that does not advance. */
async function allPages(store: Store, query: Omit<JobQuery, 'cursor'>): Promise<number[]> {
  const ids: number[] = [];
  let cursor: number | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await store.jobList({ ...query, ...(cursor === undefined ? {} : { cursor }) });
    expect(page.length).toBeLessThanOrEqual(query.limit);
    if (page.length === 0) return ids;
    ids.push(...page.map((j) => j.id));
    cursor = page[page.length - 1]?.id;
  }
  throw new Error('paging did not end');
}

/** Listing with filters and id cursors, and counts per state. */
export function describeList(factory: StoreFactory): void {
  describe('list and counts', () => {
    const ctx = useStore(factory);

    /** 12 jobs over two queues and types, in several states. */
    async function seed(): Promise<{ ids: number[]; state: Map<number, JobState> }> {
      const a = await addNeeds(ctx.store, 'qa', 'ta');
      const b = await addNeeds(ctx.store, 'qb', 'tb');
      const ids = await insertJobs(
        ctx.store,
        Array.from({ length: 10 }, (_, i) =>
          i % 2 === 0
            ? newJob(a, { queue: 'qa', type: 'ta', state: i % 4 === 0 ? 'queued' : 'held' })
            : newJob(b, { queue: 'qb', type: 'tb', state: 'scheduled' }),
        ),
      );
      const running = await runningJob(ctx.store, a, worker2, { queue: 'qa', type: 'ta' });
      const done = await runningJob(ctx.store, b, undefined, { queue: 'qb', type: 'tb' });
      await endAttempts(ctx.store, [endOf(done, 'succeeded')]);
      const all = [...ids, running.id, done.id];
      const state = new Map<number, JobState>();
      for (const job of await ctx.store.jobList({ order: 'asc', limit: 100 })) {
        state.set(job.id, job.state);
      }
      return { ids: all, state };
    }

    it('lists all jobs in id order, both ways', async () => {
      const { ids } = await seed();
      const asc = await ctx.store.jobList({ order: 'asc', limit: 100 });
      expect(asc.map((j) => j.id)).toEqual(ids);
      const desc = await ctx.store.jobList({ order: 'desc', limit: 100 });
      expect(desc.map((j) => j.id)).toEqual([...ids].reverse());
      expect((await ctx.store.jobList({ order: 'desc', limit: 3 })).map((j) => j.id)).toEqual(
        [...ids].reverse().slice(0, 3),
      );
    });

    it('filters by states, queue, type and worker', async () => {
      const { ids, state } = await seed();
      const expectIds = async (q: Partial<JobQuery>, want: (id: number) => boolean) => {
        const got = await ctx.store.jobList({ order: 'asc', limit: 100, ...q });
        expect(got.map((j) => j.id)).toEqual(ids.filter(want));
      };
      await expectIds({ states: ['held'] }, (id) => state.get(id) === 'held');
      await expectIds({ states: ['queued', 'scheduled', 'succeeded'] }, (id) =>
        ['queued', 'scheduled', 'succeeded'].includes(state.get(id) as string),
      );
      await expectIds({ states: [] }, () => false);
      await expectIds({ queue: 'qb' }, (id) => ids.indexOf(id) % 2 === 1 || id === ids[11]);
      await expectIds({ type: 'ta', states: ['running'] }, (id) => id === ids[10]);
      // A worker by its id or by its name.
      await expectIds({ worker: 'w2' }, (id) => id === ids[10]);
      await expectIds({ worker: 'w1' }, (id) => id === ids[11]);
      await expectIds({ worker: 'beta' }, (id) => id === ids[10]);
      await expectIds({ worker: 'alpha' }, (id) => id === ids[11]);
      await expectIds({ worker: 'nobody' }, () => false);
      await expectIds({ queue: 'qa', type: 'tb' }, () => false);
    });

    it('pages with cursors without duplicates or gaps, both ways', async () => {
      const { ids, state } = await seed();
      for (const limit of [1, 2, 5, 12, 50]) {
        expect(await allPages(ctx.store, { order: 'asc', limit })).toEqual(ids);
        expect(await allPages(ctx.store, { order: 'desc', limit })).toEqual([...ids].reverse());
      }
      const some: JobState[] = ['held', 'scheduled', 'running'];
      const wanted = ids.filter((id) => some.includes(state.get(id) as JobState));
      expect(await allPages(ctx.store, { order: 'asc', limit: 2, states: some })).toEqual(wanted);
      expect(await allPages(ctx.store, { order: 'desc', limit: 3, states: some })).toEqual(
        [...wanted].reverse(),
      );
    });

    it('starts after the cursor, which need not be an existing id', async () => {
      const { ids } = await seed();
      const mid = ids[5] as number;
      const after = await ctx.store.jobList({ order: 'asc', limit: 100, cursor: mid });
      expect(after.map((j) => j.id)).toEqual(ids.slice(6));
      const before = await ctx.store.jobList({ order: 'desc', limit: 100, cursor: mid });
      expect(before.map((j) => j.id)).toEqual(ids.slice(0, 5).reverse());
      const past = await ctx.store.jobList({ order: 'asc', limit: 100, cursor: 1_000_000 });
      expect(past).toEqual([]);
    });

    it('counts every state, with 0 for states no job is in', async () => {
      const empty = await ctx.store.jobCounts();
      expect(empty).toEqual(Object.fromEntries(jobStates.map((s) => [s, 0])));
      const { state } = await seed();
      const expected = Object.fromEntries(jobStates.map((s) => [s, 0])) as Record<JobState, number>;
      for (const s of state.values()) expected[s]++;
      expect(await ctx.store.jobCounts()).toEqual(expected);
      expect(expected).toMatchObject({
        queued: 3,
        held: 2,
        scheduled: 5,
        running: 1,
        succeeded: 1,
      });
    });

    it('counts jobs per queue and state, leaving out pairs without jobs', async () => {
      expect(await ctx.store.jobCountsByQueue()).toEqual([]);
      await seed();
      // Queued jobs of qa: 0, 4, 8 (i % 4 === 0); held: 2, 6; qb: five scheduled, one ended.
      expect(await ctx.store.jobCountsByQueue()).toEqual([
        { queue: 'qa', state: 'held', count: 2 },
        { queue: 'qa', state: 'queued', count: 3 },
        { queue: 'qa', state: 'running', count: 1 },
        { queue: 'qb', state: 'scheduled', count: 5 },
        { queue: 'qb', state: 'succeeded', count: 1 },
      ]);
    });

    it('pages through queued jobs by id, as the multi queue manager loads them', async () => {
      const { ids, state } = await seed();
      const queued = ids.filter((id) => state.get(id) === 'queued');
      const first = await ctx.store.jobQueuedRefs(0, 2);
      const rest = await ctx.store.jobQueuedRefs(first[first.length - 1]?.id ?? 0, 10);
      expect([...first, ...rest].map((r) => r.id)).toEqual(queued);
      expect(first[0]).toEqual({
        id: queued[0],
        needsId: expect.any(Number),
        priority: 0,
        ahead: false,
      });
    });
  });
}
