/**
 * `switchyard workers ...` as real processes against `switchyard up`: show, status, schedule,
 * attach and detach, unblock, usage and disconnect, and the agent exiting when drained.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerBody } from '../../src/protocol/api.js';
import { api, until } from '../helpers/http.js';
import {
  brokerArgs,
  killAll,
  runCli,
  startAgent,
  startBrokerProcess,
} from '../helpers/processes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-workers-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

async function sy(args: string[]): Promise<string> {
  const r = await runCli(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('switchyard workers', () => {
  it('controls one worker: status, schedule, queues, unblock, usage, drain', async () => {
    const b = await startBrokerProcess([
      ...brokerArgs(join(dir, 'data')),
      '--ping-interval',
      '200',
    ]);
    const url = b.clientsUrl;
    const agent = await startAgent(b, 'cli-w');
    const list = await api<{ workers: WorkerBody[] }>(url, 'GET', '/api/v1/workers');
    const id = list.json.workers[0]!.id;
    const json = async (args: string[]) =>
      JSON.parse(await sy([...args, '--url', url, '--json'])) as WorkerBody;

    expect((await json(['workers', 'show', id])).name).toBe('cli-w');
    expect((await json(['workers', 'status', id, 'asleep', '--after'])).status).toBe('asleep');
    expect((await json(['workers', 'status', id, 'awake'])).status).toBe('awake');
    const bad = await runCli(['workers', 'status', id, 'sleepy', '--url', url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('awake, asleep, drain');

    const scheduled = await json([
      'workers',
      'schedule',
      id,
      '--days',
      'sat,sun',
      '--start',
      '00:00',
      '--end',
      '00:00',
      '--tz',
      'Europe/Prague',
    ]);
    expect(scheduled.schedule).toMatchObject({ days: ['sat', 'sun'], timeZone: 'Europe/Prague' });
    expect((await json(['workers', 'schedule', id, '--clear'])).schedule).toBeNull();

    expect((await json(['workers', 'attach', id, '--queue', 'extra'])).queues).toEqual([
      'default',
      'extra',
    ]);
    expect((await json(['workers', 'detach', id, '--queue', 'default'])).queues).toEqual(['extra']);
    const text = await sy(['workers', 'show', id, '--url', url]);
    expect(text).toContain('status: awake');
    expect(text).toContain('extra');

    expect(await sy(['workers', 'unblock', id, 'shell', '--url', url])).toContain(
      'was not blocklisted',
    );
    await until(
      async () =>
        (
          JSON.parse(await sy(['workers', 'usage', id, '--url', url, '--json'])) as {
            samples: unknown[];
          }
        ).samples.length > 0,
      20_000,
      'usage samples',
    );
    expect(await sy(['workers', 'usage', id, '--url', url, '--since', '30m'])).toContain(
      'resolution: fine',
    );
    expect(await sy(['workers', 'usage', id, '--url', url, '--since', '3h'])).toContain(
      'resolution: minute',
    );

    await sy(['workers', 'status', id, 'drain', '--url', url]);
    expect((await agent.exited).code).toBe(0);
  });
});
