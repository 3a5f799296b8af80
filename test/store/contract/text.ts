/**
 * Contract: text is stored faithfully, whatever it holds. A client's payload and metadata and a
 * job's output, errors, progress and attributes may contain NUL (U+0000), which PostgreSQL's
 * text and jsonb cannot hold, and any other code point (U+FFFF included); each comes back as it
 * went in, on every store.
 */
import { describe, expect, it } from 'vitest';
import {
  addNeeds,
  attemptOf,
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

/** Every awkward code unit in one string: NUL, other controls, U+FFFF, a lone surrogate... */
const NASTY = 'a\u0000b\u0001\u001f\uffff\ufffe\\u0000\\\u0000"\u2028\ud800x\udc00\u{1f600}';

export function describeText(factory: StoreFactory): void {
  describe('text of any kind', () => {
    const ctx = useStore(factory);

    it('keeps a payload, meta and requirements as sent', async () => {
      const needsId = await addNeeds(ctx.store);
      const payload = { command: NASTY, [NASTY]: [NASTY, { deep: NASTY }] };
      const meta = { [NASTY]: NASTY, tags: [NASTY] };
      const requires = { 'meta.note': NASTY };
      const id = await insertJob(ctx.store, newJob(needsId, { payload, meta, requires }));
      expect(await getJob(ctx.store, id)).toMatchObject({ payload, meta, requires });
    });

    it("keeps a failed attempt's error, result and record as the worker sent them", async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      const error = { code: 'exit_code', message: NASTY, details: { stderr: NASTY } };
      const record = attemptOf(job, 'failed', T0 + 5_000, error);
      const end = endOf(job, 'failed', { error, record, result: { stdout: NASTY } });
      expect(await endAttempts(ctx.store, [end])).toEqual([true]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        state: 'failed',
        error,
        result: { stdout: NASTY },
        attempts: [record],
      });
    });

    it('keeps log lines, progress and attributes of a running attempt', async () => {
      const needsId = await addNeeds(ctx.store);
      const job = await runningJob(ctx.store, needsId);
      await ctx.store.write(async (tx) => {
        await tx.jobLogAppend([
          { jobId: job.id, attempt: 1, stream: 'stdout', at: T0, data: NASTY },
          { jobId: job.id, attempt: 1, stream: 'stderr', at: T0, data: '\u0000'.repeat(5) },
        ]);
        await tx.jobProgressSet([
          { id: job.id, attempt: 1, progress: { percent: 5, message: NASTY, at: T0 } },
        ]);
        await tx.jobAttributeSet([{ id: job.id, attempt: 1, key: NASTY, value: NASTY }]);
        await tx.jobAttributeSet([{ id: job.id, attempt: 1, key: 'plain', value: 'x\u0000y' }]);
      });
      const logs = await ctx.store.jobLogs(job.id, 0, 10);
      expect(logs.map((l) => l.data)).toEqual([NASTY, '\u0000'.repeat(5)]);
      expect(await getJob(ctx.store, job.id)).toMatchObject({
        progress: { percent: 5, message: NASTY, at: T0 },
        attributes: { [NASTY]: NASTY, plain: 'x\u0000y' },
      });
    });

    // Worker names are refused at the edge unless plain (src/broker/endpoint/registration.ts).
    it('keeps the labels, types and queues of a worker as sent', async () => {
      await ctx.store.write((tx) =>
        tx.workerUpsert({
          id: 'w1',
          name: 'plain',
          nodeId: 'n1',
          labels: { [NASTY]: [NASTY] },
          types: [NASTY],
          queues: [NASTY],
          slots: 1,
          address: null,
          connectedAt: T0,
          lastSeenAt: T0,
          online: true,
          secretHash: null,
        }),
      );
      expect(await ctx.store.workerGet('w1')).toMatchObject({
        labels: { [NASTY]: [NASTY] },
        types: [NASTY],
        queues: [NASTY],
      });
    });

    it('lists and filters jobs whose type and queue are plain, beside ones that are not', async () => {
      const needsId = await addNeeds(ctx.store);
      const id = await insertJob(ctx.store, newJob(needsId, { meta: { n: NASTY } }));
      const listed = await ctx.store.jobList({ queue: 'default', order: 'asc', limit: 10 });
      expect(listed.map((j) => j.meta)).toEqual([{ n: NASTY }]);
      expect(listed[0]?.id).toBe(id);
    });
  });
}
