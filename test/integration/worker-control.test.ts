/**
 * Workers under an operator's hand, through a real broker and real WebSocket workers (SDK
 * workers in this process): status (asleep, awake, drain now and after), queues attached and
 * detached at run time, disconnect, the blocklist, the sleep schedule's route, usage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JobBody, WorkerBody } from '../../src/protocol/api.js';
import {
  PermanentError,
  Worker,
  createShellHandler,
  type Handler,
} from '../../src/worker/index.js';
import { startTestBroker, type ConfigOverrides, type TestBroker } from '../helpers/broker.js';
import { Client } from '../../src/client/index.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import { closeRawWorkers, RawWorker } from '../helpers/raw-worker.js';

let tb: TestBroker | undefined;
let workers: Worker[] = [];
afterEach(async () => {
  await closeRawWorkers();
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await tb?.close();
  tb = undefined;
});

async function broker(over: ConfigOverrides = {}): Promise<string> {
  tb = await startTestBroker(over);
  return tb.broker.clientsUrl;
}

async function worker(options: {
  name: string;
  queues?: string[];
  slots?: number;
  handlers: Record<string, Handler>;
}): Promise<{ worker: Worker; id: string }> {
  const w = new Worker({ brokers: [tb!.broker.workersUrl], ...options });
  workers.push(w);
  const welcomed = new Promise<string>((resolve) =>
    w.once('connected', (m) => resolve(m.workerId)),
  );
  await w.start();
  return { worker: w, id: await welcomed };
}

const status = (base: string, id: string, body: Record<string, unknown>) =>
  api<WorkerBody>(base, 'POST', `/api/v1/workers/${id}/status`, body);

/** A handler that runs until told (or stopped), counting its starts. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const started: string[] = [];
  const handler: Handler = async (job) => {
    started.push(job.id);
    await new Promise<void>((resolve, reject) => {
      void opened.then(resolve);
      job.signal.addEventListener('abort', () => reject(job.signal.reason as Error));
    });
    return 'done';
  };
  return { handler, started, open };
}

/** Waits a while and checks that the job is still queued. */
async function staysQueued(base: string, id: string, ms = 600): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  expect((await getJob(base, id)).state).toBe('queued');
}

describe('worker status', () => {
  it('an asleep worker is given no new job; awake again, it takes it at once', async () => {
    const base = await broker();
    const { id } = await worker({ name: 'w', handlers: { t: async () => 'ok' } });
    const r = await status(base, id, { status: 'asleep', when: 'after' });
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('asleep');
    expect(r.json.state).toBe('asleep');
    const job = await submit(base, { type: 't' });
    await staysQueued(base, job.id);
    expect((await api<WorkerBody>(base, 'GET', `/api/v1/workers/${id}`)).json.status).toBe(
      'asleep',
    );
    await status(base, id, { status: 'awake' });
    expect((await waitJob(base, job.id)).state).toBe('succeeded');
  });

  it('asleep now stops the running job and queues it again without counting a failure', async () => {
    const base = await broker();
    const g = gate();
    const a = await worker({ name: 'a', handlers: { t: g.handler } });
    const job = await submit(base, { type: 't' });
    await waitJob(base, job.id, (j) => j.state === 'running');
    await status(base, a.id, { status: 'asleep', when: 'now' });
    const back = await waitJob(base, job.id, (j) => j.state === 'queued');
    expect(back.requestFailures).toBe(0);
    expect(back.attempts[0]).toMatchObject({ outcome: 'aborted', error: { code: 'requeued' } });
    // Another worker takes it; the first one stays asleep.
    await worker({ name: 'b', handlers: { t: async () => 'ok' } });
    const done = await waitJob(base, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.workerName).toBe('b');
    expect(g.started).toEqual([job.id]);
  });

  it('drain now: the running job goes back to the queue and the worker exits', async () => {
    const base = await broker();
    const g = gate();
    const a = await worker({ name: 'a', handlers: { t: g.handler } });
    const closed = new Promise<void>((resolve) => a.worker.once('closed', resolve));
    const job = await submit(base, { type: 't' });
    await waitJob(base, job.id, (j) => j.state === 'running');
    expect((await status(base, a.id, { status: 'drain', when: 'now' })).json.status).toBe('drain');
    await closed;
    const back = await waitJob(base, job.id, (j) => j.state === 'queued');
    expect(back.requestFailures).toBe(0);
    await worker({ name: 'b', handlers: { t: async () => 'ok' } });
    expect((await waitJob(base, job.id)).workerName).toBe('b');
  });

  it('drain after: the running job finishes, then the worker exits', async () => {
    const base = await broker();
    const g = gate();
    const a = await worker({ name: 'a', handlers: { t: g.handler } });
    let closedYet = false;
    const closed = new Promise<void>((resolve) =>
      a.worker.once('closed', () => {
        closedYet = true;
        resolve();
      }),
    );
    const job = await submit(base, { type: 't' });
    await waitJob(base, job.id, (j) => j.state === 'running');
    await status(base, a.id, { status: 'drain', when: 'after' });
    const other = await submit(base, { type: 't' });
    await new Promise((r) => setTimeout(r, 400));
    expect(closedYet).toBe(false);
    expect((await getJob(base, other.id)).state).toBe('queued');
    g.open();
    await closed;
    const done = await getJob(base, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.workerName).toBe('a');
    expect((await getJob(base, other.id)).state).toBe('queued');
  });

  it("queue_manager multi: jobs waiting in an asleep worker's own queue go to another", async () => {
    const base = await broker({ queueManager: 'multi' });
    const g = gate();
    const a = await worker({ name: 'a', handlers: { t: g.handler } });
    const first = await submit(base, { type: 't' });
    await waitJob(base, first.id, (j) => j.state === 'running');
    const second = await submit(base, { type: 't' }); // bound to a's own queue
    await status(base, a.id, { status: 'asleep', when: 'after' });
    await worker({ name: 'b', handlers: { t: async () => 'ok' } });
    expect((await waitJob(base, second.id)).workerName).toBe('b');
    g.open();
    expect((await waitJob(base, first.id)).workerName).toBe('a');
  });

  it('the status is kept across a reconnect of the worker', async () => {
    const base = await broker();
    const a = await worker({ name: 'a', handlers: { t: async () => 'ok' } });
    await status(base, a.id, { status: 'asleep', when: 'after' });
    const back = new Promise<string>((resolve) =>
      a.worker.once('disconnected', () =>
        a.worker.once('connected', (welcome) => resolve(welcome.workerId)),
      ),
    );
    const r = await api(base, 'POST', `/api/v1/workers/${a.id}/disconnect`);
    expect(r.status).toBe(200);
    // It comes back as itself, and is still asleep.
    expect(await back).toBe(a.id);
    await until(async () => {
      const w = await api<WorkerBody>(base, 'GET', `/api/v1/workers/${a.id}`);
      return w.json.state === 'asleep';
    });
    const job = await submit(base, { type: 't' });
    await staysQueued(base, job.id);
    await status(base, a.id, { status: 'awake' });
    expect((await waitJob(base, job.id)).workerName).toBe('a');
  });

  it('refuses a status it does not know, and a worker that does not exist', async () => {
    const base = await broker();
    const { id } = await worker({ name: 'w', handlers: { t: async () => 'ok' } });
    const bad = await status(base, id, { status: 'sleepy' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toContain('status');
    expect((await status(base, 'w_nobody', { status: 'asleep' })).status).toBe(404);
  });
});

describe.each(['single', 'multi'] as const)('queues and types at run time (%s)', (queueManager) => {
  it('a queue attached is served at once; detached, it is not', async () => {
    const base = await broker({ queueManager });
    const { worker: w, id } = await worker({
      name: 'w',
      queues: ['default'],
      handlers: { t: async () => 'ok', u: async () => 'ok' },
    });
    const pushed = new Promise<{ queues: string[] }>((resolve) => w.once('capabilities', resolve));
    const job = await submit(base, { type: 't', queue: 'extra' });
    await staysQueued(base, job.id, 300);
    const r = await api<WorkerBody>(base, 'PUT', `/api/v1/workers/${id}/queues`, {
      queues: ['default', 'extra'],
    });
    expect(r.status).toBe(200);
    expect(r.json.queues).toEqual(['default', 'extra']);
    expect((await waitJob(base, job.id)).state).toBe('succeeded');
    expect((await pushed).queues).toEqual(['default', 'extra']);

    await api(base, 'PUT', `/api/v1/workers/${id}/queues`, { queues: ['default'] });
    const later = await submit(base, { type: 't', queue: 'extra' });
    await staysQueued(base, later.id);

    // Types: a subset of those announced; an unknown one is refused.
    const unknown = await api(base, 'PUT', `/api/v1/workers/${id}/queues`, { types: ['nope'] });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error?.message).toContain('nope');
    await api(base, 'PUT', `/api/v1/workers/${id}/queues`, { types: ['u'] });
    const t = await submit(base, { type: 't' });
    await staysQueued(base, t.id);
    await api(base, 'PUT', `/api/v1/workers/${id}/queues`, { types: null });
    expect((await waitJob(base, t.id)).state).toBe('succeeded');
  });
});

describe.each(['single', 'multi'] as const)('blocklist (%s)', (queueManager) => {
  it('after N failures of a type in a queue the worker is skipped for it; cleared, it takes it again', async () => {
    const base = await broker({ blocklist: { threshold: 2 }, queueManager });
    const bad = await worker({
      name: 'bad',
      handlers: {
        t: async () => {
          throw new PermanentError('broken here');
        },
      },
    });
    for (let i = 0; i < 2; i++) {
      const j = await submit(base, { type: 't' });
      expect((await waitJob(base, j.id)).state).toBe('failed');
    }
    const w = await api<WorkerBody>(base, 'GET', `/api/v1/workers/${bad.id}`);
    expect(w.json.blocklist).toMatchObject([{ queue: 'default', type: 't', failures: 2 }]);
    const list = await api<{ workers: WorkerBody[] }>(base, 'GET', '/api/v1/workers');
    expect(list.json.workers[0]!.blocklist).toHaveLength(1);

    const job = await submit(base, { type: 't' });
    await staysQueued(base, job.id);
    expect((await getJob(base, job.id)).blockedWorkers).toEqual([bad.id]);
    const listed = await api<{ jobs: JobBody[] }>(base, 'GET', '/api/v1/jobs?state=queued');
    expect(listed.json.jobs[0]!.blockedWorkers).toEqual([bad.id]);

    await worker({ name: 'good', handlers: { t: async () => 'ok' } });
    expect((await waitJob(base, job.id)).workerName).toBe('good');

    const cleared = await api<{ cleared: unknown[] }>(
      base,
      'DELETE',
      `/api/v1/workers/${bad.id}/blocklist/t?queue=default`,
    );
    expect(cleared.json.cleared).toHaveLength(1);
    expect(
      (await api<WorkerBody>(base, 'GET', `/api/v1/workers/${bad.id}`)).json.blocklist,
    ).toEqual([]);
  });

  it('a cleared worker is given the type again', async () => {
    const base = await broker({ blocklist: { threshold: 1 } });
    let fail = true;
    const w = await worker({
      name: 'w',
      handlers: {
        t: async () => {
          if (fail) throw new PermanentError('not yet');
          return 'ok';
        },
      },
    });
    const first = await submit(base, { type: 't' });
    expect((await waitJob(base, first.id)).state).toBe('failed');
    fail = false;
    const job = await submit(base, { type: 't' });
    await staysQueued(base, job.id);
    await api(base, 'DELETE', `/api/v1/workers/${w.id}/blocklist/t`);
    expect((await waitJob(base, job.id)).state).toBe('succeeded');
  });
});

describe('sleep schedule and usage', () => {
  it('a schedule is validated, shown on the worker and removed', async () => {
    const base = await broker();
    const { id } = await worker({ name: 'w', handlers: { t: async () => 'ok' } });
    const bad = await api(base, 'PUT', `/api/v1/workers/${id}/sleep-schedule`, {
      days: ['mon'],
      start: '22:00',
      end: '06:00',
      timeZone: 'Mars/Olympus',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toContain('timeZone');
    const schedule = {
      active: true,
      days: ['mon', 'tue'],
      start: '22:00',
      end: '06:00',
      timeZone: 'Europe/Prague',
    };
    const r = await api<WorkerBody>(base, 'PUT', `/api/v1/workers/${id}/sleep-schedule`, schedule);
    expect(r.status).toBe(200);
    expect(r.json.schedule).toEqual(schedule);
    const gone = await api<WorkerBody>(base, 'DELETE', `/api/v1/workers/${id}/sleep-schedule`);
    expect(gone.json.schedule).toBeNull();
  });

  it('serves usage samples from the heartbeats', async () => {
    const base = await broker({ pingIntervalMs: 100 });
    const { id } = await worker({ name: 'w', handlers: { shell: createShellHandler() } });
    const job = await submit(base, { type: 'shell', payload: { command: 'sleep 30' } });
    await waitJob(base, job.id, (j) => j.state === 'running');
    type Usage = {
      resolution: string;
      samples: Array<{ at: string; memory: unknown; jobs: Array<{ jobId: string; rss: unknown }> }>;
    };
    let usage: Usage | undefined;
    // The shell job's process group is sampled on Linux; elsewhere a job reports nothing.
    const withJob = (u: Usage) =>
      u.samples.some((s) =>
        s.jobs.some(
          (j) => j.jobId === job.id && (process.platform !== 'linux' || Number(j.rss) > 0),
        ),
      );
    await until(
      async () => {
        usage = (await api<Usage>(base, 'GET', `/api/v1/workers/${id}/usage`)).json;
        return withJob(usage);
      },
      20_000,
      'usage samples with the job',
    );
    expect(usage!.resolution).toBe('fine');
    expect(usage!.samples[0]!.memory).toMatchObject({ total: expect.any(Number) });
    await api(base, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect((await api(base, 'GET', `/api/v1/workers/w_nobody/usage`)).status).toBe(404);
  });
});

describe('protocol 2 workers', () => {
  it('are still served: queues follow without a capabilities message, a take-back is a held stop', async () => {
    const base = await broker();
    const w = await RawWorker.open(tb!.broker.workersUrl);
    w.hello({ version: 2 });
    const { workerId } = await w.next('welcome');
    await api(base, 'PUT', `/api/v1/workers/${workerId}/queues`, { queues: ['extra'] });
    const job = await submit(base, { type: 't', queue: 'extra' });
    expect((await w.next('assign')).job.id).toBe(job.id);
    expect(w.messages.some((m) => m.type === 'capabilities')).toBe(false);
    await status(base, workerId, { status: 'asleep', when: 'now' });
    expect(await w.next('cancel')).toMatchObject({ jobId: job.id, reason: 'held' });
    expect(await w.next('status')).toMatchObject({ status: 'asleep' });
    expect((await waitJob(base, job.id, (j) => j.state === 'queued')).requestFailures).toBe(0);
  });

  it('a protocol 3 worker hears the take-back as requeued', async () => {
    const base = await broker();
    const w = await RawWorker.open(tb!.broker.workersUrl);
    w.hello();
    const { workerId } = await w.next('welcome');
    const job = await submit(base, { type: 't' });
    await w.next('assign');
    await status(base, workerId, { status: 'drain', when: 'now' });
    expect(await w.next('cancel')).toMatchObject({ jobId: job.id, reason: 'requeued' });
    expect(await w.next('status')).toMatchObject({ status: 'drain' });
  });
});

describe('events', () => {
  it('every change shows in the events feed', async () => {
    const base = await broker({ blocklist: { threshold: 1 } });
    const seen: Array<{ name: string; data: unknown }> = [];
    const names = [
      'worker:status',
      'worker:schedule',
      'worker:queues',
      'worker:blocklisted',
      'worker:unblocked',
      'worker:disconnected',
    ] as const;
    for (const name of names)
      tb!.broker.events.on(name, (data: unknown) => void seen.push({ name, data }));
    const { id } = await worker({
      name: 'w',
      handlers: {
        t: async () => {
          throw new PermanentError('no');
        },
      },
    });
    await status(base, id, { status: 'asleep', when: 'after' });
    await status(base, id, { status: 'awake' });
    await api(base, 'PUT', `/api/v1/workers/${id}/sleep-schedule`, {
      days: ['sun'],
      start: '01:00',
      end: '02:00',
      timeZone: 'UTC',
      active: false,
    });
    await api(base, 'PUT', `/api/v1/workers/${id}/queues`, { queues: ['default', 'q2'] });
    const job = await submit(base, { type: 't' });
    await waitJob(base, job.id);
    await until(() => seen.some((e) => e.name === 'worker:blocklisted'), 10_000, 'blocklisted');
    await api(base, 'DELETE', `/api/v1/workers/${id}/blocklist/t`);
    await api(base, 'POST', `/api/v1/workers/${id}/disconnect`);
    await until(() => seen.some((e) => e.name === 'worker:disconnected'), 10_000, 'disconnected');
    expect(seen.map((e) => e.name)).toEqual([
      'worker:status',
      'worker:status',
      'worker:schedule',
      'worker:queues',
      'worker:blocklisted',
      'worker:unblocked',
      'worker:disconnected',
    ]);
    expect(seen[0]!.data).toEqual({ id, status: 'asleep', when: 'after', by: 'operator' });
    expect(seen[3]!.data).toEqual({ id, queues: ['default', 'q2'], types: ['t'] });
    expect(seen[4]!.data).toEqual({ id, queue: 'default', type: 't', failures: 1 });
    expect(seen[5]!.data).toEqual({ id, queue: 'default', type: 't' });
    expect(seen[6]!.data).toEqual({ id, by: 'operator' });
  });
});

describe('the SDK', () => {
  it('puts a worker under control', async () => {
    const base = await broker({ blocklist: { threshold: 1 } });
    const client = new Client({ url: base });
    const { id } = await worker({
      name: 'w',
      handlers: {
        t: async () => {
          throw new PermanentError('no');
        },
        u: async () => 'ok',
      },
    });
    expect((await client.worker(id)).name).toBe('w');
    expect((await client.setWorkerStatus(id, 'asleep', 'after')).status).toBe('asleep');
    expect((await client.setWorkerStatus(id, 'awake')).status).toBe('awake');
    const scheduled = await client.setWorkerSleepSchedule(id, {
      days: ['mon'],
      start: '01:00',
      end: '02:00',
      timeZone: 'UTC',
    });
    expect(scheduled.schedule).toMatchObject({ days: ['mon'], active: true });
    expect((await client.setWorkerSleepSchedule(id, null)).schedule).toBeNull();
    expect((await client.attachWorkerQueues(id, { queues: ['x'] })).queues).toEqual([
      'default',
      'x',
    ]);
    expect((await client.detachWorkerQueues(id, { types: ['u'] })).types).toEqual(['t']);
    await expect(client.setWorkerQueues(id, { types: ['zzz'] })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    const failed = await client.submit({ type: 't' });
    expect((await client.wait(failed.id, { timeoutMs: 10_000 })).state).toBe('failed');
    await until(async () => ((await client.worker(id)).blocklist ?? []).length === 1);
    const { cleared } = await client.unblockWorker(id, 't', 'default');
    expect(cleared).toMatchObject([{ queue: 'default', type: 't', failures: 1 }]);
    expect((await client.workerUsage(id)).resolution).toBe('fine');
    await client.disconnectWorker(id);
    await expect(client.worker('w_nobody')).rejects.toMatchObject({ code: 'not_found' });
  });
});
