/**
 * Contract: uniqueness keys (deduplication of submissions). A key is taken in a write, which
 * learns the job holding it (none at first, none once that job is deleted) and may give it to
 * the job it inserts. Concurrent takers on several nodes: test/store/postgres.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { JobState } from '../../../src/domain/job.js';
import {
  addNeeds,
  claimId,
  endAttempts,
  endOf,
  insertJobs,
  newJob,
  T0,
  useStore,
  type StoreFactory,
} from './helpers.js';

/** NUL, U+FFFF and a lone surrogate: what jsonb and UTF-8 cannot hold as they are. */
const ODD = 'k\u0000\uffff\ud800';

export function describeUniqueness(factory: StoreFactory): void {
  describe('uniqueness keys', () => {
    const ctx = useStore(factory);
    const rule = { forMs: 60_000, while: ['queued', 'running'] as JobState[] };

    for (const [what, key] of [
      ['a plain key', 'nightly build'],
      ['a key of text the databases cannot hold as it is', ODD],
    ] as const) {
      it(`knows no holder of a new key, then the job it was given to: ${what}`, async () => {
        const needsId = await addNeeds(ctx.store);
        const id = await ctx.store.write(async (tx) => {
          expect(await tx.uniqueTake(key)).toBeNull();
          const [inserted] = await tx.jobInsertMany([newJob(needsId, { createdAt: T0 - 5 })]);
          await tx.uniqueSet(key, inserted!, rule);
          return inserted!;
        });
        const holder = {
          jobId: id,
          state: 'queued',
          createdAt: T0 - 5,
          startedAt: null,
          finishedAt: null,
          forMs: 60_000,
          while: ['queued', 'running'],
        };
        expect(await ctx.store.write((tx) => tx.uniqueTake(key))).toEqual(holder);
        // The holder as it is now.
        const job = await claimId(ctx.store, id);
        await endAttempts(ctx.store, [endOf(job, 'succeeded', { now: T0 + 7_000 })]);
        expect(await ctx.store.write((tx) => tx.uniqueTake(key))).toEqual({
          ...holder,
          state: 'succeeded',
          startedAt: T0 + 1_000,
          finishedAt: T0 + 7_000,
        });
        // Another key is another key.
        expect(await ctx.store.write((tx) => tx.uniqueTake(`${key} `))).toBeNull();
      });
    }

    it('gives a key to a new holder with its own rule, and frees it when the holder is deleted', async () => {
      const needsId = await addNeeds(ctx.store);
      const [first, second] = await insertJobs(ctx.store, [newJob(needsId), newJob(needsId)]);
      await ctx.store.write(async (tx) => {
        await tx.uniqueTake('k');
        await tx.uniqueSet('k', first!, rule);
      });
      await ctx.store.write(async (tx) => {
        expect((await tx.uniqueTake('k'))?.jobId).toBe(first);
        await tx.uniqueSet('k', second!, { forMs: null, while: null });
      });
      expect(await ctx.store.write((tx) => tx.uniqueTake('k'))).toMatchObject({
        jobId: second,
        forMs: null,
        while: null,
      });
      await ctx.store.write((tx) => tx.jobDelete([second!]));
      expect(await ctx.store.write((tx) => tx.uniqueTake('k'))).toBeNull();
    });

    it('takes and gives many keys at once, each with its own holder', async () => {
      const needsId = await addNeeds(ctx.store);
      const keys = ['a', ODD, 'b', 'c'];
      const ids = await ctx.store.write(async (tx) => {
        const taken = await tx.uniqueTakeMany(keys);
        expect([...taken.entries()]).toEqual(keys.map((k) => [k, null]));
        const inserted = await tx.jobInsertMany([newJob(needsId), newJob(needsId)]);
        await tx.uniqueSetMany([
          { key: ODD, jobId: inserted[0]!, rule },
          { key: 'b', jobId: inserted[1]!, rule: { forMs: null, while: null } },
        ]);
        return inserted;
      });
      const again = await ctx.store.write((tx) => tx.uniqueTakeMany(['b', 'c', ODD]));
      expect(again.get(ODD)).toMatchObject({ jobId: ids[0], forMs: 60_000, state: 'queued' });
      expect(again.get('b')).toMatchObject({ jobId: ids[1], forMs: null, while: null });
      // Taken before but never given: no holder.
      expect(again.get('c')).toBeNull();
      expect(await ctx.store.write((tx) => tx.uniqueTake('b'))).toMatchObject({ jobId: ids[1] });
    });

    it('leaves a key free when the write that took it rolls back', async () => {
      const needsId = await addNeeds(ctx.store);
      await expect(
        ctx.store.write(async (tx) => {
          await tx.uniqueTake('k');
          const [id] = await tx.jobInsertMany([newJob(needsId)]);
          await tx.uniqueSet('k', id!, rule);
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(await ctx.store.write((tx) => tx.uniqueTake('k'))).toBeNull();
      expect(await ctx.store.jobList({ order: 'asc', limit: 10 })).toEqual([]);
    });
  });
}
