/**
 * The broker's side of the worker protocol, spoken by a raw WebSocket client: registration,
 * re-registration, refused results, liveness, and the separation of tokens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, type ConfigOverrides, type TestBroker } from '../helpers/broker.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import { closeRawWorkers, RawWorker } from '../helpers/raw-worker.js';

let tb: TestBroker | undefined;
afterEach(async () => {
  await closeRawWorkers();
  await tb?.close();
  tb = undefined;
});

async function broker(over: ConfigOverrides = {}) {
  tb = await startTestBroker(over);
  return { base: tb.broker.clientsUrl, ws: tb.broker.workersUrl };
}

describe('registration', () => {
  it('welcomes a worker with an id and the heartbeat settings', async () => {
    const { base, ws } = await broker({ pingIntervalMs: 200, maxLiveness: 7 });
    const w = await RawWorker.open(ws);
    w.hello();
    const welcome = await w.next('welcome');
    expect(welcome.workerId).toMatch(/^w_/);
    expect(welcome.pingIntervalMs).toBe(200);
    expect(welcome.maxLiveness).toBe(7);
    const workers = (
      await api<{ workers: Array<{ id: string; name: string; labels: unknown }> }>(
        base,
        'GET',
        '/api/v1/workers',
      )
    ).json.workers;
    expect(workers).toEqual([
      expect.objectContaining({ id: welcome.workerId, name: 'raw', labels: { env: ['c'] } }),
    ]);
  });

  it('a worker sending hello again with the same labels stays one worker', async () => {
    const { base, ws } = await broker();
    const w = await RawWorker.open(ws);
    w.hello();
    const first = await w.next('welcome');
    w.hello();
    const second = await w.next('welcome');
    expect(second.workerId).toBe(first.workerId);
    expect(
      (await api<{ workers: unknown[] }>(base, 'GET', '/api/v1/workers')).json.workers,
    ).toHaveLength(1);
  });

  it('a hello with different labels replaces the registration and reports a backend error', async () => {
    const { base, ws } = await broker();
    const errors: string[] = [];
    tb!.broker.events.on('backend:error', (e) => errors.push(e.message));
    const w = await RawWorker.open(ws);
    w.hello();
    await w.next('welcome');
    w.hello({ labels: { env: ['java'] } });
    await w.next('welcome');
    const workers = (
      await api<{ workers: Array<{ labels: unknown }> }>(base, 'GET', '/api/v1/workers')
    ).json.workers;
    expect(workers).toHaveLength(1);
    expect(workers[0]!.labels).toEqual({ env: ['java'] });
    expect(errors.join()).toMatch(/raw registered again with different capabilities/);
    // The new labels route: a java job now reaches it.
    const job = await submit(base, { type: 't', requires: { env: 'java' } });
    const assign = await w.next('assign');
    expect(assign.job.id).toBe(job.id);
  });

  it('refuses messages before hello, invalid frames and unknown protocol versions', async () => {
    const { ws } = await broker();
    const a = await RawWorker.open(ws);
    a.send({ type: 'heartbeat' });
    expect((await a.next('error')).code).toBe('hello_required');
    const b = await RawWorker.open(ws);
    b.ws.send('not json');
    expect((await b.next('error')).code).toBe('invalid_message');
    const c = await RawWorker.open(ws);
    c.hello({ slots: 0 });
    const err = await c.next('error');
    expect(err.message).toContain('slots');
    const e = await RawWorker.open(ws);
    e.hello({ name: 'bad\u0000name' });
    const named = await e.next('error');
    expect(named.code).toBe('invalid_message');
    expect(named.message).toMatch(/^hello: name may not contain control characters/);
    const f = await RawWorker.open(ws);
    f.hello({ labels: { env: ['c\ud800'] } });
    expect((await f.next('error')).message).toMatch(/^hello: labels\.env: may not contain/);
    const d = await RawWorker.open(ws);
    d.hello({ version: 99 });
    expect((await d.next('error')).code).toBe('unsupported_version');
    await until(() => d.closed !== null);
  });
});

describe('identity', () => {
  it('gives a new worker a secret, and a worker with the same name is another worker', async () => {
    const { base, ws } = await broker();
    const a = await RawWorker.open(ws);
    a.hello({ name: 'twin' });
    const wa = await a.next('welcome');
    const b = await RawWorker.open(ws);
    b.hello({ name: 'twin' });
    const wb = await b.next('welcome');
    expect(wa.secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(wb.secret).not.toBe(wa.secret);
    expect(wb.workerId).not.toBe(wa.workerId);
    // Neither evicts the other: both stay connected and both get work.
    const jobs = [await submit(base, { type: 't' }), await submit(base, { type: 't' })];
    const given = [(await a.next('assign')).job.id, (await b.next('assign')).job.id];
    expect(given.sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(a.closed).toBeNull();
    expect(b.closed).toBeNull();
    const workers = (await api<{ workers: Array<{ id: string }> }>(base, 'GET', '/api/v1/workers'))
      .json.workers;
    expect(workers.map((w) => w.id).sort()).toEqual([wa.workerId, wb.workerId].sort());
  });

  it('never lets a new connection claim a job it was not given, nor apply its result', async () => {
    const { base, ws } = await broker();
    const owner = await RawWorker.open(ws);
    owner.hello({ name: 'owner' });
    await owner.next('welcome');
    const job = await submit(base, { type: 't' });
    await owner.next('assign');
    const thief = await RawWorker.open(ws);
    thief.hello({ name: 'thief', running: [{ jobId: job.id, attempt: 1 }] });
    const welcome = await thief.next('welcome');
    expect(welcome.adopted).toEqual([]);
    expect(welcome.abandoned).toEqual([job.id]);
    thief.send({ type: 'done', jobId: job.id, attempt: 1, result: 'forged' });
    expect((await thief.next('refused')).jobId).toBe(job.id);
    expect(await getJob(base, job.id)).toMatchObject({ state: 'running', result: null });
    owner.send({ type: 'done', jobId: job.id, attempt: 1, result: 'real' });
    await owner.next('ack');
    expect(await getJob(base, job.id)).toMatchObject({ state: 'succeeded', result: 'real' });
  });

  it("refuses a hello that names another worker's id without its secret, which keeps its jobs", async () => {
    const { base, ws } = await broker();
    const victim = await RawWorker.open(ws);
    victim.hello({ name: 'victim' });
    const { workerId } = await victim.next('welcome');
    const job = await submit(base, { type: 't' });
    await victim.next('assign');
    for (const secret of [undefined, 'guessed']) {
      const impostor = await RawWorker.open(ws);
      impostor.hello({
        name: 'victim',
        workerId,
        ...(secret === undefined ? {} : { secret }),
        running: [{ jobId: job.id, attempt: 1 }],
      });
      const refusal = await impostor.next('error');
      expect(refusal).toMatchObject({ code: 'forbidden', fatal: true });
      expect(refusal.message).toContain('secret does not match');
      await until(() => impostor.closed !== null);
    }
    expect(victim.closed).toBeNull();
    victim.send({ type: 'done', jobId: job.id, attempt: 1, result: 'mine' });
    await victim.next('ack');
    expect(await getJob(base, job.id)).toMatchObject({ state: 'succeeded', result: 'mine' });
  });

  it('lets the worker itself take its session over from a stale connection', async () => {
    const { base, ws } = await broker({ pingIntervalMs: 100, maxLiveness: 10 });
    const first = await RawWorker.open(ws);
    first.hello({ name: 'w' });
    const welcome = await first.next('welcome');
    const job = await submit(base, { type: 't' });
    await first.next('assign');
    // The same worker on a new connection while the old one still stands (a half-open socket).
    const second = await RawWorker.open(ws);
    second.hello({
      name: 'w',
      workerId: welcome.workerId,
      secret: welcome.secret,
      running: [{ jobId: job.id, attempt: 1 }],
    });
    expect((await second.next('welcome')).adopted).toEqual([job.id]);
    await until(() => first.closed !== null);
    expect(first.closed?.code).toBe(4000);
    second.send({ type: 'done', jobId: job.id, attempt: 1 });
    await second.next('ack');
    expect((await getJob(base, job.id)).state).toBe('succeeded');
  });
});

describe('results', () => {
  it('acknowledges a result only after it is committed, and refuses one for a job the worker does not hold', async () => {
    const { base, ws } = await broker();
    const w = await RawWorker.open(ws);
    w.hello();
    await w.next('welcome');
    const job = await submit(base, { type: 't' });
    const assign = await w.next('assign');
    expect(assign.job).toMatchObject({ id: job.id, attempt: 1, type: 't' });
    // A result for another job, and for a wrong attempt, are refused and change nothing.
    const other = await submit(base, { type: 'nobody' });
    w.send({ type: 'done', jobId: other.id, attempt: 1, result: 'forged' });
    expect((await w.next('refused')).jobId).toBe(other.id);
    w.send({ type: 'done', jobId: job.id, attempt: 2, result: 'forged' });
    expect((await w.next('refused')).attempt).toBe(2);
    expect((await getJob(base, other.id)).state).toBe('queued');
    // The real one is applied, then acknowledged.
    w.send({ type: 'done', jobId: job.id, attempt: 1, result: { ok: true } });
    const ack = await w.next('ack');
    expect(ack.results).toEqual([{ jobId: job.id, attempt: 1 }]);
    const done = await getJob(base, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toEqual({ ok: true });
    // Sending it again (the ack was lost) is acknowledged again, not refused.
    w.send({ type: 'done', jobId: job.id, attempt: 1, result: { ok: true } });
    expect((await w.next('ack')).results).toEqual([{ jobId: job.id, attempt: 1 }]);
  });

  it('gives a worker no more jobs than its slots, and the next one when a slot frees', async () => {
    const { base, ws } = await broker();
    const w = await RawWorker.open(ws);
    w.hello({ slots: 2 });
    await w.next('welcome');
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(base, { type: 't' }));
    const a1 = await w.next('assign');
    const a2 = await w.next('assign');
    await new Promise((r) => setTimeout(r, 100));
    expect(w.messages.filter((m) => m.type === 'assign')).toHaveLength(0);
    w.send({ type: 'done', jobId: a1.job.id, attempt: 1 });
    const a3 = await w.next('assign');
    expect(new Set([a1.job.id, a2.job.id, a3.job.id])).toEqual(new Set(jobs.map((j) => j.id)));
  });
});

describe('liveness', () => {
  it('declares a silent worker dead after max_liveness intervals and requeues its job at once', async () => {
    const { base, ws } = await broker({ pingIntervalMs: 50, maxLiveness: 4 });
    const w = await RawWorker.open(ws);
    w.hello();
    await w.next('welcome');
    // The worker's last word is its hello: silence counts from there, not from the assignment
    // (which a busy machine may deliver a good part of the window later).
    const t0 = Date.now();
    const job = await submit(base, { type: 't' });
    await w.next('assign');
    // Say nothing more; the connection stays open.
    const back = await waitJob(base, job.id, (j) => j.state === 'queued', 5000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(back.requestFailures).toBe(1);
    expect(back.attempts[0]?.outcome).toBe('aborted');
    expect(back.error?.code).toBe('worker_lost');
    await until(() => w.closed !== null, 2000, 'the dead worker to be disconnected');
  });

  it("puts a dead worker's job back at the front of its priority, ahead of older queued jobs", async () => {
    const { base, ws } = await broker({ pingIntervalMs: 50, maxLiveness: 4 });
    const first = await RawWorker.open(ws);
    first.hello({ name: 'first' });
    await first.next('welcome');
    const lost = await submit(base, { type: 't' });
    await first.next('assign');
    const waiting = [await submit(base, { type: 't' }), await submit(base, { type: 't' })];
    // The worker goes silent: its job is re-queued, behind nothing of its priority.
    await waitJob(base, lost.id, (j) => j.state === 'queued', 5000);
    const next = await RawWorker.open(ws);
    next.hello({ name: 'next' });
    await next.next('welcome');
    expect((await next.next('assign')).job.id).toBe(lost.id);
    next.send({ type: 'done', jobId: lost.id, attempt: 2 });
    expect((await next.next('assign')).job.id).toBe(waiting[0]!.id);
  });

  it('any message keeps a worker alive', async () => {
    const { base, ws } = await broker({ pingIntervalMs: 50, maxLiveness: 4 });
    const w = await RawWorker.open(ws);
    w.hello();
    await w.next('welcome');
    const job = await submit(base, { type: 't' });
    await w.next('assign');
    for (let i = 0; i < 10; i++) {
      w.send({ type: 'heartbeat' });
      await new Promise((r) => setTimeout(r, 40));
    }
    expect((await getJob(base, job.id)).state).toBe('running');
  });

  it('a worker that reconnects in time keeps its running job and its result is accepted', async () => {
    const { base, ws } = await broker({ pingIntervalMs: 100, maxLiveness: 10 });
    const w = await RawWorker.open(ws);
    w.hello({ name: 'phoenix' });
    const welcome = await w.next('welcome');
    const job = await submit(base, { type: 't' });
    await w.next('assign');
    await w.close();
    const again = await RawWorker.open(ws);
    again.hello({
      name: 'phoenix',
      workerId: welcome.workerId,
      secret: welcome.secret,
      running: [{ jobId: job.id, attempt: 1 }],
    });
    const w2 = await again.next('welcome');
    expect(w2.adopted).toEqual([job.id]);
    again.send({ type: 'done', jobId: job.id, attempt: 1 });
    await again.next('ack');
    const done = await getJob(base, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.attempts).toHaveLength(1);
  });

  it('a worker that comes back without its job has that job requeued', async () => {
    const { base, ws } = await broker({ pingIntervalMs: 100, maxLiveness: 10 });
    const w = await RawWorker.open(ws);
    w.hello({ name: 'amnesiac' });
    await w.next('welcome');
    const job = await submit(base, { type: 't' });
    await w.next('assign');
    await w.close();
    const again = await RawWorker.open(ws);
    again.hello({ name: 'amnesiac', types: ['other'] });
    await again.next('welcome');
    const back = await waitJob(base, job.id, (j) => j.state === 'queued');
    expect(back.requestFailures).toBe(1);
  });
});

describe('tokens', () => {
  const auth = {
    clientTokens: ['client-secret'],
    workerTokens: ['worker-secret'],
    adminTokens: ['admin-secret'],
  };

  it('a worker needs a worker token; a client token does not register it', async () => {
    const { ws } = await broker({ auth });
    const none = await RawWorker.open(ws);
    none.hello();
    expect((await none.next('error')).code).toBe('unauthorized');
    const client = await RawWorker.open(ws);
    client.hello({ token: 'client-secret' });
    expect((await client.next('error')).code).toBe('unauthorized');
    const good = await RawWorker.open(ws);
    good.hello({ token: 'worker-secret' });
    await good.next('welcome');
  });

  it('the client API needs a client or admin token; a worker token is refused', async () => {
    const { base } = await broker({ auth });
    const body = { type: 't' };
    expect((await api(base, 'POST', '/api/v1/jobs', body)).status).toBe(401);
    const worker = await api(base, 'POST', '/api/v1/jobs', body, {
      authorization: 'Bearer worker-secret',
    });
    expect(worker.status).toBe(403);
    expect(worker.json.error?.code).toBe('forbidden');
    expect(
      (await api(base, 'POST', '/api/v1/jobs', body, { authorization: 'Bearer nonsense' })).status,
    ).toBe(403);
    expect(
      (await api(base, 'POST', '/api/v1/jobs', body, { authorization: 'Bearer client-secret' }))
        .status,
    ).toBe(201);
    expect(
      (await api(base, 'GET', '/api/v1/stats', undefined, { authorization: 'Bearer admin-secret' }))
        .status,
    ).toBe(200);
    expect((await api(base, 'GET', '/healthz')).status).toBe(200);
  });
});
