/**
 * Crashes with real processes: the broker and workers are `switchyard` processes killed with
 * SIGKILL. Nothing accepted is lost; a job whose worker survives a broker restart runs once.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobBody } from '../../src/protocol/api.js';
import {
  brokerArgs,
  cli,
  FAST_LIVENESS,
  killAll,
  startBrokerProcess,
  type BrokerProcess,
  type Proc,
} from '../helpers/processes.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-crash-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

async function brokerOn(ports?: { clients: number; workers: number }): Promise<BrokerProcess> {
  return startBrokerProcess([...brokerArgs(join(dir, 'data'), ports), ...FAST_LIVENESS]);
}

function portsOf(b: BrokerProcess) {
  return {
    clients: Number(new URL(b.clientsUrl).port),
    workers: Number(new URL(b.workersUrl).port),
  };
}

function agent(workersUrl: string, name: string, slots = 1): Proc {
  return cli([
    'worker',
    '--json',
    '--broker',
    workersUrl,
    '--name',
    name,
    '--slots',
    String(slots),
  ]);
}

async function workerUp(base: string, name: string): Promise<void> {
  await until(
    async () => {
      const r = await api<{ workers: Array<{ name: string; state: string }> }>(
        base,
        'GET',
        '/api/v1/workers',
      );
      return r.json.workers.some((w) => w.name === name && w.state !== 'disconnected');
    },
    15_000,
    `worker ${name} to register`,
  );
}

describe('two agents on one host without --name', () => {
  it('are two workers that keep their connections and run each job once', async () => {
    const b = await brokerOn();
    const agents = [0, 1].map(() => cli(['worker', '--json', '--broker', b.workersUrl]));
    await until(
      async () =>
        (await api<{ workers: unknown[] }>(b.clientsUrl, 'GET', '/api/v1/workers')).json.workers
          .length === 2,
      15_000,
      'both agents to register',
    );
    const runs = join(dir, 'runs');
    const jobs = await Promise.all(
      Array.from({ length: 8 }, () =>
        submit(b.clientsUrl, {
          type: 'shell',
          payload: { command: `echo "$SWITCHYARD_JOB_ID" >> ${runs}; sleep 0.2` },
        }),
      ),
    );
    for (const job of jobs) await waitJob(b.clientsUrl, job.id, (j) => j.state === 'succeeded');
    const lines = (await readFile(runs, 'utf8')).trim().split('\n').sort();
    expect(lines).toEqual(jobs.map((j) => j.id).sort());
    const workers = (
      await api<{ workers: Array<{ name: string }> }>(b.clientsUrl, 'GET', '/api/v1/workers')
    ).json.workers;
    // Named host-pid, one name each; neither was ever replaced by the other.
    expect(new Set(workers.map((w) => w.name)).size).toBe(2);
    for (const a of agents) {
      expect(workers.map((w) => w.name)).toContain(`${hostname()}-${a.pid}`);
      expect(a.output()).not.toMatch(/replaced|disconnected from broker/);
    }
  });
});

describe('a worker killed with SIGKILL mid-job', () => {
  it('has its job finished by another worker', async () => {
    const b = await brokerOn();
    const base = b.clientsUrl;
    const a = agent(b.workersUrl, 'doomed');
    await workerUp(base, 'doomed');
    const job = await submit(base, {
      type: 'shell',
      payload: { command: 'sleep 0.5; echo finished' },
    });
    await waitJob(base, job.id, (j) => j.state === 'running' && j.workerName === 'doomed');
    a.kill('SIGKILL');
    await a.exited;
    agent(b.workersUrl, 'rescuer');
    const done = await waitJob(base, job.id, undefined, 20_000);
    expect(done.state).toBe('succeeded');
    expect(done.workerName).toBe('rescuer');
    expect(done.attempts.map((x) => [x.workerName, x.outcome])).toEqual([
      ['doomed', 'aborted'],
      ['rescuer', 'succeeded'],
    ]);
    expect((done.result as { stdout: string }).stdout).toContain('finished');
  });
});

describe('the broker killed with SIGKILL', () => {
  it('under a stream of submissions, loses no job it answered 201 for', async () => {
    let b = await brokerOn();
    const ports = portsOf(b);
    const base = b.clientsUrl;
    agent(b.workersUrl, 'w1', 8);
    agent(b.workersUrl, 'w2', 8);
    await workerUp(base, 'w1');
    await workerUp(base, 'w2');

    const accepted: string[] = [];
    let stop = false;
    let refused = 0;
    const submitter = async () => {
      while (!stop) {
        try {
          const r = await api<JobBody>(base, 'POST', '/api/v1/jobs', {
            type: 'shell',
            payload: { command: 'true' },
          });
          if (r.status === 201) accepted.push(r.json.id);
        } catch {
          refused++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const loops = Array.from({ length: 8 }, submitter);
    await until(() => accepted.length >= 150, 20_000, '150 accepted jobs');
    b.proc.kill('SIGKILL');
    await b.proc.exited;
    const atKill = accepted.length;
    await new Promise((r) => setTimeout(r, 300));
    b = await brokerOn(ports);
    await until(() => accepted.length >= atKill + 100, 20_000, 'submissions to resume');
    stop = true;
    await Promise.all(loops);
    expect(refused).toBeGreaterThan(0);

    const deadline = Date.now() + 60_000;
    const pending = new Set(accepted);
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const r = await api<JobBody>(base, 'GET', `/api/v1/jobs/${id}`);
        expect(r.status, `job ${id} was answered 201 but is gone`).toBe(200);
        if (r.json.state === 'succeeded') pending.delete(id);
        else expect(['queued', 'running', 'scheduled'], `job ${id}`).toContain(r.json.state);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect([...pending]).toEqual([]);
  }, 120_000);

  it('while a job runs: the worker keeps it, it runs once, and its result is accepted', async () => {
    let b = await brokerOn();
    const ports = portsOf(b);
    const base = b.clientsUrl;
    agent(b.workersUrl, 'steady');
    await workerUp(base, 'steady');
    const marks = join(dir, 'runs.txt');
    const job = await submit(base, {
      type: 'shell',
      payload: { command: `echo run >> ${marks}; sleep 1.5; echo ok` },
    });
    // Running in the store is not yet running on the worker: wait for the process itself.
    await until(() => existsSync(marks), 10_000, 'the job to start');
    b.proc.kill('SIGKILL');
    await b.proc.exited;
    b = await brokerOn(ports);
    const done = await waitJob(b.clientsUrl, job.id, undefined, 20_000);
    expect(done.state).toBe('succeeded');
    expect(done.attempts, JSON.stringify(done.attempts) + b.proc.output()).toHaveLength(1);
    expect((await readFile(marks, 'utf8')).trim().split('\n')).toEqual(['run']);
  }, 60_000);

  it('rescues a running job whose worker never comes back', async () => {
    let b = await brokerOn();
    const ports = portsOf(b);
    const w = agent(b.workersUrl, 'gone');
    await workerUp(b.clientsUrl, 'gone');
    const pidFile = join(dir, 'orphan.pid');
    const job = await submit(b.clientsUrl, {
      type: 'shell',
      payload: { command: `echo $$ > ${pidFile}; exec sleep 30` },
    });
    await waitJob(b.clientsUrl, job.id, (j) => j.state === 'running');
    await until(() => existsSync(pidFile), 5000, 'the job to start');
    b.proc.kill('SIGKILL');
    w.kill('SIGKILL');
    await Promise.all([b.proc.exited, w.exited]);
    b = await brokerOn(ports);
    const back = await waitJob(b.clientsUrl, job.id, (j) => j.state === 'queued', 10_000);
    expect(back.requestFailures).toBe(1);
    expect(back.error?.code).toBe('worker_lost');
    expect((await getJob(b.clientsUrl, job.id)).attempts[0]?.outcome).toBe('aborted');
    // The job's process died with its worker (worker-agent-killed.test.ts); should it not have,
    // do not leave it behind.
    try {
      process.kill(Number((await readFile(pidFile, 'utf8')).trim()), 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }, 60_000);
});
