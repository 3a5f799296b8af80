/**
 * The SDK worker against a fake broker: what it says, and how it runs and reports jobs.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/domain/errors.js';
import { PROTOCOL_VERSION, type FailMsg } from '../../src/protocol/worker.js';
import {
  InfrastructureError,
  JobAborted,
  PermanentError,
  RetryableError,
  Worker,
  type Handler,
  type WorkerOptions,
} from '../../src/worker/index.js';
import { FakeBroker, deferred, job, type FakeBrokerOptions } from './worker-fake-broker.js';
import { until } from '../helpers/http.js';

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

/** Waits for a signal to abort and rejects with its reason, as a well-behaved handler does. */
const untilAborted: Handler = (ctx) =>
  new Promise((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
  });

describe('worker: handshake and heartbeats', () => {
  it('stays with a broker that answers its pings, though idle it pings and beats every other interval', async () => {
    // maxLiveness 6: three chances within the window means every 2nd interval.
    const { broker } = await setup({}, { pingIntervalMs: 40, maxLiveness: 6 });
    await new Promise((r) => setTimeout(r, 800));
    expect(broker.connections).toBe(1);
    const beats = broker.messages.filter((m) => m.type === 'heartbeat').length;
    // At most 20 intervals passed: a heartbeat at each would be about 20.
    expect(beats).toBeGreaterThanOrEqual(4);
    expect(beats).toBeLessThanOrEqual(12);
  });

  it('beats at every interval while it runs a job, with the job in the heartbeat', async () => {
    const { broker } = await setup(
      { handlers: { hold: untilAborted } },
      { pingIntervalMs: 20, maxLiveness: 10 },
    );
    broker.assign(job('1', 'hold'));
    await broker.until(
      () => broker.messages.find((m) => m.type === 'heartbeat' && (m.jobs?.length ?? 0) > 0),
      'a heartbeat with the job',
    );
    const from = broker.messages.length;
    await new Promise((r) => setTimeout(r, 400));
    const beats = broker.messages
      .slice(from)
      .filter((m) => m.type === 'heartbeat' && m.jobs?.[0]?.jobId === '1');
    // 20 intervals passed; idle (every 3rd interval with maxLiveness 10) would give at most 7.
    expect(beats.length).toBeGreaterThanOrEqual(10);
  });

  it('leaves a broker that stops answering within the liveness window, and connects again', async () => {
    const { broker } = await setup({}, { pingIntervalMs: 40, maxLiveness: 6, autoPong: false });
    const started = Date.now();
    await until(() => broker.connections >= 2, 5_000);
    // Silent for 6 × 40 ms, noticed at the next heartbeat, then a reconnect back-off.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('says hello with its name, labels, types, queues, slots, version and token', async () => {
    const { broker } = await setup({
      name: 'w-test',
      labels: { env: ['c', 'python', 'c'], threads: '4' },
      queues: ['default', 'gpu'],
      slots: 3,
      token: 't0ken',
      handlers: { a: async () => 1, b: async () => 2 },
    });
    expect(broker.hellos).toEqual([
      {
        type: 'hello',
        name: 'w-test',
        labels: { env: ['c', 'python'], threads: ['4'] },
        types: ['a', 'b'],
        queues: ['default', 'gpu'],
        slots: 3,
        version: PROTOCOL_VERSION,
        token: 't0ken',
        running: [],
        accepting: true,
      },
    ]);
  });

  it('sends heartbeats with host CPU and memory at the interval the welcome gives', async () => {
    const { broker } = await setup({}, { pingIntervalMs: 20 });
    const t0 = Date.now();
    const second = await broker.until(
      () => broker.messages.filter((m) => m.type === 'heartbeat')[1],
      'two heartbeats',
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(30);
    if (second.type !== 'heartbeat') throw new Error('unreachable');
    expect(second.cpu).toBeGreaterThanOrEqual(0);
    expect(second.cpu).toBeLessThanOrEqual(1);
    expect(second.memory?.rss).toBeGreaterThan(0);
    expect(second.memory?.total).toBeGreaterThan(0);
    expect(second.jobs).toEqual([]);
  });

  it('rejects start() with the broker’s reason when the broker refuses it', async () => {
    const broker = await FakeBroker.start({
      onHello: () => [
        { type: 'error', code: 'unauthorized', message: 'bad worker token', fatal: true },
      ],
    });
    cleanups.push(() => broker.close());
    const worker = new Worker({
      brokers: broker.url,
      token: 'wrong',
      handlers: { a: async () => 1 },
    });
    cleanups.push(() => worker.close());
    const error = await worker.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwitchyardError);
    expect((error as SwitchyardError).code).toBe('unauthorized');
    expect((error as SwitchyardError).message).toContain('bad worker token');
  });

  it('fails over to the next broker URL when the first refuses connections', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const broker = await FakeBroker.start();
    cleanups.push(() => broker.close());
    const worker = new Worker({
      brokers: [`ws://127.0.0.1:${port}`, broker.url],
      handlers: { a: async () => 1 },
    });
    cleanups.push(() => worker.close());
    await worker.start();
    expect(broker.hellos).toHaveLength(1);
  });
});

describe('worker: running jobs', () => {
  it('reports a handler’s return value as done', async () => {
    const { broker } = await setup({
      handlers: {
        add: async (ctx) => ({ sum: (ctx.payload as number[]).reduce((a, b) => a + b) }),
      },
    });
    broker.assign(job('1', 'add', { payload: [1, 2, 3] }));
    const done = await broker.waitFor('done');
    expect(done).toEqual({ type: 'done', jobId: '1', attempt: 1, result: { sum: 6 } });
  });

  it('maps thrown errors to retryable, permanent and infrastructure failures', async () => {
    const { broker } = await setup({
      slots: 4,
      handlers: {
        plain: async () => {
          throw new Error('boom');
        },
        permanent: async () => {
          throw new PermanentError('bad input', { details: { field: 'x' } });
        },
        infra: async () => {
          throw new InfrastructureError('disk full', { code: 'no_space' });
        },
        coded: async () => {
          throw new RetryableError('try later', { code: 'busy', result: { partial: true } });
        },
      },
    });
    broker.assign(job('1', 'plain'), job('2', 'permanent'), job('3', 'infra'), job('4', 'coded'));
    const fail = (id: string): Promise<FailMsg> => broker.waitFor('fail', (m) => m.jobId === id);
    expect(await fail('1')).toMatchObject({
      error: { code: 'handler_error', message: 'boom' },
      retryable: true,
    });
    expect((await fail('1')).infrastructure).toBeUndefined();
    expect(await fail('2')).toMatchObject({
      error: { code: 'handler_error', message: 'bad input', details: { field: 'x' } },
      retryable: false,
    });
    expect(await fail('3')).toMatchObject({
      error: { code: 'no_space', message: 'disk full' },
      retryable: true,
      infrastructure: true,
    });
    expect(await fail('4')).toMatchObject({
      error: { code: 'busy' },
      retryable: true,
      result: { partial: true },
    });
  });

  it('fails a job permanently when its result is not JSON', async () => {
    const { broker } = await setup({ handlers: { big: async () => ({ n: 10n }) } });
    broker.assign(job('1', 'big'));
    expect(await broker.waitFor('fail')).toMatchObject({
      error: { code: 'invalid_result' },
      retryable: false,
    });
  });

  it('never runs more jobs than its slots, and says so for an assignment beyond them', async () => {
    let running = 0;
    let most = 0;
    const release = deferred();
    const { broker, worker } = await setup({
      slots: 2,
      handlers: {
        hold: async () => {
          running++;
          most = Math.max(most, running);
          await release.promise;
          running--;
        },
      },
    });
    const started: string[] = [];
    worker.on('job:start', (j) => started.push(j.id));
    broker.assign(job('1', 'hold'), job('2', 'hold'), job('3', 'hold'));
    const refused = await broker.waitFor('fail', (m) => m.jobId === '3');
    expect(refused).toMatchObject({
      error: { code: 'no_free_slot' },
      infrastructure: true,
      retryable: true,
    });
    expect(started).toEqual(['1', '2']);
    release.resolve();
    await broker.waitFor('done', (m) => m.jobId === '2');
    await broker.waitFor('done', (m) => m.jobId === '1');
    expect(most).toBe(2);
  });

  it('queues prefetched jobs until a slot frees, and refuses beyond slots + prefetch', async () => {
    const releases = new Map<string, () => void>();
    const { broker, worker } = await setup({
      slots: 1,
      prefetch: 2,
      handlers: {
        hold: (ctx) => new Promise((resolve) => releases.set(ctx.id, () => resolve(ctx.id))),
      },
    });
    expect(broker.hellos[0]).toMatchObject({ slots: 1, prefetch: 2 });
    const started: string[] = [];
    worker.on('job:start', (j) => started.push(j.id));
    // A short timeout on a waiting job: its clock starts when it does.
    broker.assign(job('1', 'hold'), job('2', 'hold', { timeoutMs: 150 }), job('3', 'hold'));
    broker.assign(job('4', 'hold'));
    await broker.waitFor('fail', (m) => m.jobId === '4' && m.error.code === 'no_free_slot');
    expect(started).toEqual(['1']);
    expect(worker.runningJobs().sort()).toEqual(['1', '2', '3']);

    // Canceled while waiting: it ends at once and never starts.
    broker.send({
      type: 'cancel',
      jobId: '3',
      attempt: 1,
      reason: 'canceled',
      signal: 'SIGTERM',
      graceMs: 100,
    });
    await broker.waitFor('fail', (m) => m.jobId === '3');
    await new Promise((r) => setTimeout(r, 200));
    releases.get('1')!();
    await broker.waitFor('done', (m) => m.jobId === '1');
    await broker.until(() => (started.includes('2') ? true : undefined), 'job 2 to start');
    releases.get('2')!();
    const done = await broker.waitFor('done', (m) => m.jobId === '2');
    expect(done).toMatchObject({ result: '2' });
    expect(started).toEqual(['1', '2']);
  });

  it('ignores a second assign of a job it already runs', async () => {
    let calls = 0;
    const release = deferred();
    const { broker } = await setup({
      slots: 2,
      handlers: {
        once: async () => {
          calls++;
          await release.promise;
          return calls;
        },
        noop: async () => null,
      },
    });
    broker.assign(job('7', 'once'));
    broker.assign(job('7', 'once'));
    broker.assign(job('8', 'noop'));
    await broker.waitFor('done', (m) => m.jobId === '8');
    release.resolve();
    await broker.waitFor('done', (m) => m.jobId === '7');
    expect(calls).toBe(1);
    expect(broker.messages.filter((m) => m.type === 'fail')).toEqual([]);
  });

  it('sends what one job reports in one event-loop turn as one frame, logs before the result', async () => {
    const { broker } = await setup({
      handlers: {
        chatty: async (ctx) => {
          ctx.attr('a', '1');
          ctx.attr('b', '2');
          ctx.progress(50, 'half');
          ctx.log('hello\n');
          ctx.log('world\n');
          return 'ok';
        },
      },
    });
    broker.assign(job('1', 'chatty'));
    await broker.waitFor('done');
    const frame = broker.frames.find(
      (f) => Array.isArray(f) && f.some((m: { type: string }) => m.type === 'done'),
    );
    expect(frame).toEqual([
      { type: 'attr', jobId: '1', attempt: 1, key: 'a', value: '1' },
      { type: 'attr', jobId: '1', attempt: 1, key: 'b', value: '2' },
      { type: 'progress', jobId: '1', attempt: 1, percent: 50, message: 'half' },
      { type: 'log', jobId: '1', attempt: 1, stream: 'stdout', data: 'hello\nworld\n' },
      { type: 'done', jobId: '1', attempt: 1, result: 'ok' },
    ]);
  });

  it('coalesces a running job’s log lines by time', async () => {
    const { broker } = await setup({
      handlers: {
        logs: async (ctx) => {
          for (let i = 0; i < 5; i++) {
            ctx.log(`line ${i}\n`, 'stderr');
            await new Promise((r) => setImmediate(r));
          }
          await new Promise((r) => setTimeout(r, 120));
          return null;
        },
      },
    });
    broker.assign(job('1', 'logs'));
    const log = await broker.waitFor('log');
    expect(log.data).toBe('line 0\nline 1\nline 2\nline 3\nline 4\n');
    expect(log.stream).toBe('stderr');
    const done = await broker.waitFor('done');
    expect(broker.messages.indexOf(log)).toBeLessThan(broker.messages.indexOf(done));
  });

  it('enforces the job’s timeout: aborts the signal and reports a retryable timeout', async () => {
    let reason: unknown;
    const { broker } = await setup({
      handlers: {
        slow: (ctx) => {
          ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason));
          return untilAborted(ctx);
        },
      },
    });
    broker.assign(job('1', 'slow', { timeoutMs: 50, killSignal: 'SIGINT', killGraceMs: 300 }));
    const fail = await broker.waitFor('fail');
    expect(fail).toMatchObject({ error: { code: 'timeout' }, retryable: true });
    expect(reason).toBeInstanceOf(JobAborted);
    expect(reason).toMatchObject({ kind: 'timeout', signal: 'SIGINT', graceMs: 300 });
  });

  it('frees the slot of a handler that ignores its signal after the grace', async () => {
    const { broker } = await setup({
      handlers: { stuck: () => new Promise(() => {}), noop: async () => null },
    });
    broker.assign(job('1', 'stuck', { timeoutMs: 20, killGraceMs: 0 }));
    await broker.waitFor('fail', (m) => m.error.code === 'timeout');
    broker.assign(job('2', 'noop'));
    await broker.waitFor('done', (m) => m.jobId === '2');
  });

  it('aborts a job the broker cancels, with the signal and grace it names', async () => {
    let reason: unknown;
    const { broker } = await setup({
      handlers: {
        wait: (ctx) => {
          ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason));
          return untilAborted(ctx);
        },
      },
    });
    broker.assign(job('5', 'wait'));
    broker.send({
      type: 'cancel',
      jobId: '5',
      attempt: 1,
      signal: 'SIGINT',
      graceMs: 100,
      reason: 'held',
    });
    const fail = await broker.waitFor('fail');
    expect(fail).toMatchObject({ jobId: '5', error: { code: 'held' }, retryable: false });
    expect(reason).toMatchObject({ kind: 'held', signal: 'SIGINT', graceMs: 100 });
  });

  it('gives a handler that first reads its signal after a cancel an aborted one, with the reason', async () => {
    let readNow!: () => void;
    const read = new Promise<void>((resolve) => (readNow = resolve));
    let seen: { aborted: boolean; reason: unknown } | undefined;
    const { broker, worker } = await setup({
      handlers: {
        late: async (ctx) => {
          await read;
          seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
          throw ctx.signal.reason as Error;
        },
      },
    });
    const started = new Promise((resolve) => worker.once('job:start', resolve));
    broker.assign(job('6', 'late'));
    await started;
    broker.send({
      type: 'cancel',
      jobId: '6',
      attempt: 1,
      signal: 'SIGTERM',
      graceMs: 2_000,
      reason: 'canceled',
    });
    await new Promise((r) => setTimeout(r, 50));
    readNow();
    const fail = await broker.waitFor('fail');
    expect(fail).toMatchObject({ jobId: '6', error: { code: 'canceled' } });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toMatchObject({ kind: 'canceled', signal: 'SIGTERM', graceMs: 2_000 });
  });

  it('stops accepting when put to sleep and accepts again when woken', async () => {
    const { broker } = await setup();
    broker.send({ type: 'status', status: 'asleep' });
    await broker.waitFor('status', (m) => !m.accepting);
    broker.assign(job('1', 'noop'));
    expect(await broker.waitFor('fail')).toMatchObject({
      error: { code: 'not_accepting' },
      infrastructure: true,
    });
    broker.send({ type: 'status', status: 'awake' });
    await broker.waitFor('status', (m) => m.accepting);
    broker.assign(job('2', 'noop'));
    await broker.waitFor('done', (m) => m.jobId === '2');
  });
});
