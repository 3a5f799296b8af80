/**
 * Contract: selecting jobs by the lifecycle's filters (error group, times, search, attribute)
 * beside the older ones, alike in listing, walking ids in chunks and counting; and the failed
 * queue's groups.
 */
import { describe, expect, it } from 'vitest';
import { planRetry } from '../../../src/domain/transitions.js';
import type { JobSelector, Store } from '../../../src/store/store.js';
import {
  addNeeds,
  endAttempts,
  endOf,
  failedJob,
  forUpdate,
  getJob,
  insertJobs,
  newJob,
  runningJob,
  setStates,
  T0,
  useStore,
  worker1,
  worker2,
  type StoreFactory,
} from './helpers.js';

/** A key no JSON path can name as it is: a quote and a dot. */
const ODD_KEY = 'we"ird.key';

/** Every id a selector gives, walked in chunks of `chunk` after the last id of the one before. */
async function walk(store: Store, selector: JobSelector, chunk: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < 100; i++) {
    const page = await store.jobSelectIds(selector, ids[ids.length - 1] ?? 0, chunk);
    expect(page.length).toBeLessThanOrEqual(chunk);
    if (page.length === 0) return ids;
    ids.push(...page);
  }
  throw new Error('the walk did not end');
}

export function describeSelect(factory: StoreFactory): void {
  describe('selecting jobs', () => {
    const ctx = useStore(factory);

    /** Jobs in several states, queues, types, times, texts and attributes. */
    async function seed() {
      const a = await addNeeds(ctx.store, 'qa', 'compile');
      const b = await addNeeds(ctx.store, 'qb', 'render');
      const inA = { queue: 'qa', type: 'compile' } as const;
      const inB = { queue: 'qb', type: 'render' } as const;
      const [make, percent, lookalike] = await insertJobs(ctx.store, [
        newJob(a, { ...inA, payload: { cmd: 'Make ALL' }, meta: { owner: 'Ann' } }),
        newJob(b, { ...inB, payload: { note: '100% done_ok' }, createdAt: T0 + 10 }),
        newJob(b, {
          ...inB,
          payload: { note: '100x doneXok' },
          state: 'scheduled',
          runAt: T0 + 99,
          createdAt: T0 + 20,
        }),
      ]);
      const disk = await failedJob(ctx.store, a, 'Disk FULL on /dev/sda', T0 + 5_000, inA);
      const timeout = await failedJob(ctx.store, b, 'timed out', T0 + 6_000, inB);
      // A failure written before error groups existed has none.
      const old = await runningJob(ctx.store, b, worker1, inB);
      await endAttempts(ctx.store, [endOf(old, 'failed', { now: T0 + 7_000 })]);
      const disk2 = await failedJob(ctx.store, a, 'Disk FULL on /dev/sdb', T0 + 9_000, inA);
      // Ran with attributes: one still running on another worker, one that succeeded.
      const running = await runningJob(ctx.store, a, worker2, inA);
      const done = await runningJob(ctx.store, b, worker1, inB);
      await ctx.store.write((tx) =>
        tx.jobAttributeSet([
          { id: running.id, attempt: 1, key: ODD_KEY, value: 'v1' },
          { id: running.id, attempt: 1, key: 'plain', value: 'x' },
          { id: done.id, attempt: 1, key: ODD_KEY, value: 'v2' },
        ]),
      );
      await endAttempts(ctx.store, [endOf(done, 'succeeded', { now: T0 + 8_000 })]);
      // Failed, then retried by hand: its error is gone, and so is its text.
      const retried = await failedJob(ctx.store, a, 'null and void', T0 + 5_500, inA);
      const job = await forUpdate(ctx.store, retried.id);
      await setStates(ctx.store, [planRetry(job, T0 + 9_500)!]);
      expect(disk2.errorGroup).toBe(disk.errorGroup);
      return {
        ids: { make, percent, lookalike, disk: disk.id, timeout: timeout.id, old: old.id },
        more: { disk2: disk2.id, running: running.id, done: done.id, retried: retried.id },
        groups: { disk: disk.errorGroup, timeout: timeout.errorGroup },
      };
    }

    it('lists, walks and counts alike whatever the filters', async () => {
      const { ids, more, groups } = await seed();
      const { make, percent, lookalike, disk, timeout, old } = ids;
      const { disk2, running, done, retried } = more;
      const all = [make, percent, lookalike, disk, timeout, old, disk2, running, done, retried];
      expect((await ctx.store.jobList({ order: 'asc', limit: 100 })).map((j) => j.id)).toEqual(all);
      const cases: Array<[string, JobSelector, Array<number | undefined>]> = [
        ['nothing', {}, all],
        ['no states', { states: [] }, []],
        [
          'states',
          { states: ['failed', 'queued'] },
          [make, percent, disk, timeout, old, disk2, retried],
        ],
        ['an error group', { group: groups.disk }, [disk, disk2]],
        ['another group', { group: groups.timeout, queue: 'qb' }, [timeout]],
        ['the group of failures before groups', { group: '' }, [old]],
        ['a group and states without failed', { group: groups.disk, states: ['queued'] }, []],
        [
          'a group and states with failed',
          { group: groups.disk, states: ['failed', 'queued'] },
          [disk, disk2],
        ],
        ['created at or after', { createdAfter: T0 + 10 }, [percent, lookalike]],
        ['created before', { createdBefore: T0 + 20 }, all.filter((id) => id !== lookalike)],
        ['created in a range', { createdAfter: T0 + 10, createdBefore: T0 + 20 }, [percent]],
        ['ended at or after', { finishedAfter: T0 + 6_000 }, [timeout, old, disk2, done]],
        ['ended before', { finishedBefore: T0 + 6_000 }, [disk]],
        [
          'ended in a range',
          { finishedAfter: T0 + 6_000, finishedBefore: T0 + 8_000 },
          [timeout, old],
        ],
        ['text in a payload, any case', { search: 'make all' }, [make]],
        ['text in meta', { search: 'ANN' }, [make]],
        ['text in an error', { search: 'disk full' }, [disk, disk2]],
        ['text in a type', { search: 'RENDER' }, [percent, lookalike, timeout, old, done]],
        ['a literal %', { search: '100%' }, [percent]],
        ['a literal _', { search: 'done_ok' }, [percent]],
        ['text nowhere', { search: 'zebra' }, []],
        ['a cleared error, which has no text', { search: 'null', states: ['queued'] }, []],
        ['text and states', { search: 'disk', states: ['failed', 'succeeded'] }, [disk, disk2]],
        [
          'text, states and a queue',
          { search: '100', states: ['scheduled', 'queued'], queue: 'qb' },
          [percent, lookalike],
        ],
        ['an attribute with an odd key', { attribute: { key: ODD_KEY } }, [running, done]],
        ['its value', { attribute: { key: ODD_KEY, value: 'v1' } }, [running]],
        ['another value', { attribute: { key: ODD_KEY, value: 'v3' } }, []],
        ['a key that only begins one', { attribute: { key: 'we' } }, []],
        [
          'a plain attribute and a worker',
          { attribute: { key: 'plain' }, worker: 'beta' },
          [running],
        ],
        [
          'a worker and states',
          { worker: 'w1', states: ['failed', 'succeeded'] },
          [disk, timeout, old, disk2, done],
        ],
      ];
      for (const [what, selector, expected] of cases) {
        const listed = await ctx.store.jobList({ ...selector, order: 'asc', limit: 100 });
        expect(
          listed.map((j) => j.id),
          what,
        ).toEqual(expected);
        const desc = await ctx.store.jobList({ ...selector, order: 'desc', limit: 100 });
        expect(
          desc.map((j) => j.id),
          what,
        ).toEqual([...expected].reverse());
        const page = await ctx.store.jobList({
          ...selector,
          order: 'desc',
          limit: 2,
          cursor: disk2,
        });
        expect(
          page.map((j) => j.id),
          what,
        ).toEqual(
          [...expected]
            .reverse()
            .filter((id) => id! < disk2)
            .slice(0, 2),
        );
        expect(await walk(ctx.store, selector, 2), what).toEqual(expected);
        expect(await ctx.store.jobCount(selector), what).toBe(expected.length);
      }
    });

    it('finds a job by its id when the text is a number', async () => {
      const { ids } = await seed();
      const found = await ctx.store.jobList({ search: String(ids.make), order: 'asc', limit: 100 });
      // Its texts hold no digit: only the id can have matched.
      expect(JSON.stringify((await getJob(ctx.store, ids.make!)).payload)).not.toMatch(/\d/);
      expect(found.map((j) => j.id)).toContain(ids.make);
      expect(await ctx.store.jobCount({ search: `${ids.make}x` })).toBe(0);
    });

    it('walks ids after any id, no more than asked', async () => {
      const { ids, more } = await seed();
      expect(await ctx.store.jobSelectIds({ states: ['queued'] }, 0, 1)).toEqual([ids.make]);
      expect(await ctx.store.jobSelectIds({ states: ['queued'] }, ids.make!, 5)).toEqual([
        ids.percent,
        more.retried,
      ]);
      expect(await ctx.store.jobSelectIds({ states: ['queued'] }, ids.percent! + 1, 5)).toEqual([
        more.retried,
      ]);
      expect(await ctx.store.jobSelectIds({}, 1_000_000, 5)).toEqual([]);
      expect(await ctx.store.jobSelectIds({}, 0, 0)).toEqual([]);
    });
  });

  describe('failed queue groups', () => {
    const ctx = useStore(factory);

    it('groups nothing when nothing failed', async () => {
      for (const by of ['queue', 'type', 'error'] as const) {
        expect(await ctx.store.failedGroups(by, 10)).toEqual({ total: 0, groups: [] });
      }
    });

    it('groups failed jobs by error group, queue or type, largest first', async () => {
      const a = await addNeeds(ctx.store, 'qa', 'compile');
      const b = await addNeeds(ctx.store, 'qb', 'render');
      const inA = { queue: 'qa', type: 'compile' } as const;
      const inB = { queue: 'qb', type: 'render' } as const;
      const disk1 = await failedJob(ctx.store, a, 'disk full on /dev/sda', T0 + 5_000, inA);
      const slow = await failedJob(ctx.store, b, 'timed out', T0 + 5_000, inB);
      const disk2 = await failedJob(ctx.store, b, 'disk full on /dev/sdb', T0 + 5_000, inB);
      const old = await runningJob(ctx.store, a, worker1, inA);
      await endAttempts(ctx.store, [endOf(old, 'failed')]);
      const disk3 = await failedJob(ctx.store, a, 'disk full on /tmp/x', T0 + 5_000, inA);
      // Not failed: in no group.
      const done = await runningJob(ctx.store, a, worker1, inA);
      await endAttempts(ctx.store, [endOf(done, 'succeeded')]);

      expect(await ctx.store.failedGroups('error', 10)).toEqual({
        total: 5,
        groups: [
          { key: disk1.errorGroup, count: 3, newestId: disk3.id },
          // Equal sizes: the newest first.
          { key: '', count: 1, newestId: old.id },
          { key: slow.errorGroup, count: 1, newestId: slow.id },
        ],
      });
      expect(await ctx.store.failedGroups('queue', 10)).toEqual({
        total: 5,
        groups: [
          { key: 'qa', count: 3, newestId: disk3.id },
          { key: 'qb', count: 2, newestId: disk2.id },
        ],
      });
      expect(await ctx.store.failedGroups('type', 1)).toEqual({
        total: 5,
        groups: [{ key: 'compile', count: 3, newestId: disk3.id }],
      });
      expect(await ctx.store.failedGroups('error', 0)).toEqual({ total: 5, groups: [] });
    });
  });
}
