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
import { api, getJob, submit, until } from '../helpers/http.js';
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

async function start(
  clock: ManualClock,
  over: Parameters<typeof testConfig>[1] = {},
): Promise<RunningBroker> {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-clock-'));
  broker = await startBroker({
    config: testConfig(dir, { pingIntervalMs: 60_000, maxLiveness: 60, ...over }),
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

  it('ends an attempt whose worker never reports, past its timeout, and tells it to stop', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const w = await registered(b);
    const job = await submit(b.clientsUrl, {
      type: 't',
      timeout: 60,
      killGrace: 5,
      maxAttempts: 1,
    });
    await w.next('assign');
    // The worker enforces 60 s itself; the broker waits for its report until 60 + 5 + 2 s.
    clock.advance(66_000);
    await new Promise((r) => setTimeout(r, 100));
    expect((await getJob(b.clientsUrl, job.id)).state).toBe('running');
    clock.advance(1_000);
    await until(async () => (await getJob(b.clientsUrl, job.id)).state === 'failed');
    const ended = await getJob(b.clientsUrl, job.id);
    expect(ended.error).toMatchObject({ code: 'timeout' });
    expect(ended.attempts).toMatchObject([{ outcome: 'failed', error: { code: 'timeout' } }]);
    expect(await w.next('cancel')).toMatchObject({
      jobId: job.id,
      reason: 'timeout',
      graceMs: 5000,
    });
  });

  it('ends a hung attempt after its silenceTimeout without a report, and retries it', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const w = await registered(b);
    const job = await submit(b.clientsUrl, { type: 't', silenceTimeout: 30, maxAttempts: 2 });
    const assign = await w.next('assign');
    // Reports keep it alive: progress at 20 s, output at 40 s.
    clock.advance(20_000);
    w.send({
      type: 'progress',
      jobId: job.id,
      attempt: assign.job.attempt,
      percent: 10,
      message: null,
    });
    await new Promise((r) => setTimeout(r, 100));
    clock.advance(20_000);
    w.send({
      type: 'log',
      jobId: job.id,
      attempt: assign.job.attempt,
      stream: 'stdout',
      data: 'still here\n',
    });
    await new Promise((r) => setTimeout(r, 100));
    clock.advance(29_000);
    await new Promise((r) => setTimeout(r, 100));
    expect((await getJob(b.clientsUrl, job.id)).state).toBe('running');
    // Then nothing for 30 s: hung.
    clock.advance(2_000);
    await until(async () => (await getJob(b.clientsUrl, job.id)).state === 'scheduled');
    const hung = await getJob(b.clientsUrl, job.id);
    expect(hung.error).toMatchObject({ code: 'silence_timeout' });
    expect(hung.silenceTimeout).toBe(30);
    expect(await w.next('cancel')).toMatchObject({ jobId: job.id, reason: 'timeout' });
  });

  it('deletes ended jobs past their retention, per state, and keeps the others', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock, {
      retention: { succeededMs: 3_600_000, failedMs: 0, canceledMs: 3_600_000 },
    });
    const w = await registered(b);
    const failed = await submit(b.clientsUrl, { type: 't', maxAttempts: 1 });
    const assign = await w.next('assign');
    w.send({
      type: 'fail',
      jobId: failed.id,
      attempt: assign.job.attempt,
      error: { code: 'boom', message: 'it broke' },
      retryable: false,
    });
    await until(async () => (await getJob(b.clientsUrl, failed.id)).state === 'failed');
    const old = await submit(b.clientsUrl, { type: 'nobody-runs-this' });
    const recent = await submit(b.clientsUrl, { type: 'nobody-runs-this' });
    const cancel = (id: string) =>
      fetch(`${b.clientsUrl}/api/v1/jobs/${id}/cancel`, { method: 'POST' });
    await cancel(old.id);
    clock.advance(30 * 60_000);
    await cancel(recent.id);
    // An hour after the first was canceled, the retention sweep (every minute) takes it; the
    // failed job is kept for ever (retention 0), the recent one for another half hour.
    clock.advance(31 * 60_000);
    const status = async (id: string) => (await fetch(`${b.clientsUrl}/api/v1/jobs/${id}`)).status;
    await until(async () => (await status(old.id)) === 404);
    expect(await status(recent.id)).toBe(200);
    expect(await status(failed.id)).toBe(200);
    clock.advance(31 * 60_000);
    await until(async () => (await status(recent.id)) === 404);
    expect(await status(failed.id)).toBe(200);
  });

  it('follows a sleep schedule on its clock: asleep within the window, awake after it', async () => {
    const clock = new ManualClock(T0); // a Tuesday, 00:00 UTC
    const b = await start(clock, { pingIntervalMs: 3_600_000 });
    const w = await RawWorker.open(b.workersUrl);
    w.hello();
    const welcome = await w.next('welcome');
    const r = await api(b.clientsUrl, 'PUT', `/api/v1/workers/${welcome.workerId}/sleep-schedule`, {
      days: ['tue'],
      start: '01:00',
      end: '02:00',
      timeZone: 'UTC',
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'awake' });
    clock.advance(60 * 60_000 + 10_000); // 01:00:10, a check of the schedules later
    const asleep = await w.next('status');
    expect(asleep.status).toBe('asleep');
    const job = await submit(b.clientsUrl, { type: 't' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await getJob(b.clientsUrl, job.id)).state).toBe('queued');
    clock.advance(60 * 60_000); // 02:00:10
    expect((await w.next('status')).status).toBe('awake');
    expect((await w.next('assign')).job.id).toBe(job.id);
  });
});
