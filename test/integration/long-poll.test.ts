/**
 * `GET /api/v1/jobs/:id?wait=S`, the long poll that answers when the job ends, and the SDK's
 * `Client.wait`, which uses it: on a real broker with a real worker over WebSocket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../../src/index.js';
import type { JobBody } from '../../src/protocol/api.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { api, getJob, submit, until } from '../helpers/http.js';

let tb: TestBroker | undefined;
const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  await tb?.close();
  tb = undefined;
});

/** A broker with one worker whose `gated` jobs run until `open()` is called. */
async function setup() {
  tb = await startTestBroker();
  const gates: Array<() => void> = [];
  const worker = new Worker({
    brokers: tb.broker.workersUrl,
    name: 'long-poll-worker',
    slots: 4,
    handlers: {
      gated: () => new Promise<unknown>((resolve) => gates.push(() => resolve({ ok: true }))),
    },
  });
  workers.push(worker);
  await worker.start();
  return {
    base: tb.broker.clientsUrl,
    /** Lets the running gated jobs finish. */
    open: () => gates.splice(0).forEach((g) => g()),
    running: () => gates.length,
  };
}

const getWaiting = (base: string, id: string, wait: string) =>
  api<JobBody>(base, 'GET', `/api/v1/jobs/${id}?wait=${wait}`);

describe('GET /api/v1/jobs/:id?wait=', () => {
  it('answers when the running job ends, with the ended job', async () => {
    const { base, open, running } = await setup();
    const job = await submit(base, { type: 'gated' });
    await until(() => running() === 1);
    const answer = getWaiting(base, job.id, '30');
    // Still running while the request waits; the answer comes with the end.
    await new Promise((r) => setTimeout(r, 100));
    expect((await getJob(base, job.id)).state).toBe('running');
    open();
    const r = await answer;
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: job.id, state: 'succeeded', result: { ok: true } });
  });

  it('answers at once for a job that has ended', async () => {
    const { base, open, running } = await setup();
    const job = await submit(base, { type: 'gated' });
    await until(() => running() === 1);
    open();
    await until(async () => (await getJob(base, job.id)).state === 'succeeded');
    const r = await getWaiting(base, job.id, '60');
    expect(r.json.state).toBe('succeeded');
  });

  it('answers with the job as it is when the time is up', async () => {
    const { base } = await setup();
    const job = await submit(base, { type: 'nobody-runs-this' });
    const started = Date.now();
    const r = await getWaiting(base, job.id, '0.3');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(r.status).toBe(200);
    expect(r.json.state).toBe('queued');
  });

  it('answers when the job is canceled', async () => {
    const { base } = await setup();
    const job = await submit(base, { type: 'nobody-runs-this' });
    const answer = getWaiting(base, job.id, '30');
    await new Promise((r) => setTimeout(r, 100));
    expect((await api(base, 'POST', `/api/v1/jobs/${job.id}/cancel`)).status).toBe(200);
    expect((await answer).json.state).toBe('canceled');
  });

  it('answers every waiting request when the broker stops', async () => {
    const { base } = await setup();
    const job = await submit(base, { type: 'nobody-runs-this' });
    const answer = getWaiting(base, job.id, '60');
    await new Promise((r) => setTimeout(r, 100));
    await tb!.close();
    tb = undefined;
    const r = await answer;
    expect(r.status).toBe(200);
    expect(r.json.state).toBe('queued');
  });

  it('refuses a wait that is not a number of seconds from 0 to 60, and an unknown job', async () => {
    const { base } = await setup();
    const job = await submit(base, { type: 'nobody-runs-this' });
    for (const bad of ['61', '-1', 'soon']) {
      const r = await api(base, 'GET', `/api/v1/jobs/${job.id}?wait=${bad}`);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.json)).toContain('wait');
    }
    const missing = await getWaiting(base, '987654', '5');
    expect(missing.status).toBe(404);
  });
});

describe('Client.wait', () => {
  it('resolves when the job ends, through one long poll', async () => {
    const { base, open, running } = await setup();
    const client = new Client({ url: base });
    const job = await client.submit({ type: 'gated' });
    const done = client.wait(job.id, { timeoutMs: 30_000 });
    await until(() => running() === 1);
    open();
    expect(await done).toMatchObject({ id: job.id, state: 'succeeded', result: { ok: true } });
  });

  it('gives up after timeoutMs with the job as it is', async () => {
    const { base } = await setup();
    const client = new Client({ url: base });
    const job = await client.submit({ type: 'nobody-runs-this' });
    const err = (await client.wait(job.id, { timeoutMs: 300 }).catch((e: unknown) => e)) as {
      name: string;
      job: JobBody;
    };
    expect(err.name).toBe('WaitTimeoutError');
    expect(err.job.state).toBe('queued');
  });
});
