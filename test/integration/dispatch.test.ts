/**
 * Dispatch through a real broker and real WebSocket workers (SDK workers in this process):
 * matching, routing, priority, the queue managers, retries, request failures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  InfrastructureError,
  PermanentError,
  Worker,
  type Handler,
} from '../../src/worker/index.js';
import { startTestBroker, type ConfigOverrides, type TestBroker } from '../helpers/broker.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';

let tb: TestBroker | undefined;
let workers: Worker[] = [];
afterEach(async () => {
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
  labels?: Record<string, string | string[]>;
  queues?: string[];
  slots?: number;
  prefetch?: number;
  handlers: Record<string, Handler>;
}): Promise<Worker> {
  const w = new Worker({ brokers: [tb!.broker.workersUrl], ...options });
  workers.push(w);
  await w.start();
  return w;
}

const noop: Handler = async () => 'ok';

describe('matching through the broker', () => {
  it('sends each job only to a worker that satisfies every rule', async () => {
    const base = await broker();
    const ran = new Map<string, string>();
    const record =
      (name: string): Handler =>
      async (job) => {
        ran.set(job.id, name);
        return null;
      };
    await worker({
      name: 'c4',
      labels: { env: ['c', 'python'], threads: '4', hwgroup: 'gpu1' },
      handlers: { t: record('c4') },
    });
    await worker({
      name: 'py8',
      labels: { env: 'python', threads: '8', hwgroup: 'cpu' },
      handlers: { t: record('py8') },
    });
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ env: 'c' }, ['c4']],
      [{ env: 'python', threads: '6' }, ['py8']],
      [{ threads: '4', hwgroup: 'gpu1|cpu', env: 'c' }, ['c4']],
      [{ hwgroup: 'cpu|other' }, ['py8']],
      [{ env: 'python', 'meta.owner': 'bob' }, ['c4', 'py8']],
      [{}, ['c4', 'py8']],
    ];
    for (const [requires, allowed] of cases) {
      const job = await submit(base, { type: 't', requires });
      const done = await waitJob(base, job.id);
      expect(done.state).toBe('succeeded');
      expect(allowed, JSON.stringify(requires)).toContain(ran.get(job.id));
    }
  });

  it('keeps an unmatchable job queued and says no worker matches', async () => {
    const base = await broker();
    await worker({ name: 'a', labels: { env: 'c' }, handlers: { t: noop } });
    const cases = [
      { type: 't', requires: { env: 'java' } },
      { type: 't', requires: { threads: '2' } },
      { type: 't', requires: { gpu: 'yes' } },
      { type: 'other' },
      { type: 't', queue: 'elsewhere' },
    ];
    for (const c of cases) {
      const job = await submit(base, c);
      await new Promise((r) => setTimeout(r, 50));
      const now = await getJob(base, job.id);
      expect(now.state).toBe('queued');
      expect(now.reason).toMatch(/no worker matches/);
    }
  });

  it('rejects an unmatchable job with reject_unmatchable, listing its requirements', async () => {
    const base = await broker({ rejectUnmatchable: true });
    await worker({ name: 'a', labels: { env: 'c' }, handlers: { t: noop } });
    const r = await api(base, 'POST', '/api/v1/jobs', { type: 't', requires: { env: 'java' } });
    expect(r.status).toBe(422);
    expect(r.json.error?.code).toBe('unmatchable');
    expect(r.json.error?.message).toContain('env=java');
    expect(
      (await api(base, 'POST', '/api/v1/jobs', { type: 't', requires: { env: 'c' } })).status,
    ).toBe(201);
  });

  it('never sends meta.* requirements to workers', async () => {
    const base = await broker();
    let seen: Record<string, string> = {};
    await worker({
      name: 'a',
      handlers: { t: async (job) => ((seen = { ...job.requires }), null) },
    });
    const job = await submit(base, { type: 't', requires: { 'meta.user': 'bob' } });
    await waitJob(base, job.id);
    expect(seen).toEqual({});
    expect((await getJob(base, job.id)).requires).toEqual({ 'meta.user': 'bob' });
  });
});

describe('ordering and assignment', () => {
  it('gives a new job at once to an idle capable worker', async () => {
    const base = await broker();
    let started = 0;
    await worker({ name: 'a', handlers: { t: async () => ((started = Date.now()), null) } });
    const t0 = Date.now();
    const job = await submit(base, { type: 't' });
    await waitJob(base, job.id);
    expect(started - t0).toBeLessThan(500);
  });

  it('runs higher priority first, then oldest first', async () => {
    const base = await broker();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await worker({
      name: 'a',
      slots: 1,
      handlers: {
        block: () => gate.then(() => null),
        t: async (job) => (order.push((job.payload as { n: string }).n), null),
      },
    });
    const blocker = await submit(base, { type: 'block' });
    await waitJob(base, blocker.id, (j) => j.state === 'running');
    for (const [n, priority] of [
      ['low-old', 0],
      ['high', 5],
      ['low-new', 0],
      ['mid', 2],
      ['high-new', 5],
    ] as const) {
      await submit(base, { type: 't', priority, payload: { n } });
    }
    release();
    await until(() => order.length === 5);
    expect(order).toEqual(['high', 'high-new', 'mid', 'low-old', 'low-new']);
  });

  it('jobs a worker cannot run do not block the ones it can (single)', async () => {
    const base = await broker();
    await worker({ name: 'a', labels: { env: 'c' }, slots: 1, handlers: { t: noop } });
    const stuck = await submit(base, { type: 't', requires: { env: 'java' } });
    const fine = await submit(base, { type: 't', requires: { env: 'c' } });
    expect((await waitJob(base, fine.id)).state).toBe('succeeded');
    expect((await getJob(base, stuck.id)).state).toBe('queued');
  });

  it('single hands a job to whichever worker frees first; multi keeps it in the worker queue it was given', async () => {
    for (const queueManager of ['single', 'multi'] as const) {
      const base = await broker({ queueManager });
      const ranOn = new Map<string, string>();
      const handler =
        (name: string): Handler =>
        async (job) => {
          ranOn.set((job.payload as { n: string }).n, name);
          await new Promise((r) => setTimeout(r, (job.payload as { ms: number }).ms));
          return null;
        };
      await worker({ name: 'A', slots: 1, handlers: { t: handler('A') } });
      await worker({ name: 'B', slots: 1, handlers: { t: handler('B') } });
      // Round robin starting anywhere: find who got the slow one, then queue two more.
      const jobs = [];
      jobs.push(await submit(base, { type: 't', payload: { n: 'j1', ms: 1500 } }));
      jobs.push(await submit(base, { type: 't', payload: { n: 'j2', ms: 20 } }));
      jobs.push(await submit(base, { type: 't', payload: { n: 'j3', ms: 20 } }));
      jobs.push(await submit(base, { type: 't', payload: { n: 'j4', ms: 20 } }));
      for (const j of jobs) await waitJob(base, j.id);
      const slow = ranOn.get('j1');
      const onSlow = ['j2', 'j3', 'j4'].filter((n) => ranOn.get(n) === slow);
      if (queueManager === 'single') {
        // The fast worker takes everything else while the slow one is busy.
        expect(onSlow).toEqual([]);
      } else {
        // multi bound j3 to the slow worker's own queue at submission; it waited there.
        expect(onSlow).toEqual(['j3']);
      }
      await Promise.all(workers.map((w) => w.close()));
      workers = [];
      await tb!.close();
      tb = undefined;
    }
  });
});

describe('why a queued job waits', () => {
  it('names the busy worker whose own queue a job waits in (multi), or the slots (single)', async () => {
    for (const queueManager of ['single', 'multi'] as const) {
      const base = await broker({ queueManager });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await worker({ name: 'busy', slots: 1, handlers: { t: async () => held } });
      const first = await submit(base, { type: 't' });
      await waitJob(base, first.id, (j) => j.state === 'running');
      const second = await submit(base, { type: 't' });
      const reason = (await getJob(base, second.id)).reason;
      expect(reason).toBe(
        queueManager === 'multi'
          ? 'waiting in the queue of worker busy (queue_manager multi), which has no free slot'
          : 'waiting for a free slot on one of 1 matching worker(s)',
      );
      release();
      await waitJob(base, second.id);
      await Promise.all(workers.map((w) => w.close()));
      workers = [];
      await tb!.close();
      tb = undefined;
    }
  });
});

describe('outcomes', () => {
  it('retries a retryable failure with back-off until maxAttempts, then fails, recording every attempt', async () => {
    const base = await broker({ retry: { baseMs: 100, factor: 2, maxMs: 10_000, jitter: 0 } });
    await worker({
      name: 'a',
      handlers: {
        t: async () => {
          throw new Error('boom');
        },
      },
    });
    const job = await submit(base, { type: 't', maxAttempts: 3 });
    const done = await waitJob(base, job.id);
    expect(done.state).toBe('failed');
    expect(done.attempt).toBe(3);
    expect(done.error?.message).toContain('boom');
    expect(done.error?.message).toContain('no attempts left');
    expect(done.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed']);
    const gaps = done.attempts
      .slice(1)
      .map((a, i) => Date.parse(a.startedAt) - Date.parse(done.attempts[i]!.finishedAt));
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
  });

  it('fails a permanent failure at once', async () => {
    const base = await broker();
    await worker({
      name: 'a',
      handlers: {
        t: async () => {
          throw new PermanentError('bad input');
        },
      },
    });
    const job = await submit(base, { type: 't', maxAttempts: 5 });
    const done = await waitJob(base, job.id);
    expect(done.state).toBe('failed');
    expect(done.attempt).toBe(1);
    expect(done.error?.message).toBe('bad input');
  });

  it('fails a job at max_request_failures with a message naming the count and the last error', async () => {
    const base = await broker({ maxRequestFailures: 3 });
    await worker({
      name: 'a',
      handlers: {
        t: async () => {
          throw new InfrastructureError('disk vanished');
        },
      },
    });
    const job = await submit(base, { type: 't' });
    const done = await waitJob(base, job.id);
    expect(done.state).toBe('failed');
    expect(done.requestFailures).toBe(3);
    expect(done.error?.code).toBe('max_request_failures');
    expect(done.error?.message).toMatch(/3 times/);
    expect(done.error?.message).toContain('disk vanished');
    expect(done.attempts.map((a) => a.outcome)).toEqual(['aborted', 'aborted', 'aborted']);
  });

  it('retries an infrastructure failure on another worker when one is free', async () => {
    const base = await broker();
    await worker({
      name: 'broken',
      slots: 1,
      handlers: {
        t: async () => {
          throw new InfrastructureError('cannot spawn');
        },
      },
    });
    await worker({ name: 'good', slots: 1, handlers: { t: noop } });
    for (let i = 0; i < 5; i++) {
      const job = await submit(base, { type: 't' });
      const done = await waitJob(base, job.id);
      expect(done.state).toBe('succeeded');
      expect(done.workerName).toBe('good');
      expect(done.requestFailures).toBeLessThanOrEqual(1);
    }
  });

  it('records progress, attributes and the result of a handler', async () => {
    const base = await broker();
    await worker({
      name: 'a',
      handlers: {
        t: async (job) => {
          job.progress(40, 'compiling');
          job.attr('endpoint', 'host:4711');
          return { answer: 42 };
        },
      },
    });
    const job = await submit(base, { type: 't' });
    const done = await waitJob(base, job.id);
    expect(done.result).toEqual({ answer: 42 });
    expect(done.progress).toMatchObject({ percent: 40, message: 'compiling' });
    expect(done.attributes).toEqual({ endpoint: 'host:4711' });
  });

  it('cancels a running job: the handler is aborted and the job ends canceled', async () => {
    const base = await broker();
    let aborted = false;
    await worker({
      name: 'a',
      handlers: {
        t: (job) =>
          new Promise((_, reject) => {
            job.signal.addEventListener('abort', () => {
              aborted = true;
              reject(job.signal.reason as Error);
            });
          }),
      },
    });
    const job = await submit(base, { type: 't' });
    await waitJob(base, job.id, (j) => j.state === 'running');
    const c = await api(base, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(c.status).toBe(200);
    expect(c.json.state).toBe('canceled');
    await until(() => aborted, 5000, 'the handler to be aborted');
    const done = await getJob(base, job.id);
    expect(done.state).toBe('canceled');
    expect(done.attempts.at(-1)?.outcome).toBe('canceled');
  });
});

describe('prefetch', () => {
  it('gives a worker up to its slots plus its prefetch, and the rest as slots free', async () => {
    const base = await broker();
    const releases: Array<() => void> = [];
    const started: string[] = [];
    const w = await worker({
      name: 'prefetcher',
      slots: 1,
      prefetch: 2,
      handlers: {
        hold: (job) =>
          new Promise((resolve) => {
            started.push(job.id);
            releases.push(() => resolve(null));
          }),
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit(base, { type: 'hold', payload: null })).id);
    await until(async () => w.runningJobs().length === 3, 5_000, 'three jobs at the worker');
    const running = await api<{ jobs: Array<{ id: string }> }>(
      base,
      'GET',
      '/api/v1/jobs?state=running&order=asc',
    );
    expect(running.json.jobs.map((j) => j.id)).toEqual(ids.slice(0, 3));
    expect(started).toEqual([ids[0]]);
    const stats = await api<{ freeSlots: number; slots: number }>(base, 'GET', '/api/v1/stats');
    expect(stats.json).toMatchObject({ slots: 1, freeSlots: 0 });

    // Each end frees a place: the remaining jobs flow through one at a time, in order.
    for (let i = 0; i < 5; i++) {
      await until(async () => started.length === i + 1, 5_000, `job ${i + 1} to start`);
      releases[i]!();
    }
    for (const id of ids) await waitJob(base, id, (j) => j.state === 'succeeded');
    expect(started).toEqual(ids);
  });
});
