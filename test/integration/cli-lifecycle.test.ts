/**
 * The lifecycle verbs of the CLI as real processes against a real broker: hold, release,
 * priority, move, run-now, retry, delete and cancel on ids and on filters, with --dry-run;
 * failed (the groups); freeze and unfreeze; cleanslate, which refuses without a terminal unless
 * given --yes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { JobBody } from '../../src/protocol/api.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
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
  dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-lifecycle-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

it('acts on jobs by id and by filter, dry runs first, and erases them all with cleanslate', async () => {
  const b = await startBrokerProcess([...brokerArgs(join(dir, 'broker')), ...FAST_LIVENESS]);
  const env = { SWITCHYARD_URL: b.clientsUrl };
  const run = async (...args: string[]) => {
    const r = await runCli(args, { env });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const parked = [];
  for (let i = 0; i < 3; i++) {
    parked.push(await submit(b.clientsUrl, { type: 'nobody', queue: 'parked', payload: { i } }));
  }
  const delayed = await submit(b.clientsUrl, {
    type: 'shell',
    payload: { command: 'true' },
    delay: 3600,
  });

  // One id: the job's own route.
  expect(await run('hold', parked[0]!.id, '--reason', 'checking')).toContain('held');
  expect((await getJob(b.clientsUrl, parked[0]!.id)).hold?.reason).toBe('checking');
  await run('release', parked[0]!.id);
  await run('priority', '7', parked[1]!.id);
  expect((await getJob(b.clientsUrl, parked[1]!.id)).priority).toBe(7);
  await run('move', 'elsewhere', parked[2]!.id);
  expect((await getJob(b.clientsUrl, parked[2]!.id)).queue).toBe('elsewhere');

  // A filter, dry run first: nothing changes.
  expect(await run('hold', '--queue', 'parked', '--dry-run')).toContain(
    'matched 2, would change 2 (dry run)',
  );
  expect((await getJob(b.clientsUrl, parked[0]!.id)).state).toBe('queued');
  expect(await run('hold', '--queue', 'parked')).toContain('matched 2, changed 2');
  expect((await getJob(b.clientsUrl, parked[1]!.id)).state).toBe('held');
  expect(await run('cancel', '--queue', 'parked', '--state', 'held')).toContain(
    'matched 2, changed 2',
  );
  // Several ids: one request.
  expect(await run('retry', parked[0]!.id, parked[1]!.id)).toContain('matched 2, changed 2');
  expect((await getJob(b.clientsUrl, parked[0]!.id)).state).toBe('queued');

  // No ids and no filter is a usage error, not "every job".
  const none = await runCli(['cancel'], { env });
  expect(none.code).toBe(2);
  expect((await getJob(b.clientsUrl, parked[0]!.id)).state).toBe('queued');

  // run-now, then the failed queue.
  cli(['worker', '--json', '--name', 'w1', '--broker', b.workersUrl]);
  await run('run-now', delayed.id);
  expect((await waitJob(b.clientsUrl, delayed.id)).state).toBe('succeeded');
  const failing = [];
  for (const n of [3, 4]) {
    failing.push(
      await submit(b.clientsUrl, {
        type: 'shell',
        payload: { command: `echo "row ${n} is bad" >&2; exit ${n}` },
        maxAttempts: 1,
      }),
    );
  }
  for (const j of failing) await waitJob(b.clientsUrl, j.id);
  const groups = await run('failed');
  expect(groups).toMatch(/\b2\b/);
  expect(groups).toContain('exit_code');
  const byQueue = await run('failed', '--by', 'queue', '--json');
  expect(byQueue).toContain('"default"');

  // freeze / unfreeze
  await run('freeze');
  const refused = await runCli(['submit', '--', 'true'], { env });
  expect(refused.code).toBe(8);
  expect(refused.stderr).toContain('The broker is frozen.');
  await run('unfreeze');
  await run('submit', '--', 'true');

  // cleanslate: refused without a terminal, done with --yes.
  const total = (await api<{ jobs: JobBody[] }>(b.clientsUrl, 'GET', '/api/v1/jobs?limit=1000'))
    .json.jobs.length;
  const asked = await runCli(['cleanslate'], { env });
  expect(asked.code).not.toBe(0);
  expect(asked.stderr).toContain('--yes');
  expect(
    (await api<{ jobs: JobBody[] }>(b.clientsUrl, 'GET', '/api/v1/jobs?limit=1000')).json.jobs,
  ).toHaveLength(total);
  expect(await run('cleanslate', '--yes')).toContain(String(total));
  await until(
    async () =>
      (await api<{ jobs: JobBody[] }>(b.clientsUrl, 'GET', '/api/v1/jobs')).json.jobs.length === 0,
    10_000,
    'every job to be erased',
  );
});
