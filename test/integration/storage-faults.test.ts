/**
 * Storage faults under real `switchyard` processes, with no fakes: the broker's data directory on
 * a small tmpfs filled to the last byte, or on an ext4 image the kernel turns read-only under
 * it. During a fault, writes answer 503 `store_unavailable` naming it (with Retry-After) while
 * reads keep working; once it clears, the broker works again by itself: results reported
 * meanwhile are recorded, workers that came meanwhile register, new jobs run.
 *
 * Needs root (mount, loop devices); CI runs as root. A tmpfs cannot be remounted read-only while
 * the broker holds its database open for writing (the kernel answers EBUSY), so a read-only
 * tmpfs is met at start-up, and a file system turning read-only under a running broker is
 * ext4's own reaction to an error (errors=remount-ro).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobBody } from '../../src/protocol/api.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import { mountFailingExt4, mountTmpfs, type TestMount } from '../helpers/mounts.js';
import {
  brokerArgs,
  cli,
  FAST_LIVENESS,
  killAll,
  runCli,
  startBrokerProcess,
  type BrokerProcess,
  type Proc,
} from '../helpers/processes.js';

let disk: TestMount | undefined;
afterEach(async () => {
  // Processes first: a mount whose files are open can only be detached, not freed.
  await killAll();
  disk?.unmount();
  disk = undefined;
});

const shell = (command: string, extra: Record<string, unknown> = {}) => ({
  type: 'shell',
  payload: { command },
  ...extra,
});

function broker(dataDir: string): Promise<BrokerProcess> {
  return startBrokerProcess([...brokerArgs(dataDir), ...FAST_LIVENESS]);
}

function worker(workersUrl: string, name: string, ...args: string[]): Proc {
  return cli(['worker', '--json', '--broker', workersUrl, '--name', name, ...args]);
}

async function workerUp(base: string, name: string): Promise<void> {
  await until(
    async () => {
      const r = await api<{ workers: Array<{ name: string }> }>(base, 'GET', '/api/v1/workers');
      return r.json.workers.some((w) => w.name === name);
    },
    15_000,
    `worker ${name} to register`,
  );
}

/** POST /api/v1/jobs with the answer's Retry-After header. */
async function post(base: string, body: unknown) {
  const res = await fetch(`${base}/api/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as {
    error?: { code: string; message: string; details?: unknown };
  };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json };
}

describe('a full disk under a running broker', () => {
  it('answers writes 503 naming it, keeps reading, and runs everything once there is room', async () => {
    const tmpfs = mountTmpfs('8m');
    disk = tmpfs;
    const b = await broker(join(tmpfs.dir, 'data'));
    const base = b.clientsUrl;
    worker(b.workersUrl, 'w1');
    await workerUp(base, 'w1');
    const first = await submit(base, shell('true'));
    await waitJob(base, first.id, (j) => j.state === 'succeeded');
    const running = await submit(base, shell('sleep 1'));
    await waitJob(base, running.id, (j) => j.state === 'running');

    tmpfs.fill();
    const refused = await post(base, shell('true'));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('5');
    expect(refused.json.error).toEqual({
      code: 'store_unavailable',
      message: 'the store cannot write: the disk is full (SQLITE_FULL)',
      details: { fault: 'disk_full' },
    });
    const batch = await api(base, 'POST', '/api/v1/jobs/batch', {
      jobs: [shell('true'), shell('true'), shell('true')],
    });
    expect(batch.status).toBe(503);
    expect(batch.json.error?.code).toBe('store_unavailable');
    expect((await getJob(base, first.id)).state).toBe('succeeded');
    // A worker that starts now is refused for the time being, and neither gives up nor crashes.
    const late = worker(b.workersUrl, 'late', '--queue', 'late');
    await b.proc.waitFor((l) => l.includes('registering a worker failed'));
    // The running job ends now: its result cannot be recorded yet, and stays w1's to report.
    await b.proc.waitFor((l) => l.includes('recording results failed; will retry'));
    expect((await getJob(base, running.id)).state).toBe('running');
    expect(late.alive).toBe(true);

    tmpfs.unfill();
    const done = await waitJob(base, running.id);
    expect(done.state).toBe('succeeded');
    expect(done.workerName).toBe('w1');
    await workerUp(base, 'late');
    // w1's slot is free again (the job is for w1: `late` serves another queue), and the late
    // worker runs jobs too.
    const after = await submit(base, shell('echo after'));
    const elsewhere = await submit(base, shell('echo late', { queue: 'late' }));
    expect((await waitJob(base, after.id)).workerName).toBe('w1');
    expect((await waitJob(base, elsewhere.id)).workerName).toBe('late');
    const listed = await api<{ jobs: JobBody[] }>(base, 'GET', '/api/v1/jobs?order=asc');
    expect(listed.json.jobs.map((j) => [j.id, j.state])).toEqual([
      [first.id, 'succeeded'],
      [running.id, 'succeeded'],
      [after.id, 'succeeded'],
      [elsewhere.id, 'succeeded'],
    ]);
  });
});

describe('a file system turning read-only under a running broker', () => {
  it('answers writes 503 naming it, keeps reading, and stops cleanly', async () => {
    const ext4 = mountFailingExt4(32);
    disk = ext4;
    const b = await broker(join(ext4.dir, 'data'));
    const base = b.clientsUrl;
    const before = await submit(base, shell('true'));

    ext4.fail();
    const refused = await post(base, shell('true'));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('5');
    expect(refused.json.error?.code).toBe('store_unavailable');
    // SQLite calls it an I/O error; the broker finds out which.
    expect(refused.json.error?.message).toMatch(
      /^the store cannot write: the file system is read-only \(SQLITE_IOERR_[A-Z]+\)$/,
    );
    expect(refused.json.error?.details).toEqual({ fault: 'read_only' });
    expect((await getJob(base, before.id)).state).toBe('queued');
    // Recovering needs the file system unmounted and checked, which the broker's open files
    // prevent: it must stop, and it does, without hanging on the store.
    b.proc.kill('SIGTERM');
    expect(await b.proc.exited).toEqual({ code: 0, signal: null });
  });
});

describe('a read-only file system at start-up', () => {
  it('makes the broker exit 9 naming it, and it starts with its jobs once writable', async () => {
    const tmpfs = mountTmpfs('8m');
    disk = tmpfs;
    const dataDir = join(tmpfs.dir, 'data');
    const first = await broker(dataDir);
    const job = await submit(first.clientsUrl, shell('true'));
    first.proc.kill('SIGTERM');
    await first.proc.exited;

    tmpfs.remount('ro');
    const refused = await runCli(['broker', ...brokerArgs(dataDir)]);
    expect(refused.code).toBe(9);
    expect(refused.stderr).toBe(
      `switchyard: the store cannot open ${join(dataDir, 'switchyard.db')}: ` +
        'the file system is read-only (SQLITE_CANTOPEN); fix the storage, or choose another ' +
        'data directory (--data-dir)\n',
    );

    tmpfs.remount('rw');
    const second = await broker(dataDir);
    expect((await getJob(second.clientsUrl, job.id)).state).toBe('queued');
    expect((await submit(second.clientsUrl, shell('true'))).state).toBe('queued');
  });
});
