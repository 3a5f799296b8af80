/**
 * The SDK worker across connections and at its end: results survive reconnects until acked,
 * abandoned jobs stop, drain and close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Hello } from '../../src/protocol/worker.js';
import { Worker, type Handler, type WorkerOptions } from '../../src/worker/index.js';
import {
  FAKE_SECRET,
  FakeBroker,
  deferred,
  job,
  type FakeBrokerOptions,
} from './worker-fake-broker.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  worker: Partial<WorkerOptions> = {},
  brokerOptions: FakeBrokerOptions = {},
): Promise<{ broker: FakeBroker; worker: Worker }> {
  const broker = await FakeBroker.start(brokerOptions);
  cleanups.push(async () => {
    await broker.close();
    expect(broker.invalid).toEqual([]);
  });
  const w = new Worker({ brokers: broker.url, handlers: { noop: async () => null }, ...worker });
  cleanups.push(() => w.close());
  await w.start();
  return { broker, worker: w };
}

const untilAborted: Handler = (ctx) =>
  new Promise((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
  });

describe('worker: reconnects', () => {
  it('re-sends unacked results after a reconnect, and names the jobs it still runs in hello', async () => {
    const release = deferred();
    const { broker, worker } = await setup(
      {
        slots: 2,
        handlers: {
          quick: async () => 'first',
          held: async () => (await release.promise, 'second'),
        },
      },
      { autoAck: false },
    );
    broker.assign(job('1', 'quick'), job('2', 'held'));
    await broker.waitFor('done', (m) => m.jobId === '1');
    const disconnected = new Promise((resolve) => worker.once('disconnected', resolve));
    const sent = broker.messages.length;
    broker.drop();
    await disconnected;
    const hello = await broker.waitFor('hello', () => true, sent);
    // It proves it is the worker it was welcomed as.
    expect(hello.workerId).toBe('worker-1');
    expect(hello.secret).toBe(FAKE_SECRET);
    expect(hello.running).toEqual([
      { jobId: '2', attempt: 1 },
      { jobId: '1', attempt: 1 },
    ]);
    const resent = await broker.waitFor('done', (m) => m.jobId === '1', sent);
    expect(resent.result).toBe('first');
    // Acked now: not sent a third time after the next reconnect.
    broker.send({ type: 'ack', results: [{ jobId: '1', attempt: 1 }] });
    release.resolve();
    await broker.waitFor('done', (m) => m.jobId === '2');
    const again = broker.messages.length;
    broker.send({ type: 'ack', results: [{ jobId: '2', attempt: 1 }] });
    broker.drop();
    const last = await broker.waitFor('hello', () => true, again);
    expect(last.running).toEqual([]);
  });

  it('keeps the result of a job that ends while disconnected until it can deliver it', async () => {
    const release = deferred();
    let welcomeNext = true;
    const { broker, worker } = await setup(
      { handlers: { held: async () => (await release.promise, 'late') } },
      {
        onHello: (hello: Hello, b) => (welcomeNext ? [b.welcome(hello)] : undefined),
      },
    );
    broker.assign(job('3', 'held'));
    await new Promise((resolve) => worker.once('job:start', resolve));
    welcomeNext = false;
    const sent = broker.messages.length;
    broker.drop();
    await broker.waitFor('hello', () => true, sent);
    release.resolve();
    await new Promise((resolve) => worker.once('job:done', resolve));
    welcomeNext = true;
    broker.drop();
    const hello = await broker.waitFor('hello', () => true, broker.messages.length);
    expect(hello.running).toEqual([{ jobId: '3', attempt: 1 }]);
    expect((await broker.waitFor('done', () => true, sent)).result).toBe('late');
  });

  it('stops the jobs the welcome lists as abandoned, and reports nothing for them', async () => {
    let abandon = false;
    let reason: unknown;
    const { broker, worker } = await setup(
      {
        slots: 2,
        handlers: {
          wait: (ctx) => {
            ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason));
            return untilAborted(ctx);
          },
          noop: async () => null,
        },
      },
      { onHello: (hello: Hello, b) => [b.welcome(hello, abandon ? ['4'] : [])] },
    );
    broker.assign(job('4', 'wait'));
    await new Promise((resolve) => worker.once('job:start', resolve));
    abandon = true;
    const sent = broker.messages.length;
    broker.drop();
    await new Promise((resolve) => worker.once('connected', resolve));
    broker.assign(job('5', 'noop'));
    await broker.waitFor('done', (m) => m.jobId === '5', sent);
    expect(reason).toMatchObject({ kind: 'abandoned' });
    expect(worker.runningJobs()).toEqual([]);
    const about4 = broker.messages.slice(sent).filter((m) => 'jobId' in m && m.jobId === '4');
    expect(about4).toEqual([]);
  });

  it('answers an assign of a job it finished but that is not acked with the result again', async () => {
    let calls = 0;
    const { broker } = await setup({ handlers: { once: async () => ++calls } }, { autoAck: false });
    broker.assign(job('6', 'once'));
    await broker.waitFor('done');
    const sent = broker.messages.length;
    broker.assign(job('6', 'once'));
    expect((await broker.waitFor('done', () => true, sent)).result).toBe(1);
    expect(calls).toBe(1);
  });
});

describe('worker: drain and close', () => {
  it('drain stops accepting, waits for running jobs, delivers their results, then closes', async () => {
    const release = deferred();
    const { broker, worker } = await setup({
      handlers: { held: async () => (await release.promise, 'finished') },
    });
    broker.assign(job('1', 'held'));
    await new Promise((resolve) => worker.once('job:start', resolve));
    let drained = false;
    const draining = worker.drain(5_000).then(() => (drained = true));
    await broker.waitFor('status', (m) => !m.accepting);
    broker.assign(job('2', 'held'));
    expect(await broker.waitFor('fail', (m) => m.jobId === '2')).toMatchObject({
      error: { code: 'not_accepting' },
    });
    expect(drained).toBe(false);
    release.resolve();
    await draining;
    expect((await broker.waitFor('done', (m) => m.jobId === '1')).result).toBe('finished');
    await broker.until(() => (broker.connected ? undefined : true), 'the worker to disconnect');
  });

  it('drain stops what is still running at its timeout, as infrastructure failures', async () => {
    const { broker, worker } = await setup({ handlers: { wait: untilAborted } });
    broker.assign(job('1', 'wait'));
    await new Promise((resolve) => worker.once('job:start', resolve));
    const t0 = Date.now();
    await worker.drain(100);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect(await broker.waitFor('fail')).toMatchObject({
      jobId: '1',
      error: { code: 'worker_shutdown' },
      retryable: true,
      infrastructure: true,
    });
  });

  it('drains and closes when the broker says drain', async () => {
    const { broker, worker } = await setup();
    const closed = new Promise<void>((resolve) => worker.once('closed', resolve));
    broker.send({ type: 'status', status: 'drain' });
    await broker.waitFor('status', (m) => !m.accepting);
    await closed;
  });

  it('close stops running jobs at once and reports them as infrastructure failures', async () => {
    let reason: unknown;
    const { broker, worker } = await setup({
      handlers: {
        wait: (ctx) => {
          ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason));
          return untilAborted(ctx);
        },
      },
    });
    broker.assign(job('1', 'wait', { killSignal: 'SIGINT', killGraceMs: 50 }));
    await new Promise((resolve) => worker.once('job:start', resolve));
    await worker.close();
    expect(reason).toMatchObject({ kind: 'shutdown', signal: 'SIGINT', graceMs: 50 });
    expect(await broker.waitFor('fail')).toMatchObject({
      error: { code: 'worker_shutdown' },
      infrastructure: true,
    });
  });
});
