/**
 * HTCondor's "service as a job" walkthrough (the Qpid broker as a job), run for real with the
 * switchyard CLI in place of condor_submit, condor_q -format, condor_hold, condor_release and
 * condor_rm: a job starts a small server on an ephemeral port and publishes its endpoint as an
 * attribute (`::attr`, HTCondor's chirp); the test reads it, talks to the server, holds the job
 * (the server goes away), releases it (a new server, a new endpoint appears), and cancels it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { api, getJob, until } from '../helpers/http.js';
import {
  brokerArgs,
  cli,
  FAST_LIVENESS,
  killAll,
  runCli,
  startBrokerProcess,
} from '../helpers/processes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-condor-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

/** qpidd.sh: a server on port 0 that says who it is, its endpoint chirped as an attribute. */
const SERVICE = [
  "const s = require('node:http').createServer((q, r) => r.end('pong ' + process.pid));",
  "s.listen(0, '127.0.0.1', () => console.log('::attr endpoint=127.0.0.1:' + s.address().port));",
  "process.on('SIGTERM', () => process.exit(0));",
].join(' ');

async function ping(endpoint: string): Promise<string | null> {
  try {
    const res = await fetch(`http://${endpoint}/`);
    return await res.text();
  } catch {
    return null;
  }
}

it('runs a service as a job: endpoint attribute, hold (server gone), release (new endpoint), cancel', async () => {
  const b = await startBrokerProcess([...brokerArgs(join(dir, 'broker')), ...FAST_LIVENESS]);
  const env = { SWITCHYARD_URL: b.clientsUrl };
  cli(['worker', '--json', '--name', 'woods', '--broker', b.workersUrl]);

  // condor_submit qpidd.sub
  const submitted = await runCli(
    ['submit', '--kill-signal', 'SIGTERM', '--', process.execPath, '-e', SERVICE],
    { env },
  );
  expect(submitted.code, submitted.stderr).toBe(0);
  const id = submitted.stdout.trim();
  expect(id).toMatch(/^\d+$/);

  // condor_q -format "qpidd running at %s\n" QpiddEndpoint
  const endpointOf = async (): Promise<string> => {
    const q = await runCli(['jobs', '--format', '%{id} %{attributes.endpoint}\\n'], { env });
    expect(q.code, q.stderr).toBe(0);
    const line = q.stdout.split('\n').find((l) => l.startsWith(`${id} `));
    return line === undefined ? '' : line.slice(id.length + 1).trim();
  };
  let first = '';
  await until(async () => (first = await endpointOf()) !== '', 20_000, 'the endpoint attribute');
  expect(first).toMatch(/^127\.0\.0\.1:\d+$/);
  const pong = await ping(first);
  expect(pong).toMatch(/^pong \d+$/);

  // condor_hold: the service goes away, and so does its endpoint.
  const held = await runCli(['hold', id, '--reason', 'moving it'], { env });
  expect(held.code, held.stderr).toBe(0);
  const heldJob = await getJob(b.clientsUrl, id);
  expect(heldJob).toMatchObject({ state: 'held', hold: { reason: 'moving it' }, attributes: {} });
  await until(async () => (await ping(first)) === null, 10_000, 'the held server to go away');

  // condor_release: it runs again, on a new port, with a new endpoint.
  const released = await runCli(['release', id], { env });
  expect(released.code, released.stderr).toBe(0);
  let second = '';
  await until(async () => (second = await endpointOf()) !== '', 20_000, 'a new endpoint');
  const pong2 = await ping(second);
  expect(pong2).toMatch(/^pong \d+$/);
  expect(pong2).not.toBe(pong);
  const again = await getJob(b.clientsUrl, id);
  expect(again.attempts.map((a) => a.outcome)).toEqual(['held']);

  // List filters read attributes too.
  const withAttr = async (q: string) =>
    (
      await api<{ jobs: Array<{ id: string }> }>(b.clientsUrl, 'GET', `/api/v1/jobs?attr=${q}`)
    ).json.jobs.map((j) => j.id);
  expect(await withAttr(encodeURIComponent(`endpoint=${second}`))).toEqual([id]);
  expect(await withAttr('endpoint')).toEqual([id]);
  expect(await withAttr(encodeURIComponent(`endpoint=${first}`))).toEqual([]);

  // condor_rm
  const removed = await runCli(['cancel', id], { env });
  expect(removed.code, removed.stderr).toBe(0);
  expect((await getJob(b.clientsUrl, id)).state).toBe('canceled');
  await until(async () => (await ping(second)) === null, 10_000, 'the canceled server to go away');
});
