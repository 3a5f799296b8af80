/** Contract: what running attempts report: logs, progress and attributes. */
import { describe, expect, it } from 'vitest';
import type { NewLogEntry } from '../../../src/store/store.js';
import {
  addNeeds,
  endAttempts,
  endOf,
  getJob,
  runningJob,
  T0,
  useStore,
  type StoreFactory,
} from './helpers.js';

/** Logs, progress and attributes. */
export function describeReports(factory: StoreFactory): void {
  describe('logs', () => {
    const ctx = useStore(factory);

    it('returns a job’s lines in the order appended, paged by sequence number', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId);
      const b = await runningJob(ctx.store, needsId);
      const line = (jobId: number, i: number): NewLogEntry => ({
        jobId,
        attempt: 1,
        stream: i % 2 === 0 ? 'stdout' : 'stderr',
        at: T0 + i,
        data: `line ${i}\n`,
      });
      await ctx.store.write(async (tx) => {
        await tx.jobLogAppend([line(a.id, 0), line(b.id, 100), line(a.id, 1)]);
        await tx.jobLogAppend([line(a.id, 2)]);
      });
      await ctx.store.write((tx) => tx.jobLogAppend([line(a.id, 3), line(a.id, 4)]));

      const all = await ctx.store.jobLogs(a.id, 0, 100);
      expect(all.map((e) => e.data)).toEqual([0, 1, 2, 3, 4].map((i) => `line ${i}\n`));
      expect(all[1]).toMatchObject({ jobId: a.id, attempt: 1, stream: 'stderr', at: T0 + 1 });
      const seqs = all.map((e) => e.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);

      const page1 = await ctx.store.jobLogs(a.id, 0, 2);
      const page2 = await ctx.store.jobLogs(a.id, page1[1]?.seq ?? -1, 2);
      const page3 = await ctx.store.jobLogs(a.id, page2[1]?.seq ?? -1, 2);
      expect([...page1, ...page2, ...page3]).toEqual(all);
      expect(await ctx.store.jobLogs(a.id, all[4]?.seq ?? -1, 2)).toEqual([]);

      expect((await ctx.store.jobLogs(b.id, 0, 10)).map((e) => e.data)).toEqual(['line 100\n']);
      expect(await ctx.store.jobLogs(b.id + 1_000, 0, 10)).toEqual([]);
    });
  });

  describe('output kept', () => {
    const ctx = useStore(factory);

    it('answers seqs for appended pieces, sizes in UTF-8 bytes, and drops pieces counting them', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const piece = (data: string): NewLogEntry => ({
        jobId: job.id,
        attempt: 1,
        stream: 'stdout',
        at: T0,
        data,
      });
      const seqs = await ctx.store.write((tx) =>
        tx.jobLogAppend([piece('head'), piece('é'.repeat(10)), piece('tail')]),
      );
      expect(seqs).toHaveLength(3);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      const sizes = await ctx.store.write((tx) => tx.jobLogSizes(job.id));
      expect(sizes).toEqual({
        pieces: [
          { seq: seqs[0], bytes: 4 },
          { seq: seqs[1], bytes: 20 },
          { seq: seqs[2], bytes: 4 },
        ],
        dropped: 0,
      });
      await ctx.store.write((tx) =>
        tx.jobLogDrop({ jobId: job.id, seqs: [seqs[1]!], dropped: 500, gapAfter: seqs[0]! }),
      );
      await ctx.store.write((tx) =>
        tx.jobLogDrop({ jobId: job.id, seqs: [], dropped: 7, gapAfter: seqs[2]! }),
      );
      expect((await ctx.store.jobLogs(job.id, 0, 10)).map((e) => e.data)).toEqual(['head', 'tail']);
      // The gap stays where output was first dropped; the count adds up.
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        outputDropped: 507,
        outputGapAfter: seqs[0],
      });
      expect((await ctx.store.write((tx) => tx.jobLogSizes(job.id))).dropped).toBe(507);
    });
  });

  describe('progress and attributes', () => {
    const ctx = useStore(factory);

    it('sets the progress of the current attempt, replacing the last', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      await ctx.store.write((tx) =>
        tx.jobProgressSet([
          { id: job.id, attempt: 1, progress: { percent: 10, message: 'start', at: T0 + 1 } },
          { id: job.id, attempt: 1, progress: { percent: null, message: 'linking', at: T0 + 2 } },
        ]),
      );
      expect((await getJob(ctx.store, job.id)).progress).toEqual({
        percent: null,
        message: 'linking',
        at: T0 + 2,
      });
    });

    it('ignores progress of a stale attempt or of a job no longer running', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const progress = { percent: 90, message: null, at: T0 + 3 };
      await ctx.store.write((tx) =>
        tx.jobProgressSet([{ id: job.id, attempt: job.attempt + 1, progress }]),
      );
      expect((await getJob(ctx.store, job.id)).progress).toBeNull();
      await endAttempts(ctx.store, [endOf(job, 'succeeded')]);
      await ctx.store.write((tx) =>
        tx.jobProgressSet([{ id: job.id, attempt: job.attempt, progress }]),
      );
      expect((await getJob(ctx.store, job.id)).progress).toBeNull();
    });

    it('sets attributes of the current attempt, key by key', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      await ctx.store.write((tx) =>
        tx.jobAttributeSet([
          { id: job.id, attempt: 1, key: 'endpoint', value: 'host:4711' },
          { id: job.id, attempt: 1, key: 'odd "key".$[0]', value: 'x' },
          { id: job.id, attempt: 1, key: 'endpoint', value: 'host:4712' },
        ]),
      );
      await ctx.store.write((tx) =>
        tx.jobAttributeSet([{ id: job.id, attempt: 1, key: 'phase', value: 'serving' }]),
      );
      expect((await getJob(ctx.store, job.id)).attributes).toEqual({
        endpoint: 'host:4712',
        'odd "key".$[0]': 'x',
        phase: 'serving',
      });
    });

    it('ignores attributes of a stale attempt or of a job no longer running', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      await ctx.store.write((tx) =>
        tx.jobAttributeSet([{ id: job.id, attempt: 2, key: 'k', value: 'stale' }]),
      );
      await endAttempts(ctx.store, [endOf(job, 'failed')]);
      await ctx.store.write((tx) =>
        tx.jobAttributeSet([{ id: job.id, attempt: 1, key: 'k', value: 'late' }]),
      );
      expect((await getJob(ctx.store, job.id)).attributes).toEqual({});
    });
  });
}
