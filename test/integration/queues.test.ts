/**
 * Queues under the operator's hand, through a real broker and real WebSocket workers: pause
 * and resume, fair queueing between groups, a rate limit, a queue's concurrency and named
 * limits (a blocked job blocks no other), the listing, deletion, and a queued job's ETA.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Worker, type Handler } from '../../src/worker/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../../src/main/index.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store, StoreTx } from '../../src/store/store.js';
import { startTestBroker, testConfig, testLogger, type TestBroker } from '../helpers/broker.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import type { JobBody } from '../../src/protocol/api.js';

let tb: TestBroker | undefined;
let workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await tb?.close();
  tb = undefined;
});

async function broker(): Promise<string> {
  tb = await startTestBroker();
  return tb.broker.clientsUrl;
}

async function worker(queues: string[], slots: number, handler: Handler): Promise<Worker> {
  const w = new Worker({
    brokers: [tb!.broker.workersUrl],
    name: `w${workers.length}`,
    queues,
    slots,
    handlers: { t: handler },
  });
  workers.push(w);
  await w.start();
  return w;
}

async function batch(base: string, jobs: Array<Record<string, unknown>>): Promise<JobBody[]> {
  const r = await api<{ jobs: JobBody[] }>(base, 'POST', '/api/v1/jobs/batch', { jobs });
  if (r.status !== 201) throw new Error(`batch answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json.jobs;
}

async function put(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await api(base, 'PUT', path, body);
  if (r.status !== 200)
    throw new Error(`PUT ${path} answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A handler that counts how many of its jobs run at once, and the most ever. */
function overlapCounter(ms: number) {
  const state = { now: 0, peak: 0, ran: 0 };
  const handler: Handler = async () => {
    state.now++;
    state.peak = Math.max(state.peak, state.now);
    await sleep(ms);
    state.now--;
    state.ran++;
    return null;
  };
  return { state, handler };
}

describe('queues under the operator’s hand', () => {
  it('pauses a queue (queued jobs wait, saying why; a running one finishes) and resumes it', async () => {
    const base = await broker();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await worker(['p'], 4, async (job) => {
      if ((job.payload as { wait?: boolean }).wait) await gate;
      return null;
    });
    const long = await submit(base, { type: 't', queue: 'p', payload: { wait: true } });
    await waitJob(base, long.id, (j) => j.state === 'running');
    const paused = await api(base, 'POST', '/api/v1/queues/p/pause');
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ name: 'p', paused: true });
    const jobs = await Promise.all([1, 2, 3].map(() => submit(base, { type: 't', queue: 'p' })));
    release();
    expect((await waitJob(base, long.id)).state).toBe('succeeded');
    await sleep(400);
    for (const j of jobs) {
      const now = await getJob(base, j.id);
      expect(now.state).toBe('queued');
      expect(now.reason).toBe('queue p is paused');
    }
    const listed = await api<{
      queues: Array<{ name: string; paused: boolean; counts: Record<string, number> }>;
    }>(base, 'GET', '/api/v1/queues');
    expect(listed.json.queues.find((q) => q.name === 'p')).toMatchObject({
      paused: true,
      counts: { queued: 3, succeeded: 1 },
    });
    expect((await api(base, 'POST', '/api/v1/queues/p/resume')).status).toBe(200);
    for (const j of jobs) expect((await waitJob(base, j.id)).state).toBe('succeeded');
  });

  it('fair: ten jobs of group B submitted behind 10,000 of group A all start among the first few dozen', async () => {
    const base = await broker();
    await put(base, '/api/v1/queues/f', { discipline: 'fair' });
    for (let i = 0; i < 10; i++) {
      await batch(
        base,
        Array.from({ length: 1_000 }, () => ({ type: 't', queue: 'f', group: 'A' })),
      );
    }
    const b = await batch(
      base,
      Array.from({ length: 10 }, () => ({ type: 't', queue: 'f', group: 'B' })),
    );
    const order: string[] = [];
    await worker(['f'], 1, async (job) => {
      order.push(job.id);
      return null;
    });
    await until(() => order.length >= 60, 30_000, 'sixty dispatches');
    const bIds = new Set(b.map((j) => j.id));
    const positions = order.map((id, i) => (bIds.has(id) ? i : -1)).filter((i) => i >= 0);
    expect(positions).toHaveLength(10);
    // Alternating A and B from the start: B's tenth is about the twentieth start.
    expect(Math.max(...positions)).toBeLessThan(30);
  });

  it('fifo ignores priority; priority (the default) does not', async () => {
    const base = await broker();
    await put(base, '/api/v1/queues/o', { discipline: 'fifo' });
    const jobs = await batch(base, [
      { type: 't', queue: 'o', priority: 0 },
      { type: 't', queue: 'o', priority: 10 },
      { type: 't', queue: 'pr', priority: 0 },
      { type: 't', queue: 'pr', priority: 10 },
    ]);
    const order: string[] = [];
    await worker(['o', 'pr'], 1, async (job) => {
      order.push(job.id);
      return null;
    });
    await until(() => order.length === 4, 10_000, 'four jobs');
    const o = order.filter((id) => id === jobs[0]!.id || id === jobs[1]!.id);
    const pr = order.filter((id) => id === jobs[2]!.id || id === jobs[3]!.id);
    expect(o).toEqual([jobs[0]!.id, jobs[1]!.id]);
    expect(pr).toEqual([jobs[3]!.id, jobs[2]!.id]);
  });

  it('holds a rate limit of 50 per second within 10% over 5 s', async () => {
    const base = await broker();
    // A small burst absorbs the jitter of timers on a busy machine; the rate is what is measured.
    await put(base, '/api/v1/queues/r', { rate: 50, burst: 5 });
    await batch(
      base,
      Array.from({ length: 600 }, () => ({ type: 't', queue: 'r' })),
    );
    const starts: number[] = [];
    await worker(['r'], 50, async () => {
      starts.push(Date.now());
      return null;
    });
    await until(() => starts.length > 0, 10_000, 'a first start');
    const t0 = starts[0]!;
    await sleep(6_000);
    const inWindow = starts.filter((t) => t >= t0 + 500 && t < t0 + 5_500).length;
    expect(inWindow).toBeGreaterThanOrEqual(225);
    expect(inWindow).toBeLessThanOrEqual(275);
  });

  it('a queue at its concurrency limit runs that many at once, and other queues go on', async () => {
    const base = await broker();
    await put(base, '/api/v1/queues/c', { concurrency: 2 });
    const limited = overlapCounter(100);
    const free = overlapCounter(100);
    const w = new Worker({
      brokers: [tb!.broker.workersUrl],
      name: 'both',
      queues: ['c', 'other'],
      slots: 8,
      handlers: { t: limited.handler, u: free.handler },
    });
    workers.push(w);
    await w.start();
    const jobs = await batch(base, [
      ...Array.from({ length: 10 }, () => ({ type: 't', queue: 'c' })),
      ...Array.from({ length: 10 }, () => ({ type: 'u', queue: 'other' })),
    ]);
    await until(() => limited.state.now === 2, 10_000, 'two running');
    const waiting = jobs.slice(0, 10).map((j) => j.id);
    let seen = '';
    await until(
      async () => {
        for (const id of waiting) {
          const j = await getJob(base, id);
          if (j.state === 'queued' && j.reason !== undefined) seen = j.reason;
        }
        return seen !== '';
      },
      10_000,
      'a queued job of c with a reason',
    );
    expect(seen).toMatch(/queue c is at its concurrency limit \(2 running, at most 2\)/);
    for (const j of jobs) await waitJob(base, j.id);
    expect(limited.state.peak).toBe(2);
    expect(free.state.peak).toBeGreaterThan(2);
  });

  it('named limits: never more than the total, the blocked job says why, and blocks no other job', async () => {
    const base = await broker();
    expect((await put(base, '/api/v1/limits/lic', { max: 3 })).max).toBe(3);
    const lic = overlapCounter(150);
    const plainRuns: number[] = [];
    const w = new Worker({
      brokers: [tb!.broker.workersUrl],
      name: 'lw',
      queues: ['default'],
      slots: 10,
      handlers: {
        t: lic.handler,
        p: async () => {
          plainRuns.push(lic.state.now);
          return null;
        },
      },
    });
    workers.push(w);
    await w.start();
    const two = await batch(
      base,
      Array.from({ length: 6 }, () => ({ type: 't', limits: ['lic:2'] })),
    );
    const ones = await batch(
      base,
      Array.from({ length: 6 }, () => ({ type: 't', limits: ['lic'] })),
    );
    await until(() => lic.state.now > 0, 10_000, 'a licensed job to run');
    // While licensed jobs hold the limit, plain jobs of the same queue run at once.
    const plain = await batch(
      base,
      Array.from({ length: 5 }, () => ({ type: 'p' })),
    );
    for (const j of plain) expect((await waitJob(base, j.id)).state).toBe('succeeded');
    expect(plainRuns.some((n) => n > 0)).toBe(true);
    const limits = await api<{ limits: Array<{ name: string; max: number; used: number }> }>(
      base,
      'GET',
      '/api/v1/limits',
    );
    expect(limits.json.limits.find((l) => l.name === 'lic')).toMatchObject({ max: 3 });
    let reason = '';
    await until(
      async () => {
        for (const j of [...two, ...ones]) {
          const now = await getJob(base, j.id);
          if (now.state === 'queued' && now.reason?.startsWith('limit lic is full'))
            reason = now.reason;
        }
        return reason !== '';
      },
      10_000,
      'a queued job blocked by the limit',
    );
    expect(reason).toMatch(/^limit lic is full \(\d of 3 in use; this job takes [12]\)$/);
    for (const j of [...two, ...ones]) expect((await waitJob(base, j.id)).state).toBe('succeeded');
    expect((await getJob(base, two[0]!.id)).limits).toEqual(['lic:2']);
    // Units: two 2-unit jobs never together, a 2-unit job with at most one 1-unit job.
    expect(lic.state.peak).toBeLessThanOrEqual(3);
    expect(lic.state.peak).toBeGreaterThanOrEqual(2);
  });

  it('a queue at its concurrency limit costs dispatch nothing while it stays there', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-gate-cost-'));
    const inner = SqliteStore.open({ path: join(dataDir, 'switchyard.db') });
    let gated = 0;
    // The real store, counting the gate locks the dispatcher takes.
    const store: Store = new Proxy(inner, {
      get(target, key, receiver) {
        if (key !== 'write') return Reflect.get(target, key, receiver) as unknown;
        return <T>(fn: (tx: StoreTx) => Promise<T>) =>
          target.write((tx) =>
            fn(
              new Proxy(tx, {
                get(t, k, r) {
                  if (k === 'gateLock') gated++;
                  return Reflect.get(t, k, r) as unknown;
                },
              }),
            ),
          );
      },
    });
    const broker = await startBroker({ config: testConfig(dataDir), logger: testLogger(), store });
    try {
      const base = broker.clientsUrl;
      await put(base, '/api/v1/queues/c', { concurrency: 1 });
      let release!: () => void;
      const hold = new Promise<void>((r) => (release = r));
      const w = new Worker({
        brokers: [broker.workersUrl],
        name: 'both',
        queues: ['c', 'default'],
        slots: 4,
        handlers: { t: () => hold.then(() => null), p: async () => null },
      });
      workers.push(w);
      await w.start();
      const limited = await batch(
        base,
        Array.from({ length: 20 }, () => ({ type: 't', queue: 'c' })),
      );
      await waitJob(base, limited[0]!.id, (j) => j.state === 'running');
      await sleep(200);
      const before = gated;
      // 300 plain jobs go through the same worker while queue c stays full.
      for (let k = 0; k < 6; k++) {
        const plain = await batch(
          base,
          Array.from({ length: 50 }, () => ({ type: 'p' })),
        );
        for (const j of plain) await waitJob(base, j.id);
      }
      // At most the maintenance's look every 5 s, not one per batch.
      expect(gated - before).toBeLessThanOrEqual(2);
      release();
      for (const j of limited) expect((await waitJob(base, j.id)).state).toBe('succeeded');
    } finally {
      await Promise.all(workers.map((x) => x.close()));
      workers = [];
      await broker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('sets the limit totals of its config at start', async () => {
    tb = await startTestBroker({ limits: { seats: 2 } });
    const got = await api<{ limits: Array<{ name: string; max: number }> }>(
      tb.broker.clientsUrl,
      'GET',
      '/api/v1/limits',
    );
    expect(got.json.limits).toEqual([{ name: 'seats', max: 2, used: 0 }]);
  });

  it('raising a limit starts the jobs it held back at once', async () => {
    const base = await broker();
    await put(base, '/api/v1/limits/db', { max: 0 });
    await worker(['default'], 2, async () => null);
    const job = await submit(base, { type: 't', limits: ['db'] });
    await sleep(300);
    expect((await getJob(base, job.id)).state).toBe('queued');
    await put(base, '/api/v1/limits/db', { max: 1 });
    expect((await waitJob(base, job.id, undefined, 5_000)).state).toBe('succeeded');
  });

  it('deletes a queue once it has no unended job, or with force cancelling them', async () => {
    const base = await broker();
    expect((await api(base, 'DELETE', '/api/v1/queues/none')).status).toBe(404);
    await put(base, '/api/v1/queues/d', { discipline: 'fifo' });
    const jobs = await batch(base, [
      { type: 't', queue: 'd' },
      { type: 't', queue: 'd' },
    ]);
    const refused = await api(base, 'DELETE', '/api/v1/queues/d');
    expect(refused.status).toBe(409);
    expect(refused.json.error?.message).toMatch(/has 2 job\(s\) that have not ended/);
    const forced = await api(base, 'DELETE', '/api/v1/queues/d?force=true');
    expect(forced.status).toBe(200);
    expect(forced.json).toEqual({ deleted: true, canceled: 2 });
    for (const j of jobs) expect((await getJob(base, j.id)).state).toBe('canceled');
    const after = await api<{ settings: { discipline: string } }>(base, 'GET', '/api/v1/queues/d');
    expect(after.json.settings.discipline).toBe('priority');
  });

  it('refuses bad settings and bad limits with the field named', async () => {
    const base = await broker();
    const burst = await api(base, 'PUT', '/api/v1/queues/x', { burst: 5 });
    expect(burst.status).toBe(400);
    expect(burst.json.error?.message).toBe('burst: needs a rate');
    const disc = await api(base, 'PUT', '/api/v1/queues/x', { discipline: 'random' });
    expect(disc.status).toBe(400);
    const bad = await api(base, 'POST', '/api/v1/jobs', { type: 't', limits: ['lic:0'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/limits\[0\]: "lic:0": units must be/);
    const twice = await api(base, 'POST', '/api/v1/jobs', { type: 't', limits: ['a', 'a:2'] });
    expect(twice.json.error?.message).toBe('limits[1]: limit "a" given twice');
    const group = await api(base, 'POST', '/api/v1/jobs', { type: 't', group: 'a\u0000b' });
    expect(group.status).toBe(400);
    const name = await api(base, 'PUT', '/api/v1/queues/a%20b', { rate: 1 });
    expect(name.status).toBe(400);
    expect(name.json.error?.message).toContain('must be 1-200 letters, digits');
    // A queue with a / in its name, as jobs may have: written %2F in the path.
    const slash = await api(base, 'PUT', '/api/v1/queues/team%2Fbuilds', { concurrency: 1 });
    expect(slash.status).toBe(200);
    expect(slash.json).toMatchObject({ name: 'team/builds', settings: { concurrency: 1 } });
  });

  it('lists rates in and out and the oldest wait; a queued job has an ETA', async () => {
    const base = await broker();
    await worker(['e'], 1, async () => {
      await sleep(50);
      return null;
    });
    const jobs = await batch(
      base,
      Array.from({ length: 40 }, () => ({ type: 't', queue: 'e' })),
    );
    await until(
      async () => (await getJob(base, jobs[10]!.id)).state === 'succeeded',
      15_000,
      'ten done',
    );
    const last = await getJob(base, jobs[39]!.id);
    expect(last.state).toBe('queued');
    expect(last.eta).toBeDefined();
    expect(last.eta!.ahead).toBeGreaterThan(15);
    expect(last.eta!.rate).toBeGreaterThan(0);
    const at = Date.parse(last.eta!.at!);
    // ~28 more starts at ~20/s (50 ms jobs): about a second and a half ahead, loosely.
    expect(at).toBeGreaterThan(Date.now());
    expect(at).toBeLessThan(Date.now() + 60_000);
    const q = await api<{
      rates: { in: Record<string, number>; out: Record<string, number> };
      oldestWait: number;
    }>(base, 'GET', '/api/v1/queues/e');
    expect(q.json.rates.in['1m']).toBeCloseTo(40 / 60, 5);
    expect(q.json.rates.out['1m']).toBeGreaterThan(0);
    expect(q.json.oldestWait).toBeGreaterThan(0);
  });
});
