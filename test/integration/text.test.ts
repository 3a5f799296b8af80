/**
 * Text of any kind through the whole broker, on SQLite and on PostgreSQL: what a client submits
 * and what a job reports (output, progress, attributes, its error) may contain NUL and other
 * code units a database cannot hold; the job still ends, and everything reads back as sent.
 * Names and labels, which people read and workers match, are refused at the edge instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/index.js';
import { PermanentError, Worker } from '../../src/worker/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { api } from '../helpers/http.js';
import { freshSchema, type TestSchema } from '../helpers/postgres.js';

const NASTY = 'a\u0000b\u0001\uffff\ud800x\u{1f600}';

let tb: TestBroker | undefined;
let schema: TestSchema | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await tb?.close();
  tb = undefined;
  await schema?.drop();
  schema = undefined;
});

for (const storeName of ['sqlite', 'postgres'] as const) {
  describe(`on ${storeName}`, () => {
    async function broker(): Promise<TestBroker> {
      if (storeName === 'postgres') schema = freshSchema('sy_text');
      tb = await startTestBroker(schema === undefined ? {} : { store: schema.url });
      return tb;
    }

    it('ends a job whose output, progress, attributes and error hold NUL, keeping them all', async () => {
      const b = await broker();
      worker = new Worker({
        brokers: b.broker.workersUrl,
        handlers: {
          nasty: async (job) => {
            job.log(NASTY);
            job.log(NASTY, 'stderr');
            job.progress(50, NASTY);
            job.attr(NASTY, NASTY);
            await new Promise((r) => setTimeout(r, 50));
            throw new PermanentError(NASTY);
          },
        },
      });
      await worker.start();
      const client = new Client({ url: b.broker.clientsUrl });
      const submitted = await client.submit({
        type: 'nasty',
        payload: { text: NASTY },
        meta: { [NASTY]: NASTY },
      });
      const job = await client.wait(submitted.id, { timeoutMs: 15_000 });
      expect(job).toMatchObject({
        state: 'failed',
        payload: { text: NASTY },
        meta: { [NASTY]: NASTY },
        progress: { percent: 50, message: NASTY },
        attributes: { [NASTY]: NASTY },
        error: { message: NASTY },
      });
      expect(job.attempts[0]?.error?.message).toBe(NASTY);
      const logs = await client.logs(job.id);
      expect(logs.logs.map((l) => [l.stream, l.data])).toEqual([
        ['stdout', NASTY],
        ['stderr', NASTY],
      ]);
      // The worker's slot is free: another job runs.
      const next = await client.submit({ type: 'nasty' });
      expect((await client.wait(next.id, { timeoutMs: 15_000 })).state).toBe('failed');
    });

    it('refuses requirements with NUL at the edge, naming the field', async () => {
      const b = await broker();
      const r = await api(b.broker.clientsUrl, 'POST', '/api/v1/jobs', {
        type: 't',
        requires: { env: 'c\u0000' },
      });
      expect(r.status).toBe(400);
      expect(r.json.error?.message).toMatch(/^requires\.env: may not contain control characters/);
    });
  });
}
