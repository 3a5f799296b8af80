/**
 * The whole job lifecycle against a real broker process and real worker agents: hold and
 * release (of a running process too), held submissions, delays and run-now, per-job back-off,
 * silence, dependencies (a batch graph by positions), uniqueness under concurrent submitters,
 * the failed queue's groups, actions on ids and filters with dry runs, priority and queue
 * changes, delete, and freeze (kept across a restart).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionResult, FailedGroups, JobBody } from '../../src/protocol/api.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import {
  brokerArgs,
  FAST_LIVENESS,
  killAll,
  startAgent,
  startBrokerProcess,
  type BrokerProcess,
} from '../helpers/processes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-lifecycle-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

async function broker(name = 'broker'): Promise<BrokerProcess> {
  return startBrokerProcess([...brokerArgs(join(dir, name)), ...FAST_LIVENESS]);
}

const agent = startAgent;

const post = (b: BrokerProcess, path: string, body?: unknown) =>
  api<JobBody>(b.clientsUrl, 'POST', `/api/v1${path}`, body);
const act = (b: BrokerProcess, body: Record<string, unknown>) =>
  api<ActionResult>(b.clientsUrl, 'POST', '/api/v1/jobs/actions', body);

/** A shell job that writes its pid, then sleeps until killed. */
function sleeper(token: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'shell',
    payload: { command: `echo $$ >> ${join(dir, `${token}.pids`)}; exec sleep 60` },
    killGrace: 1,
    ...extra,
  };
}

async function pids(token: string): Promise<number[]> {
  const path = join(dir, `${token}.pids`);
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8')).trim().split('\n').filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('hold and release', () => {
  it('keeps a held queued job out of dispatch until released, and a job submitted held', async () => {
    const b = await broker();
    const queued = await submit(b.clientsUrl, { type: 'shell', payload: { command: 'true' } });
    const held = await post(b, `/jobs/${queued.id}/hold`, { reason: 'not yet' });
    expect(held.status).toBe(200);
    expect(held.json).toMatchObject({ state: 'held', hold: { reason: 'not yet', by: 'local' } });
    const submittedHeld = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: 'true' },
      hold: 'waiting for approval',
    });
    expect(submittedHeld).toMatchObject({
      state: 'held',
      hold: { reason: 'waiting for approval', by: 'submission' },
    });
    await agent(b, 'w1');
    await new Promise((r) => setTimeout(r, 500));
    expect((await getJob(b.clientsUrl, queued.id)).state).toBe('held');
    expect((await getJob(b.clientsUrl, submittedHeld.id)).state).toBe('held');
    // A second hold is a conflict naming the state.
    const again = await post(b, `/jobs/${queued.id}/hold`, {});
    expect(again.status).toBe(409);
    expect(again.json.error?.message).toContain('it is held');
    for (const j of [queued, submittedHeld]) {
      const released = await post(b, `/jobs/${j.id}/release`);
      expect(released.status).toBe(200);
      expect(released.json.hold).toBeNull();
    }
    expect((await waitJob(b.clientsUrl, queued.id)).state).toBe('succeeded');
    expect((await waitJob(b.clientsUrl, submittedHeld.id)).state).toBe('succeeded');
  });

  it('stops a running process when its job is held; the held attempt does not count', async () => {
    const b = await broker();
    await agent(b, 'w1');
    const job = await submit(b.clientsUrl, sleeper('hold', { maxAttempts: 1 }));
    await until(async () => (await pids('hold')).length === 1, 15_000, 'the process to start');
    const [pid] = await pids('hold');
    expect(alive(pid!)).toBe(true);
    const held = await post(b, `/jobs/${job.id}/hold`, { reason: 'node maintenance' });
    expect(held.json).toMatchObject({ state: 'held', hold: { reason: 'node maintenance' } });
    expect(held.json.attempts).toMatchObject([{ attempt: 1, outcome: 'held', workerName: 'w1' }]);
    await until(() => !alive(pid!), 10_000, 'the held process to be killed');
    // Released, it runs again although maxAttempts is 1: the held attempt did not count.
    await post(b, `/jobs/${job.id}/release`);
    await until(async () => (await pids('hold')).length === 2, 15_000, 'the second run');
    const again = await waitJob(b.clientsUrl, job.id, (j) => j.state === 'running');
    expect(again.attempt).toBe(2);
    const canceled = await post(b, `/jobs/${job.id}/cancel`);
    expect(canceled.json.state).toBe('canceled');
    const [, pid2] = await pids('hold');
    await until(() => !alive(pid2!), 10_000, 'the canceled process to be killed');
  });
});

describe('delays, run-now and back-off', () => {
  it('keeps a delayed job scheduled until run-now, then runs it', async () => {
    const b = await broker();
    await agent(b, 'w1');
    const job = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: 'true' },
      delay: 3600,
    });
    expect(job.state).toBe('scheduled');
    expect(Date.parse(job.runAt) - Date.parse(job.createdAt)).toBe(3_600_000);
    const both = await api(b.clientsUrl, 'POST', '/api/v1/jobs', {
      type: 'shell',
      payload: { command: 'true' },
      delay: 1,
      runAt: new Date().toISOString(),
    });
    expect(both.status).toBe(400);
    expect(both.json.error?.message).toContain('delay: give either runAt or delay');
    const now = await post(b, `/jobs/${job.id}/run-now`);
    expect(now.status).toBe(200);
    expect((await waitJob(b.clientsUrl, job.id)).state).toBe('succeeded');
    expect((await post(b, `/jobs/${job.id}/run-now`)).status).toBe(409);
  });

  it('retries with the job’s own fixed back-off, keeping every attempt, then fails', async () => {
    const b = await broker();
    await agent(b, 'w1');
    const job = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: 'echo no; exit 3' },
      maxAttempts: 3,
      backoff: { type: 'fixed', delay: 0.4, jitter: 0 },
    });
    const waiting = await waitJob(b.clientsUrl, job.id, (j) => j.state === 'scheduled');
    const lastEnd = Date.parse(waiting.attempts.at(-1)!.finishedAt);
    expect(Date.parse(waiting.runAt) - lastEnd).toBe(400);
    expect(waiting.backoff).toEqual({ type: 'fixed', delay: 0.4, maxDelay: 3600, jitter: 0 });
    const failed = await waitJob(b.clientsUrl, job.id);
    expect(failed.state).toBe('failed');
    expect(failed.attempts).toHaveLength(3);
    for (const a of failed.attempts) {
      expect(a).toMatchObject({
        outcome: 'failed',
        workerName: 'w1',
        error: { code: 'exit_code' },
      });
      expect(Date.parse(a.finishedAt)).toBeGreaterThanOrEqual(Date.parse(a.startedAt));
    }
    expect(failed.errorGroup).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('silence', () => {
  it('kills a process that reports nothing for its silenceTimeout, and lets a chatty one run', async () => {
    const b = await broker();
    await agent(b, 'w1', ['--slots', '2']);
    const hung = await submit(b.clientsUrl, sleeper('hung', { silenceTimeout: 1, maxAttempts: 1 }));
    const chatty = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: 'for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.3; done' },
      silenceTimeout: 1.5,
    });
    const ended = await waitJob(b.clientsUrl, hung.id);
    expect(ended).toMatchObject({ state: 'failed', error: { code: 'silence_timeout' } });
    const [pid] = await pids('hung');
    await until(() => !alive(pid!), 10_000, 'the hung process to be killed');
    expect((await waitJob(b.clientsUrl, chatty.id)).state).toBe('succeeded');
  });
});

describe('dependencies', () => {
  it('runs a graph submitted in one batch in order, and cancels what depends on a failure', async () => {
    const b = await broker();
    const order = join(dir, 'order');
    const step = (name: string, exit = 0) => ({
      type: 'shell',
      payload: { command: `sleep 0.2; echo ${name} >> ${order}; exit ${exit}` },
      maxAttempts: 1,
    });
    const r = await api<{ jobs: JobBody[] }>(b.clientsUrl, 'POST', '/api/v1/jobs/batch', {
      jobs: [
        step('a'),
        { ...step('b'), dependsOn: [0] },
        { ...step('c'), dependsOn: [0] },
        { ...step('d'), dependsOn: [1, 2] },
        { ...step('e', 1), dependsOn: [0] },
        { ...step('f'), dependsOn: [4] },
        { ...step('g'), dependsOn: [5] },
      ],
    });
    expect(r.status).toBe(201);
    const [a, bb, c, d, e, f, g] = r.json.jobs;
    expect([a, bb, d].map((j) => j!.state)).toEqual(['queued', 'waiting', 'waiting']);
    const view = await getJob(b.clientsUrl, d!.id);
    expect(view.dependencies).toEqual([
      { id: bb!.id, state: 'waiting' },
      { id: c!.id, state: 'waiting' },
    ]);
    expect((await getJob(b.clientsUrl, a!.id)).dependents).toEqual([bb!.id, c!.id, e!.id]);
    await agent(b, 'w1', ['--slots', '3']);
    expect((await waitJob(b.clientsUrl, d!.id)).state).toBe('succeeded');
    const lines = (await readFile(order, 'utf8')).trim().split('\n');
    expect(lines.indexOf('a')).toBe(0);
    expect(lines.indexOf('d')).toBeGreaterThan(Math.max(lines.indexOf('b'), lines.indexOf('c')));
    expect((await waitJob(b.clientsUrl, e!.id)).state).toBe('failed');
    const fEnd = await waitJob(b.clientsUrl, f!.id);
    expect(fEnd).toMatchObject({
      state: 'canceled',
      error: {
        code: 'dependency_failed',
        message: `job ${e!.id}, which this job depends on, failed`,
      },
    });
    expect((await waitJob(b.clientsUrl, g!.id)).error?.message).toContain(
      `job ${f!.id}, which this job depends on, was canceled`,
    );
    expect(lines).not.toContain('f');
    // A position must name an earlier job; an unknown id is refused.
    const bad = await api(b.clientsUrl, 'POST', '/api/v1/jobs/batch', {
      jobs: [{ ...step('x'), dependsOn: [0] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toContain(
      'jobs[0].dependsOn[0]: position 0 is not an earlier job',
    );
    const unknown = await api(b.clientsUrl, 'POST', '/api/v1/jobs', {
      ...step('y'),
      dependsOn: ['999999'],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error?.message).toContain('dependsOn: job 999999 does not exist');
  });

  it('a job submitted after its dependency succeeded is queued at once', async () => {
    const b = await broker();
    await agent(b, 'w1');
    const first = await submit(b.clientsUrl, { type: 'shell', payload: { command: 'true' } });
    await waitJob(b.clientsUrl, first.id);
    const second = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: 'true' },
      dependsOn: [first.id],
    });
    expect(second.state).not.toBe('waiting');
    expect((await waitJob(b.clientsUrl, second.id)).state).toBe('succeeded');
  });
});

describe('uniqueness', () => {
  it('gives 40 concurrent submitters of one key exactly one job', async () => {
    const b = await broker();
    const body = {
      type: 'shell',
      payload: { command: 'true' },
      unique: { key: 'report:2026-12-01', for: 3600 },
    };
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => api<JobBody>(b.clientsUrl, 'POST', '/api/v1/jobs', body)),
    );
    const ids = new Set(answers.map((a) => a.json.id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const dups = answers.filter((a) => a.status === 200);
    expect(dups).toHaveLength(39);
    for (const d of dups) expect(d.json.deduplicated).toBe(true);
    const list = await api<{ jobs: JobBody[] }>(b.clientsUrl, 'GET', '/api/v1/jobs?limit=100');
    expect(list.json.jobs).toHaveLength(1);
    // Another key is another job; `while` limits it to the states named.
    const other = await api(b.clientsUrl, 'POST', '/api/v1/jobs', {
      ...body,
      unique: { key: 'report:2026-12-02', while: ['queued', 'running'] },
    });
    expect(other.status).toBe(201);
    await agent(b, 'w1');
    await waitJob(b.clientsUrl, String(other.json.id));
    const afterEnd = await api(b.clientsUrl, 'POST', '/api/v1/jobs', {
      ...body,
      unique: { key: 'report:2026-12-02', while: ['queued', 'running'] },
    });
    expect(afterEnd.status).toBe(201);
  });
});

describe('the failed queue and actions on many jobs', () => {
  it('groups failures by error, queue and type, and retries a group by filter', async () => {
    const b = await startBrokerProcess([...brokerArgs(join(dir, 'broker')), ...FAST_LIVENESS]);
    const failing = (queue: string, n: number) => ({
      type: 'shell',
      queue,
      payload: { command: `echo "cannot open /data/in-${n}.csv" >&2; exit ${n}` },
      maxAttempts: 1,
    });
    const jobs = [];
    for (let i = 1; i <= 6; i++)
      jobs.push(await submit(b.clientsUrl, failing(i <= 4 ? 'a' : 'b', i)));
    const other = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: 'kill -9 $$' },
      maxAttempts: 1,
    });
    await agent(b, 'w1', ['--queue', 'a', '--queue', 'b', '--queue', 'default', '--slots', '4']);
    for (const j of [...jobs, other])
      expect((await waitJob(b.clientsUrl, j.id)).state).toBe('failed');

    const byError = await api<FailedGroups>(b.clientsUrl, 'GET', '/api/v1/failed/groups?by=error');
    expect(byError.json.total).toBe(7);
    expect(byError.json.groups.map((g) => g.count)).toEqual([6, 1]);
    const big = byError.json.groups[0]!;
    expect(big.label).toContain('<n>');
    expect(Number(big.newest.id)).toBe(Math.max(...jobs.map((j) => Number(j.id))));
    const byQueue = await api<FailedGroups>(b.clientsUrl, 'GET', '/api/v1/failed/groups?by=queue');
    expect(byQueue.json.groups.map((g) => [g.key, g.count])).toEqual([
      ['a', 4],
      ['b', 2],
      ['default', 1],
    ]);

    const filter = { state: 'failed', group: big.key, queue: 'a' };
    const dry = await act(b, { action: 'retry', filter, dryRun: true });
    expect(dry.json).toEqual({ matched: 4, changed: 4, dryRun: true });
    expect((await getJob(b.clientsUrl, jobs[0]!.id)).state).toBe('failed');
    const dryQuery = await api<ActionResult>(
      b.clientsUrl,
      'POST',
      '/api/v1/jobs/actions?dryRun=true',
      { action: 'retry', filter },
    );
    expect(dryQuery.json).toEqual({ matched: 4, changed: 4, dryRun: true });
    const done = await act(b, { action: 'retry', filter });
    expect(done.json).toEqual({ matched: 4, changed: 4, dryRun: false });
    const retried = await waitJob(b.clientsUrl, jobs[0]!.id);
    // Retried: it ran again and failed again, all its attempts kept.
    expect(retried.attempts).toHaveLength(2);
    expect((await getJob(b.clientsUrl, jobs[4]!.id)).attempts).toHaveLength(1);

    // Text search over payload and error, by ids, with jobs the action does not apply to.
    const found = await api<{ jobs: JobBody[] }>(
      b.clientsUrl,
      'GET',
      '/api/v1/jobs?search=KILL%20-9',
    );
    expect(found.json.jobs.map((j) => j.id)).toEqual([other.id]);
    const mixed = await act(b, { action: 'delete', ids: [other.id, '999999'] });
    expect(mixed.json).toEqual({ matched: 1, changed: 1, dryRun: false });
    expect((await api(b.clientsUrl, 'GET', `/api/v1/jobs/${other.id}`)).status).toBe(404);
    const none = await act(b, { action: 'release', filter: { queue: 'b' } });
    expect(none.json).toEqual({ matched: 2, changed: 0, dryRun: false });
    const both = await act(b, { action: 'cancel', ids: ['1'], filter: {} });
    expect(both.status).toBe(400);
  });

  it('changes the priority and the queue of waiting jobs, and deletes one', async () => {
    const b = await broker();
    const order = join(dir, 'order');
    const job = (name: string, priority = 0) => ({
      type: 'shell',
      payload: { command: `echo ${name} >> ${order}` },
      priority,
    });
    const low = await submit(b.clientsUrl, job('low'));
    const high = await submit(b.clientsUrl, job('high', 5));
    const moved = await submit(b.clientsUrl, job('moved'));
    const gone = await submit(b.clientsUrl, job('gone'));
    const patched = await api<JobBody>(b.clientsUrl, 'PATCH', `/api/v1/jobs/${low.id}`, {
      priority: 10,
    });
    expect(patched.json.priority).toBe(10);
    const m = await api<JobBody>(b.clientsUrl, 'PATCH', `/api/v1/jobs/${moved.id}`, {
      queue: 'elsewhere',
    });
    expect(m.json.queue).toBe('elsewhere');
    const del = await api<JobBody>(b.clientsUrl, 'DELETE', `/api/v1/jobs/${gone.id}`);
    expect(del.status).toBe(200);
    expect((await api(b.clientsUrl, 'GET', `/api/v1/jobs/${gone.id}`)).status).toBe(404);
    await agent(b, 'w1', ['--slots', '1']);
    await waitJob(b.clientsUrl, high.id);
    await waitJob(b.clientsUrl, low.id);
    expect((await readFile(order, 'utf8')).trim().split('\n')).toEqual(['low', 'high']);
    expect((await getJob(b.clientsUrl, moved.id)).state).toBe('queued');
    // A running or ended job keeps its queue.
    const ended = await api(b.clientsUrl, 'PATCH', `/api/v1/jobs/${low.id}`, { priority: 1 });
    expect(ended.status).toBe(409);
    expect(ended.json.error?.message).toContain('it is succeeded');
  });
});

describe('freeze', () => {
  it('refuses submissions while frozen, keeps running work going, and survives a restart', async () => {
    const b = await broker('frozen');
    await agent(b, 'w1');
    const before = await submit(b.clientsUrl, sleeper('frozen-run', { delay: 0 }));
    await until(async () => (await pids('frozen-run')).length === 1, 15_000, 'the job to start');
    expect((await post(b, '/freeze')).json).toEqual({ frozen: true });
    const refused = await api(b.clientsUrl, 'POST', '/api/v1/jobs', {
      type: 'shell',
      payload: { command: 'true' },
    });
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatchObject({ code: 'frozen', message: 'The broker is frozen.' });
    expect((await getJob(b.clientsUrl, before.id)).state).toBe('running');
    expect((await api<{ frozen: boolean }>(b.clientsUrl, 'GET', '/api/v1/stats')).json.frozen).toBe(
      true,
    );
    // Kept in the store: a restarted broker is still frozen.
    await killAll();
    const again = await broker('frozen');
    expect(
      (
        await api(again.clientsUrl, 'POST', '/api/v1/jobs', {
          type: 'shell',
          payload: { command: 'true' },
        })
      ).status,
    ).toBe(503);
    expect((await post(again, '/unfreeze')).json).toEqual({ frozen: false });
    expect(
      (
        await api(again.clientsUrl, 'POST', '/api/v1/jobs', {
          type: 'shell',
          payload: { command: 'true' },
        })
      ).status,
    ).toBe(201);
  });
});
