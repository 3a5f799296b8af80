/**
 * The notifier against a real HTTP receiver on 127.0.0.1: a callback that first meets a 500 is
 * retried and delivered with the same Idempotency-Key, basic auth and a signature that
 * verifies; a callback due when the broker is killed (SIGKILL) is delivered after the restart
 * with its key; a job's own callback honours its events; a job without `notify` on a broker
 * without a notifier writes nothing to the outbox.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/domain/notify.js';
import { api, submit, until, waitJob } from '../helpers/http.js';
import { brokerDefaults } from '../../src/config/types.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { closeRawWorkers, RawWorker } from '../helpers/raw-worker.js';
import { Receiver, type Received } from '../helpers/receiver.js';
import {
  brokerArgs,
  FAST_LIVENESS,
  killAll,
  startAgent,
  startBrokerProcess,
} from '../helpers/processes.js';

const SECRET = 'integration-secret';
let dir: string;
const closers: Array<() => Promise<void>> = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-notifier-'));
});
afterEach(async () => {
  await closeRawWorkers();
  await killAll();
  for (const c of closers.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

async function receiver(answer: (r: Received, n: number) => number | 'hang'): Promise<Receiver> {
  const r = await Receiver.start(answer);
  closers.push(() => r.close());
  return r;
}

/** A config file with a notifier section (ReCodEx's keys and Switchyard's own). */
async function configFile(url: string, retry = { base: 300, max: 2000 }): Promise<string> {
  const file = join(dir, 'config.yml');
  await writeFile(
    file,
    'notifier:\n' +
      `  address: ${url}/hook\n` +
      '  username: recodex\n' +
      '  password: "pa:ss"\n' +
      `  secret: ${SECRET}\n` +
      `  retry_base: ${retry.base}\n` +
      `  retry_max: ${retry.max}\n` +
      '  timeout: 2000\n',
  );
  return file;
}

const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('the global notifier (a broker process)', () => {
  it('retries after a 500 and delivers, with one key, basic auth and a valid signature', async () => {
    const rx = await receiver((_, n) => (n === 1 ? 500 : 204));
    const b = await startBrokerProcess([
      ...brokerArgs(join(dir, 'data')),
      ...FAST_LIVENESS,
      '--config',
      await configFile(rx.url),
    ]);
    await startAgent(b, 'w1');
    const job = await submit(b.clientsUrl, { type: 'shell', payload: { command: 'true' } });
    await waitJob(b.clientsUrl, job.id);
    await until(() => rx.requests.length >= 2, 15_000, 'the retried callback');

    const [first, second] = rx.requests;
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.body).toBe(first!.body);
    for (const r of rx.requests) {
      expect(r.path).toBe('/hook');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers.authorization).toBe(basic('recodex', 'pa:ss'));
      const signature = String(r.headers['switchyard-signature']);
      expect(verifySignature(SECRET, signature, r.body, r.at)).toBe(true);
      expect(verifySignature('another-secret', signature, r.body, r.at)).toBe(false);
    }
    expect(JSON.parse(second!.body)).toMatchObject({
      event: 'job.succeeded',
      id: second!.headers['idempotency-key'],
      job: { id: job.id, type: 'shell', queue: 'default', state: 'succeeded', attempt: 1 },
    });
    // Delivered: no further tries.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(rx.requests).toHaveLength(2);
  }, 40_000);

  it('delivers a callback that was due when the broker was killed, after the restart', async () => {
    const rx = await receiver((_, n) => (n === 1 ? 503 : 200));
    const args = [
      ...brokerArgs(join(dir, 'data')),
      ...FAST_LIVENESS,
      '--config',
      await configFile(rx.url, { base: 1500, max: 1500 }),
    ];
    const first = await startBrokerProcess(args);
    const job = await submit(first.clientsUrl, {
      type: 'shell',
      payload: { command: 'true' },
      queue: 'nobody-serves-this',
    });
    const canceled = await api(first.clientsUrl, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(canceled.status).toBe(200);
    await until(() => rx.requests.length === 1, 10_000, 'the first try');
    // The retry is due in 1.5 s: kill the broker before it comes.
    await first.proc.stop('SIGKILL');
    expect(rx.requests).toHaveLength(1);

    const second = await startBrokerProcess(args);
    await until(() => rx.requests.length === 2, 15_000, 'the callback after the restart');
    expect(rx.keys()[1]).toBe(rx.keys()[0]);
    expect(JSON.parse(rx.requests[1]!.body)).toMatchObject({
      event: 'job.canceled',
      job: { id: job.id, state: 'canceled' },
    });
    await new Promise((r) => setTimeout(r, 800));
    expect(rx.requests).toHaveLength(2);
    await second.proc.stop('SIGTERM');
  }, 40_000);
});

describe("a job's own callback (an in-process broker without a global notifier)", () => {
  let broker: TestBroker;
  beforeEach(async () => {
    broker = await startTestBroker({}, join(dir, 'inproc'));
    closers.push(() => broker.stop());
  });

  it('is sent for the events it names only, without credentials', async () => {
    const rx = await receiver(() => 200);
    const base = broker.broker.clientsUrl;
    const onCancel = await submit(base, {
      type: 'shell',
      payload: { command: 'true' },
      queue: 'idle',
      notify: { url: `${rx.url}/mine?job=1`, events: ['canceled'] },
    });
    const onFail = await submit(base, {
      type: 'shell',
      payload: { command: 'true' },
      queue: 'idle',
      notify: { url: `${rx.url}/mine?job=2`, events: ['failed', 'succeeded'] },
    });
    expect((await api(base, 'GET', `/api/v1/jobs/${onCancel.id}`)).json).toMatchObject({
      notify: { url: `${rx.url}/mine?job=1`, events: ['canceled'] },
    });
    for (const j of [onCancel, onFail]) {
      expect((await api(base, 'POST', `/api/v1/jobs/${j.id}/cancel`)).status).toBe(200);
    }
    await until(() => rx.requests.length === 1, 10_000, 'the callback');
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.requests).toHaveLength(1);
    const [r] = rx.requests;
    expect(r!.path).toBe('/mine?job=1');
    expect(r!.headers.authorization).toBeUndefined();
    expect(r!.headers['switchyard-signature']).toBeUndefined();
    expect(JSON.parse(r!.body)).toMatchObject({
      event: 'job.canceled',
      job: { id: onCancel.id, state: 'canceled' },
    });
    await until(async () => (await broker.broker.notifierBacklog()) === 0, 5_000, 'the removal');
  });

  it('writes no outbox row for a job without notify', async () => {
    const rx = await receiver(() => 'hang');
    const base = broker.broker.clientsUrl;
    const plain = await submit(base, { type: 'shell', payload: { command: 'true' }, queue: 'q' });
    expect((await api(base, 'POST', `/api/v1/jobs/${plain.id}/cancel`)).status).toBe(200);
    expect(await broker.broker.notifierBacklog()).toBe(0);
    // The same end of a job that asked for a callback does write one (kept while it hangs).
    const asked = await submit(base, {
      type: 'shell',
      payload: { command: 'true' },
      queue: 'q',
      notify: { url: `${rx.url}/x` },
    });
    expect((await api(base, 'POST', `/api/v1/jobs/${asked.id}/cancel`)).status).toBe(200);
    expect(await broker.broker.notifierBacklog()).toBe(1);
    await until(() => rx.requests.length === 1, 5_000, 'the callback in flight');
  });

  it('refuses a notify URL that is not http(s), carries credentials or is too long', async () => {
    const base = broker.broker.clientsUrl;
    const shell = { type: 'shell', payload: { command: 'true' } };
    for (const [url, message] of [
      ['ftp://127.0.0.1/x', /notify/],
      ['http://user:pw@127.0.0.1/x', /notify\.url: must not carry credentials/],
      [`http://127.0.0.1/${'a'.repeat(2100)}`, /notify/],
      ['javascript:alert(1)', /notify/],
    ] as const) {
      const r = await api(base, 'POST', '/api/v1/jobs', { ...shell, notify: { url } });
      expect(r.status, url).toBe(400);
      expect(r.json.error?.message).toMatch(message);
    }
    const badEvent = await api(base, 'POST', '/api/v1/jobs', {
      ...shell,
      notify: { url: 'http://127.0.0.1/x', events: ['exploded'] },
    });
    expect(badEvent.status).toBe(400);
    expect(badEvent.json.error?.message).toMatch(/notify/);
  });
});

describe('backend errors (an in-process broker with a global notifier)', () => {
  interface Body {
    event: string;
    message?: string;
    details?: Record<string, unknown>;
    job?: { id: string; state: string; error: { code: string } | null };
  }
  const bodies = (rx: Receiver): Body[] => rx.requests.map((r) => JSON.parse(r.body) as Body);

  async function brokerFor(rx: Receiver): Promise<TestBroker> {
    const tb = await startTestBroker(
      {
        maxRequestFailures: 1,
        notifier: { ...brokerDefaults.notifier, url: `${rx.url}/hook`, secret: SECRET },
      },
      join(dir, 'backend'),
    );
    closers.push(() => tb.stop());
    return tb;
  }

  it('tells of a worker lost with its jobs, and of a job failed at max_request_failures', async () => {
    const rx = await receiver(() => 200);
    const tb = await brokerFor(rx);
    const w = await RawWorker.open(tb.broker.workersUrl);
    w.hello({ name: 'doomed' });
    await w.next('welcome');
    const job = await submit(tb.broker.clientsUrl, { type: 't' });
    await w.next('assign');
    // Gone without a word: declared dead after the liveness window, its job lost.
    await w.close();
    await waitJob(tb.broker.clientsUrl, job.id);
    await until(() => rx.requests.length === 3, 10_000, 'three callbacks');
    const got = bodies(rx);
    expect(got.find((b) => b.event === 'job.failed')).toMatchObject({
      job: { id: job.id, state: 'failed', error: { code: 'max_request_failures' } },
    });
    const errors = got.filter((b) => b.event === 'backend.error');
    expect(errors.map((b) => b.message).sort()).toEqual([
      expect.stringMatching(
        new RegExp(`^job ${job.id}: job failed 1 times \\(max_request_failures`),
      ),
      expect.stringMatching(/^worker doomed was lost while running 1 job\(s\)/),
    ]);
    expect(errors.find((b) => /^worker/.test(b.message!))!.details).toMatchObject({
      workerName: 'doomed',
      jobs: [job.id],
    });
    for (const r of rx.requests) {
      expect(verifySignature(SECRET, String(r.headers['switchyard-signature']), r.body, r.at)).toBe(
        true,
      );
    }
  });

  it('tells of a worker registering again with other labels', async () => {
    const rx = await receiver(() => 200);
    const tb = await brokerFor(rx);
    const w = await RawWorker.open(tb.broker.workersUrl);
    w.hello();
    await w.next('welcome');
    w.hello({ labels: { env: ['java'] } });
    await w.next('welcome');
    await until(() => rx.requests.length === 1, 10_000, 'the callback');
    expect(bodies(rx)[0]).toMatchObject({
      event: 'backend.error',
      message: expect.stringMatching(/raw registered again with different capabilities/),
      details: { workerName: 'raw' },
    });
  });
});
