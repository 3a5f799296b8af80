/**
 * The broker's time is its Clock: liveness, the hello timeout, delayed jobs and retries run on
 * its timers. A broker given a clock that moves only when told shows that, without sleeping
 * through any of those times: a worker silent for an hour of that clock is dead at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { startBroker, type RunningBroker } from '../../src/main/index.js';
import { testConfig, testLogger } from '../helpers/broker.js';
import { getJob, submit, until } from '../helpers/http.js';
import { closeRawWorkers, RawWorker } from '../helpers/raw-worker.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
let broker: RunningBroker | undefined;
let dir: string | undefined;
afterEach(async () => {
  await closeRawWorkers();
  await broker?.close();
  broker = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function start(clock: ManualClock): Promise<RunningBroker> {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-clock-'));
  broker = await startBroker({
    config: testConfig(dir, { pingIntervalMs: 60_000, maxLiveness: 60 }),
    logger: testLogger(),
    clock,
  });
  return broker;
}

/** A worker registered with the broker, of type `t`. */
async function registered(b: RunningBroker): Promise<RawWorker> {
  const w = await RawWorker.open(b.workersUrl);
  w.hello();
  await w.next('welcome');
  return w;
}

describe('a broker on a manual clock', () => {
  it('declares a silent worker dead when its clock says an hour passed, not before', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const w = await registered(b);
    const job = await submit(b.clientsUrl, { type: 't' });
    await w.next('assign');
    // The liveness window is 60 s × 60 = an hour of this clock.
    clock.advance(59 * 60_000);
    await new Promise((r) => setTimeout(r, 100));
    expect((await getJob(b.clientsUrl, job.id)).state).toBe('running');
    clock.advance(2 * 60_000);
    await until(async () => (await getJob(b.clientsUrl, job.id)).state === 'queued');
    const back = await getJob(b.clientsUrl, job.id);
    expect(back).toMatchObject({ requestFailures: 1, error: { code: 'worker_lost' } });
    // Ended by the clock's time, an hour and a bit after it started.
    expect(Date.parse(back.attempts[0]!.finishedAt)).toBeGreaterThan(T0 + 60 * 60_000);
    expect(Date.parse(back.attempts[0]!.finishedAt)).toBeLessThanOrEqual(T0 + 61 * 60_000);
  });

  it('runs a job delayed by an hour when the clock gets there', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const w = await registered(b);
    const runAt = new Date(T0 + 3_600_000).toISOString();
    const job = await submit(b.clientsUrl, { type: 't', runAt });
    expect(job.state).toBe('scheduled');
    clock.advance(3_599_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(w.messages.some((m) => m.type === 'assign')).toBe(false);
    clock.advance(1_000);
    expect((await w.next('assign')).job.id).toBe(job.id);
  });

  it('closes a connection that says no hello within the hello timeout of its clock', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const w = await RawWorker.open(b.workersUrl);
    clock.advance(10_001);
    expect(await w.next('error')).toMatchObject({ code: 'hello_timeout', fatal: true });
    await until(() => w.closed !== null);
    expect(w.closed?.code).toBe(1008);
  });
});
