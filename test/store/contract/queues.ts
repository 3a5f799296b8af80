/**
 * Contract: queues as objects. Queue rows, dispatch order under each discipline (rank, ahead,
 * tag, id), fair queueing's group tags, reordering on a change of discipline, token buckets,
 * named limits, what gated dispatch reads (running per needs, candidates with groups), the
 * queue summary and a queued job's place. (The gate lock of several nodes: postgres.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { defaultQueueSettings, type QueueRecord } from '../../../src/domain/queues.js';
import {
  addNeeds,
  claim,
  claimId,
  insertJobs,
  newJob,
  T0,
  useStore,
  type StoreFactory,
} from './helpers.js';

const queue = (name: string, over: Partial<QueueRecord> = {}): QueueRecord => ({
  name,
  settings: { ...defaultQueueSettings, weights: {} },
  paused: false,
  createdAt: T0,
  updatedAt: T0,
  ...over,
});

export function describeQueues(factory: StoreFactory): void {
  describe('queues', () => {
    const ctx = useStore(factory);

    it('keeps queue rows: created, replaced, listed by name, deleted', async () => {
      const { store } = ctx;
      expect(await store.queueList()).toEqual([]);
      await store.write(async (tx) => {
        await tx.queuePut(queue('b', { paused: true }));
        await tx.queuePut(
          queue('a', {
            settings: { ...defaultQueueSettings, discipline: 'fair', rate: 5, weights: { x: 2 } },
          }),
        );
      });
      await store.write((tx) => tx.queuePut(queue('b', { paused: false, updatedAt: T0 + 9 })));
      expect(await store.write((tx) => tx.queueGetForUpdate('b'))).toMatchObject({
        name: 'b',
        paused: false,
        updatedAt: T0 + 9,
      });
      expect(await store.write((tx) => tx.queueGetForUpdate('none'))).toBeUndefined();
      const rows = await store.queueList();
      expect(rows.map((r) => r.name)).toEqual(['a', 'b']);
      expect(rows[0]!.settings).toMatchObject({ discipline: 'fair', rate: 5, weights: { x: 2 } });
      expect(rows[1]).toMatchObject({ paused: false, createdAt: T0, updatedAt: T0 + 9 });
      expect(await store.write((tx) => tx.queueDelete('b'))).toBe(true);
      expect(await store.write((tx) => tx.queueDelete('b'))).toBe(false);
      expect((await store.queueList()).map((r) => r.name)).toEqual(['a']);
    });

    it('claims by rank, then ahead, then tag, then age', async () => {
      const needsId = await addNeeds(ctx.store);
      const ids = await insertJobs(ctx.store, [
        newJob(needsId, { rank: 0, tag: 3 }),
        newJob(needsId, { rank: 0, tag: 1 }),
        newJob(needsId, { rank: 5, tag: 9 }),
        newJob(needsId, { rank: 0, tag: 1 }),
        // fifo: a priority that is not its rank does not count.
        newJob(needsId, { priority: 100, rank: 0, tag: 2 }),
      ]);
      const order = [];
      for (let i = 0; i < ids.length; i++) {
        const { jobs } = await claim(ctx.store, [needsId], 1);
        order.push(jobs[0]!.id);
      }
      expect(order).toEqual([ids[2], ids[1], ids[3], ids[4], ids[0]]);
    });

    it('orders across needs the same way in one claim', async () => {
      const a = await addNeeds(ctx.store, 'q', 'a');
      const b = await addNeeds(ctx.store, 'q', 'b');
      const ids = await insertJobs(ctx.store, [
        newJob(a, { queue: 'q', type: 'a', tag: 2 }),
        newJob(b, { queue: 'q', type: 'b', tag: 1 }),
        newJob(a, { queue: 'q', type: 'a', tag: 3 }),
      ]);
      const { jobs } = await claim(ctx.store, [a, b], 2);
      expect(jobs.map((j) => j.id)).toEqual([ids[1], ids[0]]);
    });

    it('gives fair tags: a new group starts at the head of the queue, weights scale the step', async () => {
      const { store } = ctx;
      const needsId = await addNeeds(ctx.store, 'f');
      // An empty queue with no history: time 0.
      const [a] = await store.write((tx) =>
        tx.fairTags({
          queue: 'f',
          needsIds: [needsId],
          groups: [{ group: 'A', count: 4, step: 1 }],
        }),
      );
      expect(a).toBe(1);
      await insertJobs(
        store,
        [1, 2, 3, 4].map((tag) => newJob(needsId, { queue: 'f', group: 'A', tag })),
      );
      // Two claimed: the head is at tag 3, where B starts; A goes on after its last.
      await claim(store, [needsId], 2);
      const [b, a2, c] = await store.write((tx) =>
        tx.fairTags({
          queue: 'f',
          needsIds: [needsId],
          groups: [
            { group: 'B', count: 2, step: 1 },
            { group: 'A', count: 1, step: 1 },
            { group: 'C', count: 2, step: 0.5 },
          ],
        }),
      );
      expect(b).toBe(4);
      expect(a2).toBe(5);
      expect(c).toBe(3.5);
      // Drained: time is past every tag given (C's last is 4, B's 5, A's 5).
      await claim(store, [needsId], 10);
      const [d] = await store.write((tx) =>
        tx.fairTags({
          queue: 'f',
          needsIds: [needsId],
          groups: [{ group: 'D', count: 1, step: 1 }],
        }),
      );
      expect(d).toBe(6);
      // Deleting the queue forgets its groups.
      await store.write((tx) => tx.queueDelete('f'));
      const [e] = await store.write((tx) =>
        tx.fairTags({
          queue: 'f',
          needsIds: [needsId],
          groups: [{ group: 'A', count: 1, step: 1 }],
        }),
      );
      expect(e).toBe(1);
    });

    it('reorders the waiting jobs of a queue for a new discipline', async () => {
      const { store } = ctx;
      const needsId = await addNeeds(ctx.store, 'r');
      const ids = await insertJobs(store, [
        newJob(needsId, { queue: 'r', group: 'A', priority: 1 }),
        newJob(needsId, { queue: 'r', group: 'A', priority: 1 }),
        newJob(needsId, { queue: 'r', group: 'A', priority: 1 }),
        newJob(needsId, { queue: 'r', group: 'B', priority: 1 }),
        newJob(needsId, { queue: 'r', group: 'B', priority: 5, state: 'scheduled', runAt: T0 + 9 }),
        newJob(needsId, { queue: 'other', priority: 9 }),
      ]);
      expect(await store.write((tx) => tx.queueReorder('r', 'fifo', {}))).toBe(5);
      const fifo = await claim(store, [needsId], 1);
      expect(fifo.jobs[0]!.id).toBe(ids[5]); // its own queue kept its rank 9
      expect((await claim(store, [needsId], 1)).jobs[0]!.id).toBe(ids[0]);
      // fair with B weighing 2: A's next (tag 1), B's (0.5) first, then A, A.
      expect(await store.write((tx) => tx.queueReorder('r', 'fair', { B: 2 }))).toBe(3 + 1);
      const fair = await claim(store, [needsId], 3);
      expect(fair.jobs.map((j) => j.id)).toEqual([ids[3], ids[1], ids[2]]);
      // New jobs of group A follow A's last tag.
      const [next] = await store.write((tx) =>
        tx.fairTags({
          queue: 'r',
          needsIds: [needsId],
          groups: [{ group: 'A', count: 1, step: 1 }],
        }),
      );
      expect(next).toBe(3);
    });

    it('keeps token buckets by key', async () => {
      const { store } = ctx;
      expect((await store.write((tx) => tx.bucketsGet(['queue:a']))).size).toBe(0);
      await store.write((tx) =>
        tx.bucketsPut([
          { key: 'queue:a', bucket: { tokens: 2.5, at: T0 } },
          { key: 'group:a:x', bucket: { tokens: 0, at: T0 } },
        ]),
      );
      await store.write((tx) =>
        tx.bucketsPut([{ key: 'queue:a', bucket: { tokens: 0.25, at: T0 + 7 } }]),
      );
      const got = await store.write((tx) => tx.bucketsGet(['queue:a', 'group:a:x', 'none']));
      expect(Object.fromEntries(got)).toEqual({
        'queue:a': { tokens: 0.25, at: T0 + 7 },
        'group:a:x': { tokens: 0, at: T0 },
      });
      await store.write(async (tx) => {
        await tx.queuePut(queue('a'));
        await tx.queueDelete('a');
      });
      expect((await store.write((tx) => tx.bucketsGet(['queue:a', 'group:a:x']))).size).toBe(0);
    });

    it('keeps named limits, and counts running jobs per needs', async () => {
      const { store } = ctx;
      await store.write(async (tx) => {
        await tx.limitPut('license', 3, T0);
        await tx.limitPut('db', 1, T0);
      });
      await store.write((tx) => tx.limitPut('db', null, T0));
      expect(await store.limitList()).toEqual([{ name: 'license', max: 3 }]);
      expect(
        Object.fromEntries(await store.write((tx) => tx.limitMaxes(['license', 'db']))),
      ).toEqual({
        license: 3,
      });
      const a = await addNeeds(store, 'q1');
      const b = await addNeeds(store, 'q2');
      const ids = await insertJobs(store, [
        newJob(a, { queue: 'q1' }),
        newJob(a, { queue: 'q1' }),
        newJob(b, { queue: 'q2' }),
      ]);
      await claimId(store, ids[0]!);
      await claimId(store, ids[2]!);
      const running = await store.runningCounts();
      expect(running.sort((x, y) => x.needsId - y.needsId)).toEqual([
        { needsId: a, queue: 'q1', count: 1 },
        { needsId: b, queue: 'q2', count: 1 },
      ]);
      expect(await store.write((tx) => tx.runningCounts())).toHaveLength(2);
    });

    it('lists queued candidates with their groups in dispatch order', async () => {
      const needsId = await addNeeds(ctx.store);
      const ids = await insertJobs(ctx.store, [
        newJob(needsId, { group: 'x', tag: 2 }),
        newJob(needsId, { group: null, tag: 1 }),
        newJob(needsId, { group: 'y', tag: 3, state: 'held' }),
        newJob(needsId, { group: 'y', tag: 4 }),
      ]);
      const got = await ctx.store.write((tx) => tx.jobQueuedCandidates([needsId], 2));
      expect(got).toEqual([
        { id: ids[1], needsId, group: null },
        { id: ids[0], needsId, group: 'x' },
      ]);
    });

    it('summarises queues, and counts the jobs ahead of a queued job', async () => {
      const { store } = ctx;
      const needsId = await addNeeds(store, 's');
      const ids = await insertJobs(store, [
        newJob(needsId, { queue: 's', runAt: T0 - 500, rank: 1 }),
        newJob(needsId, { queue: 's', runAt: T0 - 100 }),
        newJob(needsId, { queue: 's', runAt: T0 - 900 }),
        newJob(needsId, { queue: 's', state: 'scheduled', runAt: T0 + 50 }),
      ]);
      const summary = await store.queueSummary();
      const queued = summary.find((r) => r.queue === 's' && r.state === 'queued');
      expect(queued).toEqual({ queue: 's', state: 'queued', count: 3, oldestRunAt: T0 - 900 });
      expect(summary.find((r) => r.state === 'scheduled')).toMatchObject({ count: 1 });
      expect(await store.jobQueuedAhead(ids[0]!, 100)).toBe(0);
      expect(await store.jobQueuedAhead(ids[1]!, 100)).toBe(1);
      expect(await store.jobQueuedAhead(ids[2]!, 100)).toBe(2);
      expect(await store.jobQueuedAhead(ids[2]!, 1)).toBe(1);
      expect(await store.jobQueuedAhead(ids[3]!, 100)).toBeNull();
    });
  });
}
