/** Contract: transactions, needs, and inserting jobs. */
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/domain/job.js';
import type { StoreTx } from '../../../src/store/store.js';
import {
  addNeeds,
  getJob,
  insertJob,
  insertJobs,
  newJob,
  T0,
  useStore,
  type StoreFactory,
} from './helpers.js';

/** A write commits all or nothing; reads see committed state only. */
export function describeTransactions(factory: StoreFactory): void {
  describe('write transactions', () => {
    const ctx = useStore(factory);

    it('resolves with what the callback returns', async () => {
      expect(await ctx.store.write(async () => 42)).toBe(42);
    });

    it('rolls back everything when the callback throws, and rethrows', async () => {
      const needsId = await addNeeds(ctx.store);
      const boom = new Error('boom');
      let inserted: number[] = [];
      await expect(
        ctx.store.write(async (tx) => {
          inserted = await tx.jobInsertMany([newJob(needsId)]);
          await tx.settingSet('k', 'v');
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(inserted).toHaveLength(1);
      expect(await ctx.store.jobGet(inserted[0] as number)).toBeUndefined();
      expect(await ctx.store.settingGet('k')).toBeUndefined();
      // The store is still usable after a rollback.
      const [id] = await ctx.store.write((tx) => tx.jobInsertMany([newJob(needsId)]));
      expect(await ctx.store.jobGet(id as number)).toBeDefined();
    });

    it('lets reads see only committed state', async () => {
      const needsId = await addNeeds(ctx.store);
      let seenInside: unknown = 'not read';
      const [id] = await ctx.store.write(async (tx) => {
        const ids = await tx.jobInsertMany([newJob(needsId)]);
        // A write may span awaits; a read meanwhile must not see its uncommitted rows.
        seenInside = await ctx.store.jobGet(ids[0] as number);
        return ids;
      });
      expect(seenInside).toBeUndefined();
      expect(await ctx.store.jobGet(id as number)).toBeDefined();
    });

    it('runs one write at a time: a second waits for the first to commit', async () => {
      const store = ctx.store;
      const events: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const first = store.write(async (tx) => {
        events.push('first start');
        await gate;
        await tx.settingSet('k', 'first');
        events.push('first end');
      });
      const second = store.write(async (tx) => {
        events.push('second start');
        await tx.settingSet('k', 'second');
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events).toEqual(['first start']);
      release();
      await Promise.all([first, second]);
      expect(events).toEqual(['first start', 'first end', 'second start']);
      expect(await store.settingGet('k')).toBe('second');
    });

    it('keeps writing after a write whose callback threw or that the database refused', async () => {
      const store = ctx.store;
      const threw = store.write(async () => {
        throw new Error('no');
      });
      const refused = store.write((tx) => tx.jobInsertMany([newJob(424_242)]));
      const next = store.write((tx) => tx.settingSet('k', 'v'));
      await expect(threw).rejects.toThrow('no');
      await expect(refused).rejects.toThrow(/foreign key/i);
      await next;
      expect(await store.settingGet('k')).toBe('v');
    });

    it('refuses a transaction object used after its write ended', async () => {
      let escaped: StoreTx | undefined;
      await ctx.store.write(async (tx) => {
        escaped = tx;
      });
      await expect(escaped?.settingSet('k', 'v')).rejects.toThrow(/after its write\(\) ended/);
    });
  });
}

/** Needs ids, and jobs stored exactly as given. */
export function describeInsert(factory: StoreFactory): void {
  describe('needs and job insertion', () => {
    const ctx = useStore(factory);

    it('gives the same id for the same needs key and lists each needs once', async () => {
      const a = await addNeeds(ctx.store, 'q', 'shell', { env: 'c' });
      const b = await addNeeds(ctx.store, 'q', 'python');
      const again = await addNeeds(ctx.store, 'q', 'shell', { env: 'c' });
      expect(again).toBe(a);
      expect(b).not.toBe(a);
      expect(await ctx.store.needsList()).toEqual([
        {
          id: a,
          key: JSON.stringify(['q', 'shell', { env: 'c' }]),
          queue: 'q',
          type: 'shell',
          requires: { env: 'c' },
          limits: [],
        },
        {
          id: b,
          key: JSON.stringify(['q', 'python', {}]),
          queue: 'q',
          type: 'python',
          requires: {},
          limits: [],
        },
      ]);
    });

    it('returns ids in insertion order, each larger than the last', async () => {
      const needsId = await addNeeds(ctx.store);
      const first = await insertJobs(ctx.store, [
        newJob(needsId),
        newJob(needsId),
        newJob(needsId),
      ]);
      const second = await insertJobs(ctx.store, [newJob(needsId)]);
      const ids = [...first, ...second];
      expect(new Set(ids).size).toBe(4);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      const got = await Promise.all(ids.map((id) => getJob(ctx.store, id)));
      expect(got.map((j) => j.id)).toEqual(ids);
    });

    it('gives each job of a large batch the id of its own row', async () => {
      // Large enough for whatever groups a backend inserts in at once, with a remainder.
      const needsId = await addNeeds(ctx.store);
      const count = 263;
      const ids = await insertJobs(
        ctx.store,
        Array.from({ length: count }, (_, i) =>
          newJob(needsId, { payload: { i }, priority: i % 7 }),
        ),
      );
      expect(new Set(ids).size).toBe(count);
      const got = await Promise.all(ids.map((id) => getJob(ctx.store, id)));
      expect(got.map((j) => [j.payload, j.priority])).toEqual(
        Array.from({ length: count }, (_, i) => [{ i }, i % 7]),
      );
    });

    it('returns no ids for no jobs', async () => {
      expect(await insertJobs(ctx.store, [])).toEqual([]);
    });

    it('stores every field of a new job and reads it back exactly', async () => {
      const needsId = await addNeeds(ctx.store, 'builds', 'compile', { env: 'c' });
      const payload = {
        cmd: 'make',
        args: ['-j', 4],
        nested: { ok: true, none: null },
        text: 'žluť 🚂',
      };
      const id = await insertJob(
        ctx.store,
        newJob(needsId, {
          type: 'compile',
          queue: 'builds',
          payload,
          requires: { env: 'c', 'meta.owner': 'ann' },
          meta: { submittedBy: 'ann', tags: ['a', 'b'] },
          priority: -7,
          maxAttempts: 4,
          timeoutMs: 60_000,
          killSignal: 'SIGKILL',
          killGraceMs: 0,
          state: 'scheduled',
          runAt: T0 + 60_000,
          createdAt: T0 - 5,
        }),
      );
      const expected: JobRecord = {
        id,
        needsId,
        type: 'compile',
        queue: 'builds',
        group: null,
        payload,
        requires: { env: 'c', 'meta.owner': 'ann' },
        meta: { submittedBy: 'ann', tags: ['a', 'b'] },
        priority: -7,
        state: 'scheduled',
        maxAttempts: 4,
        attempt: 0,
        requestFailures: 0,
        timeoutMs: 60_000,
        killSignal: 'SIGKILL',
        killGraceMs: 0,
        runAt: T0 + 60_000,
        createdAt: T0 - 5,
        updatedAt: T0 - 5,
        startedAt: null,
        finishedAt: null,
        workerId: null,
        workerName: null,
        nodeId: null,
        progress: null,
        attributes: {},
        result: null,
        error: null,
        attempts: [],
        uncounted: 0,
        options: null,
        hold: null,
        errorGroup: null,
        outputDropped: 0,
        outputGapAfter: null,
      };
      expect(await ctx.store.jobGet(id)).toStrictEqual(expected);
    });

    it('keeps payloads that are not objects', async () => {
      const needsId = await addNeeds(ctx.store);
      const payloads: unknown[] = ['text', 42, null, [1, 'two'], true];
      const ids = await insertJobs(
        ctx.store,
        payloads.map((payload) => newJob(needsId, { payload })),
      );
      const got = await Promise.all(ids.map((id) => getJob(ctx.store, id)));
      expect(got.map((j) => j.payload)).toEqual(payloads);
    });

    it('inserts jobs in each state a submission may start in', async () => {
      const needsId = await addNeeds(ctx.store);
      const states = ['queued', 'scheduled', 'held', 'waiting'] as const;
      const ids = await insertJobs(
        ctx.store,
        states.map((state) => newJob(needsId, { state })),
      );
      const got = await Promise.all(ids.map((id) => getJob(ctx.store, id)));
      expect(got.map((j) => j.state)).toEqual(states);
    });

    it('knows no job by an id never given', async () => {
      expect(await ctx.store.jobGet(123_456)).toBeUndefined();
    });
  });
}
