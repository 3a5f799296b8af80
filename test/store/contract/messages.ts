/**
 * Contract: a job's messages. Changes of state, progress and attributes are appended with seqs
 * from the counter output takes its seqs from, so that one job's messages of every kind read
 * back in one order, and a reader resumes after the last seq it saw.
 */
import { describe, expect, it } from 'vitest';
import { attemptKey, type NewJobMessage, type NewLogEntry } from '../../../src/store/store.js';
import { addNeeds, runningJob, T0, useStore, type StoreFactory } from './helpers.js';

export function describeMessages(factory: StoreFactory): void {
  describe('job messages', () => {
    const ctx = useStore(factory);

    const message = (jobId: number, i: number, kind: NewJobMessage['kind']): NewJobMessage => ({
      jobId,
      attempt: i === 0 ? null : 1,
      at: T0 + i,
      kind,
      data: JSON.stringify({ i }),
    });
    const line = (jobId: number, i: number): NewLogEntry => ({
      jobId,
      attempt: 1,
      stream: 'stdout',
      at: T0 + i,
      data: `line ${i}\n`,
    });

    it('orders messages and output of one job by one seq, and pages after a seq', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId);
      const b = await runningJob(ctx.store, needsId);
      const seqs = await ctx.store.write(async (tx) => {
        const s1 = await tx.jobMessageAppend([
          message(a.id, 0, 'state'),
          message(b.id, 0, 'state'),
        ]);
        const s2 = await tx.jobLogAppend([line(a.id, 1), line(a.id, 2)]);
        const s3 = await tx.jobMessageAppend([message(a.id, 3, 'progress')]);
        return [...s1, ...s2, ...s3];
      });
      // Every seq given once, growing in the order appended.
      expect(new Set(seqs).size).toBe(5);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      const later = await ctx.store.write(async (tx) => {
        const s = await tx.jobMessageAppend([message(a.id, 4, 'attribute')]);
        return [...s, ...(await tx.jobLogAppend([line(a.id, 5)]))];
      });
      expect(later[0]!).toBeGreaterThan(seqs[4]!);

      const all = await ctx.store.jobMessages(a.id, 0, 100);
      expect(all.map((m) => m.kind)).toEqual([
        'state',
        'log',
        'log',
        'progress',
        'attribute',
        'log',
      ]);
      expect(all.map((m) => m.seq)).toEqual([seqs[0], seqs[2], seqs[3], seqs[4], ...later]);
      expect(all[0]).toEqual({
        seq: seqs[0],
        jobId: a.id,
        attempt: null,
        at: T0,
        kind: 'state',
        data: '{"i":0}',
      });
      expect(all[1]).toEqual({
        seq: seqs[2],
        jobId: a.id,
        attempt: 1,
        at: T0 + 1,
        kind: 'log',
        data: 'line 1\n',
        stream: 'stdout',
      });
      // Paged: after a seq, at most the limit, whichever table the next ones are in.
      const page = await ctx.store.jobMessages(a.id, seqs[2]!, 2);
      expect(page.map((m) => m.seq)).toEqual([seqs[3], seqs[4]]);
      expect((await ctx.store.jobMessages(a.id, later[1]!, 10)).length).toBe(0);
      expect((await ctx.store.jobMessages(b.id, 0, 10)).map((m) => m.seq)).toEqual([seqs[1]]);
    });

    it('keeps NUL and lone surrogates in output and in messages as sent', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId);
      const odd = 'x\u0000\ud800y';
      await ctx.store.write(async (tx) => {
        await tx.jobMessageAppend([
          { ...message(a.id, 1, 'attribute'), data: JSON.stringify({ odd }) },
        ]);
        await tx.jobLogAppend([{ ...line(a.id, 2), data: odd }]);
      });
      const [m, l] = await ctx.store.jobMessages(a.id, 0, 10);
      expect(JSON.parse(m!.data)).toEqual({ odd });
      expect(l!.data).toBe(odd);
    });

    it('forgets a job’s messages with the job, and a rolled-back batch leaves no message', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId);
      await ctx.store
        .write(async (tx) => {
          await tx.jobMessageAppend([message(a.id, 1, 'progress')]);
          throw new Error('roll back');
        })
        .catch(() => undefined);
      expect(await ctx.store.jobMessages(a.id, 0, 10)).toEqual([]);
      await ctx.store.write((tx) => tx.jobMessageAppend([message(a.id, 2, 'progress')]));
      expect((await ctx.store.jobMessages(a.id, 0, 10)).length).toBe(1);
      await ctx.store.write((tx) => tx.jobDelete([a.id]));
      expect(await ctx.store.jobMessages(a.id, 0, 10)).toEqual([]);
    });

    it('says which attempts progress and attributes were set for: current ones only', async () => {
      const needsId = await addNeeds(ctx.store);
      const a = await runningJob(ctx.store, needsId);
      const progress = { percent: 5, message: null, at: T0 };
      const set = await ctx.store.write(async (tx) => ({
        progress: await tx.jobProgressSet([
          { id: a.id, attempt: 1, progress },
          { id: a.id, attempt: 2, progress },
          { id: 999_999, attempt: 1, progress },
        ]),
        attributes: await tx.jobAttributeSet([
          { id: a.id, attempt: 1, key: 'k', value: 'v' },
          { id: a.id, attempt: 7, key: 'k', value: 'w' },
        ]),
      }));
      expect([...set.progress]).toEqual([attemptKey({ id: a.id, attempt: 1 })]);
      expect([...set.attributes]).toEqual([attemptKey({ id: a.id, attempt: 1 })]);
    });
  });
}
