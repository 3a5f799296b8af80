/**
 * Cron schedules through a real broker (SQLite) on a manual clock: ticks fire at the cron times
 * in their time zone, overlap skip/allow, missed ticks after a downtime (the broker stopped,
 * the clock moved on, the broker started again on the same data), and the API's validation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { startBroker, type RunningBroker } from '../../src/main/index.js';
import type { JobBody } from '../../src/protocol/api.js';
import type { ScheduleBody } from '../../src/protocol/schedules.js';
import { testConfig, testLogger } from '../helpers/broker.js';
import { api } from '../helpers/http.js';

const T0 = Date.parse('2029-12-31T23:00:00Z');
let broker: RunningBroker | undefined;
let dir: string | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(clock: ManualClock): Promise<RunningBroker> {
  dir ??= await mkdtemp(join(tmpdir(), 'switchyard-cron-'));
  broker = await startBroker({ config: testConfig(dir), logger: testLogger(), clock });
  return broker;
}

/** Moves the clock and waits for the ticks it made due. */
async function advance(clock: ManualClock, b: RunningBroker, ms: number): Promise<void> {
  clock.advance(ms);
  // The timer's tick starts on the clock's call; its commit needs the event loop.
  await new Promise((resolve) => setImmediate(resolve));
  await b.schedules.settled();
}

async function create(b: RunningBroker, body: Record<string, unknown>): Promise<ScheduleBody> {
  const r = await api<ScheduleBody>(b.clientsUrl, 'POST', '/api/v1/schedules', body);
  if (r.status !== 201) throw new Error(`create answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

async function show(b: RunningBroker, name: string): Promise<ScheduleBody> {
  return (await api<ScheduleBody>(b.clientsUrl, 'GET', `/api/v1/schedules/${name}`)).json;
}

/** The jobs a schedule submitted, oldest first. */
async function jobsOf(b: RunningBroker, name: string): Promise<JobBody[]> {
  const r = await api<{ jobs: JobBody[] }>(b.clientsUrl, 'GET', '/api/v1/jobs?limit=1000');
  return r.json.jobs
    .filter((j) => (j.meta as Record<string, unknown>).schedule === name)
    .sort((a, b) => Number(a.id) - Number(b.id));
}

const ticksOf = (jobs: JobBody[]): string[] =>
  jobs.map((j) => (j.meta as Record<string, unknown>).tick as string);

describe('cron schedules on a manual clock', () => {
  it('fire at the cron times of their time zone, one job per tick', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const fired: unknown[] = [];
    b.events.on('schedule:fired', (e) => fired.push(e));
    // 09:00 and 10:00 in Tokyo (UTC+9) are midnight and 01:00 UTC.
    const s = await create(b, {
      name: 'tokyo-morning',
      cron: '0 9,10 * * *',
      timezone: 'Asia/Tokyo',
      job: { type: 'report', payload: { n: 1 }, meta: { owner: 'ops' } },
    });
    expect(s).toMatchObject({
      timezone: 'Asia/Tokyo',
      overlap: 'skip',
      missed: 'once',
      paused: false,
      nextRunAt: '2030-01-01T00:00:00.000Z',
      fired: 0,
      skipped: 0,
    });
    expect(s.next).toEqual([
      '2030-01-01T00:00:00.000Z',
      '2030-01-01T01:00:00.000Z',
      '2030-01-02T00:00:00.000Z',
      '2030-01-02T01:00:00.000Z',
      '2030-01-03T00:00:00.000Z',
    ]);
    await advance(clock, b, 3_599_000);
    expect(await jobsOf(b, 'tokyo-morning')).toEqual([]);
    await advance(clock, b, 1_000);
    const [job] = await jobsOf(b, 'tokyo-morning');
    expect(job).toMatchObject({ type: 'report', payload: { n: 1 }, state: 'queued' });
    expect(job!.meta).toEqual({
      owner: 'ops',
      schedule: 'tokyo-morning',
      tick: '2030-01-01T00:00:00.000Z',
    });
    expect(fired).toEqual([
      {
        name: 'tokyo-morning',
        tickAt: Date.parse('2030-01-01T00:00:00Z'),
        jobId: job!.id,
        missed: 0,
      },
    ]);
    await api(b.clientsUrl, 'POST', `/api/v1/jobs/${job!.id}/cancel`);
    await advance(clock, b, 3_600_000);
    expect(ticksOf(await jobsOf(b, 'tokyo-morning'))).toEqual([
      '2030-01-01T00:00:00.000Z',
      '2030-01-01T01:00:00.000Z',
    ]);
    expect(await show(b, 'tokyo-morning')).toMatchObject({
      fired: 2,
      skipped: 0,
      lastRunAt: '2030-01-01T01:00:00.000Z',
      nextRunAt: '2030-01-02T00:00:00.000Z',
    });
  });

  it('skips a tick while the previous job has not ended (overlap skip), not with allow', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const skippedEvents: unknown[] = [];
    b.events.on('schedule:skipped', (e) => skippedEvents.push(e));
    await create(b, { name: 'skip', cron: '*/10 * * * * *', job: { type: 't' } });
    await create(b, {
      name: 'allow',
      cron: '*/10 * * * * *',
      overlap: 'allow',
      job: { type: 't' },
    });
    await advance(clock, b, 10_000);
    await advance(clock, b, 10_000);
    expect(await jobsOf(b, 'skip')).toHaveLength(1);
    expect(await jobsOf(b, 'allow')).toHaveLength(2);
    expect(await show(b, 'skip')).toMatchObject({ fired: 1, skipped: 1 });
    expect(skippedEvents).toEqual([
      { name: 'skip', tickAt: T0 + 20_000, reason: 'overlap', ticks: 1 },
    ]);
    // Once it ended, the next tick fires.
    const [first] = await jobsOf(b, 'skip');
    await api(b.clientsUrl, 'POST', `/api/v1/jobs/${first!.id}/cancel`);
    await advance(clock, b, 10_000);
    expect(ticksOf(await jobsOf(b, 'skip'))).toEqual([
      new Date(T0 + 10_000).toISOString(),
      new Date(T0 + 30_000).toISOString(),
    ]);
    expect(await jobsOf(b, 'allow')).toHaveLength(3);
  });

  it('after a downtime fires one job for the missed ticks (missed once), or none (skip)', async () => {
    const clock = new ManualClock(T0);
    let b = await start(clock);
    await create(b, { name: 'once', cron: '* * * * *', overlap: 'allow', job: { type: 't' } });
    await create(b, {
      name: 'skip',
      cron: '* * * * *',
      overlap: 'allow',
      missed: 'skip',
      job: { type: 't' },
    });
    await advance(clock, b, 60_000);
    expect(await jobsOf(b, 'once')).toHaveLength(1);
    expect(await jobsOf(b, 'skip')).toHaveLength(1);
    // Down from just after the tick at +1 min until +10.5 min: ticks +2 .. +10 min missed.
    await b.close();
    clock.set(T0 + 630_000);
    b = await start(clock);
    await b.schedules.settled();
    expect(ticksOf(await jobsOf(b, 'once'))).toEqual([
      new Date(T0 + 60_000).toISOString(),
      new Date(T0 + 120_000).toISOString(),
    ]);
    expect(await show(b, 'once')).toMatchObject({
      fired: 2,
      skipped: 8,
      nextRunAt: new Date(T0 + 660_000).toISOString(),
    });
    expect(await jobsOf(b, 'skip')).toHaveLength(1);
    expect(await show(b, 'skip')).toMatchObject({
      fired: 1,
      skipped: 9,
      nextRunAt: new Date(T0 + 660_000).toISOString(),
    });
    // Then on time again.
    await advance(clock, b, 30_000);
    expect(ticksOf(await jobsOf(b, 'once')).at(-1)).toBe(new Date(T0 + 660_000).toISOString());
    expect(ticksOf(await jobsOf(b, 'skip'))).toEqual([
      new Date(T0 + 60_000).toISOString(),
      new Date(T0 + 660_000).toISOString(),
    ]);
  });

  it('pause stops the ticks, resume takes the next tick after now; PATCH retimes', async () => {
    const clock = new ManualClock(T0);
    const b = await start(clock);
    const changes: unknown[] = [];
    b.events.on('schedule:changed', (e) => changes.push(e));
    await create(b, { name: 'p', cron: '* * * * *', overlap: 'allow', job: { type: 't' } });
    const paused = await api<ScheduleBody>(b.clientsUrl, 'POST', '/api/v1/schedules/p/pause');
    expect(paused.json).toMatchObject({ paused: true, nextRunAt: null, next: [] });
    await advance(clock, b, 5 * 60_000);
    expect(await jobsOf(b, 'p')).toEqual([]);
    const resumed = await api<ScheduleBody>(b.clientsUrl, 'POST', '/api/v1/schedules/p/resume');
    expect(resumed.json).toMatchObject({
      paused: false,
      nextRunAt: new Date(T0 + 6 * 60_000).toISOString(),
    });
    const patched = await api<ScheduleBody>(b.clientsUrl, 'PATCH', '/api/v1/schedules/p', {
      cron: '0 0 * * *',
      job: { type: 'other' },
    });
    expect(patched.json).toMatchObject({
      cron: '0 0 * * *',
      job: { type: 'other' },
      nextRunAt: '2030-01-01T00:00:00.000Z',
    });
    await advance(clock, b, 3_600_000);
    expect((await jobsOf(b, 'p')).map((j) => j.type)).toEqual(['other']);
    const deleted = await api<ScheduleBody>(b.clientsUrl, 'DELETE', '/api/v1/schedules/p');
    expect(deleted.json.name).toBe('p');
    expect((await api(b.clientsUrl, 'GET', '/api/v1/schedules')).json).toEqual({ schedules: [] });
    expect(changes.map((c) => (c as { change: string }).change)).toEqual([
      'created',
      'paused',
      'resumed',
      'updated',
      'deleted',
    ]);
  });
});

describe('the schedules API refuses', () => {
  const good = { name: 'n', cron: '*/5 * * * *', job: { type: 't' } };
  const refused = async (
    b: RunningBroker,
    method: string,
    path: string,
    body: unknown,
  ): Promise<{ status: number; code?: string; message?: string }> => {
    const r = await api(b.clientsUrl, method, path, body);
    return { status: r.status, code: r.json.error?.code, message: r.json.error?.message };
  };

  it('a bad expression, time zone or template, naming it', async () => {
    const b = await start(new ManualClock(T0));
    const post = (body: unknown) => refused(b, 'POST', '/api/v1/schedules', body);
    expect(await post({ ...good, cron: '61 * * * *' })).toEqual({
      status: 400,
      code: 'invalid_request',
      message: 'cron: "61 * * * *" is not a cron expression: Invalid value for minute: 61',
    });
    expect(await post({ ...good, cron: '0 0 30 2 *' })).toMatchObject({
      status: 400,
      message: 'cron: "0 0 30 2 *" never comes due after now',
    });
    expect(await post({ ...good, timezone: 'Mars/Olympus' })).toMatchObject({
      status: 400,
      message: expect.stringContaining('timezone: "Mars/Olympus" is not an IANA time zone'),
    });
    // Checked as a submission is: the schema, then the preparation.
    expect(await post({ ...good, job: { type: 't', colour: 'red' } })).toMatchObject({
      status: 400,
      message: expect.stringContaining('colour'),
    });
    expect(await post({ ...good, job: { type: 'shell', payload: {} } })).toMatchObject({
      status: 400,
      message: 'job.payload.command: must be a string or an array of strings',
    });
    expect(
      await post({ ...good, job: { type: 't', requires: { threads: 'many' } } }),
    ).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^job\.requires/),
    });
    expect(await post({ ...good, name: 'a/b' })).toMatchObject({ status: 400 });
    expect(await post({ ...good, name: 'x'.repeat(201) })).toMatchObject({ status: 400 });
    expect(await post({ ...good, overlap: 'sometimes' })).toMatchObject({ status: 400 });
    const patch = await refused(b, 'PATCH', '/api/v1/schedules/n', { cron: 'nope' });
    expect(patch).toMatchObject({ status: 404 });
    expect((await api(b.clientsUrl, 'GET', '/api/v1/schedules')).json).toEqual({ schedules: [] });
  });

  it('a duplicate name (409) and an unknown one (404)', async () => {
    const b = await start(new ManualClock(T0));
    await create(b, good);
    expect(await refused(b, 'POST', '/api/v1/schedules', good)).toEqual({
      status: 409,
      code: 'conflict',
      message: 'schedule n exists already',
    });
    expect(await refused(b, 'PATCH', '/api/v1/schedules/n', { cron: 'bad cron' })).toMatchObject({
      status: 400,
      message: expect.stringContaining('cron: "bad cron"'),
    });
    for (const [method, path] of [
      ['GET', '/api/v1/schedules/nope'],
      ['PATCH', '/api/v1/schedules/nope'],
      ['DELETE', '/api/v1/schedules/nope'],
      ['POST', '/api/v1/schedules/nope/pause'],
      ['POST', '/api/v1/schedules/nope/resume'],
    ] as const) {
      const body = method === 'PATCH' ? { paused: true } : undefined;
      expect(await refused(b, method, path, body)).toEqual({
        status: 404,
        code: 'not_found',
        message: 'schedule nope does not exist',
      });
    }
  });
});
