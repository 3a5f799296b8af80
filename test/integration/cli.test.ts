/**
 * The product as a user meets it: `switchyard up`, `submit --wait`, `jobs`, `job`, `cancel`,
 * `workers`, `stats` as real processes; the worker agent draining on SIGTERM; and the SDK's
 * Client and Worker against a broker process.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, PermanentError, Worker } from '../../src/index.js';
import type { JobBody } from '../../src/protocol/api.js';
import { until } from '../helpers/http.js';
import {
  brokerArgs,
  cli,
  killAll,
  runCli,
  startBrokerProcess,
  type Proc,
} from '../helpers/processes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

/** `switchyard up` on free ports; resolves with its client API URL once it serves. */
async function up(): Promise<{ proc: Proc; url: string }> {
  const proc = cli([
    'up',
    '--json',
    '--data-dir',
    join(dir, 'data'),
    '--clients-port',
    '0',
    '--workers-port',
    '0',
  ]);
  const started = await proc.waitFor((l) => l.includes('"broker started"'));
  await proc.waitFor((l) => l.includes('"welcomed by broker"'));
  return { proc, url: (JSON.parse(started) as { clients: string }).clients };
}

const jobOf = async (url: string, id: string): Promise<JobBody> => {
  const r = await runCli(['job', '--json', '--url', url, id]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as JobBody;
};

describe('switchyard up and the client commands', () => {
  it('runs a submitted shell job to success and shows it in jobs, job, workers and stats', async () => {
    const { url } = await up();
    const ok = await runCli([
      'submit',
      '--url',
      url,
      '--wait',
      '--',
      'sh',
      '-c',
      'echo ::progress 50 half way; echo ::attr colour=blue; echo hello from the job',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('hello from the job');
    expect(ok.stderr).toMatch(/job 1: succeeded/);

    const job = await jobOf(url, '1');
    expect(job.state).toBe('succeeded');
    expect(job.progress).toMatchObject({ percent: 50, message: 'half way' });
    expect(job.attributes).toEqual({ colour: 'blue' });
    expect(job.result).toMatchObject({ exitCode: 0 });

    const list = await runCli(['jobs', '--url', url, '--json']);
    const lines = list.stdout.trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as JobBody).state)).toEqual(['succeeded']);
    const formatted = await runCli([
      'jobs',
      '--url',
      url,
      '--format',
      '%s:',
      'id',
      '--format',
      '%s\\n',
      'state',
    ]);
    expect(formatted.stdout).toBe('1:succeeded\n');

    const workers = await runCli(['workers', '--url', url]);
    expect(workers.stdout).toMatch(/-local\s+idle\s+0\/2/);
    const stats = await runCli(['stats', '--url', url]);
    expect(stats.stdout).toMatch(/succeeded:\s+1/);
  });

  it('exits 1 from submit --wait when the job fails, naming the exit code and stderr', async () => {
    const { url } = await up();
    const r = await runCli([
      'submit',
      '--url',
      url,
      '--wait',
      '--max-attempts',
      '1',
      'echo broken pipe dream >&2; exit 3',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/job 1 failed: command exited with code 3: broken pipe dream/);
    expect((await jobOf(url, '1')).state).toBe('failed');
  });

  it('cancels a queued job, and says so when a job id is unknown', async () => {
    const { url } = await up();
    const sub = await runCli(['submit', '--url', url, '--require', 'gpu=yes', '--', 'true']);
    expect(sub.code, sub.stderr).toBe(0);
    const id = sub.stdout.trim();
    const cancel = await runCli(['cancel', '--url', url, id]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect((await jobOf(url, id)).state).toBe('canceled');

    const missing = await runCli(['job', '--url', url, '999']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/999/);
  });

  it('says clearly when no broker listens', async () => {
    const r = await runCli(['jobs', '--url', 'http://127.0.0.1:9']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/127\.0\.0\.1:9/);
  });
});

describe('the worker agent on SIGTERM', () => {
  it('takes no new job, lets the running one finish, then exits 0', async () => {
    const b = await startBrokerProcess(brokerArgs(join(dir, 'data')));
    const agent = cli(['worker', '--json', '--broker', b.workersUrl, '--name', 'drainer']);
    await agent.waitFor((l) => l.includes('"welcomed by broker"'));
    const client = new Client({ url: b.clientsUrl });
    const started = join(dir, 'started');
    const first = await client.submit({
      type: 'shell',
      payload: { command: `touch ${started}; sleep 0.6; echo finished` },
    });
    await until(async () => existsSync(started), 10_000, 'the job to start');

    agent.kill('SIGTERM');
    const second = await client.submit({ type: 'shell', payload: { command: 'echo later' } });
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect((await client.get(first.id)).state).toBe('succeeded');
    expect((await client.get(second.id)).state).toBe('queued');
  });
});

describe('the SDK', () => {
  it('submits with a Client and runs TypeScript handlers with a Worker, outcome by outcome', async () => {
    const b = await startBrokerProcess(brokerArgs(join(dir, 'data')));
    const client = new Client({ url: b.clientsUrl });
    const worker = new Worker({
      brokers: b.workersUrl,
      slots: 2,
      handlers: {
        add: async (job) => {
          const { a, b: c } = job.payload as { a: number; b: number };
          job.progress(50, 'adding');
          return { sum: a + c };
        },
        refuse: async () => {
          throw new PermanentError('not today');
        },
        sleep: () => new Promise((resolve) => setTimeout(() => resolve(null), 300)),
      },
    });
    await worker.start();
    try {
      const events: string[] = [];
      const stream = await client.events({}, (e) => events.push(`${e.name} ${String(e.data.id)}`));
      const added = await client.submit({ type: 'add', payload: { a: 2, b: 3 } });
      const refused = await client.submit({ type: 'refuse', payload: null });
      const done = await client.wait(added.id, { timeoutMs: 10_000 });
      expect(done.state).toBe('succeeded');
      expect(done.result).toEqual({ sum: 5 });
      const failed = await client.wait(refused.id, { timeoutMs: 10_000 });
      expect(failed.state).toBe('failed');
      expect(failed.error?.message).toContain('not today');
      expect(failed.attempts).toHaveLength(1);
      await until(async () => events.includes(`job:state ${refused.id}`), 5_000, 'the events');
      expect(events).toContain(`job:created ${added.id}`);
      expect(events).toContain(`job:progress ${added.id}`);
      stream.close();
      await stream.ended;

      // wait() learns of the end from the event stream, not from its 5 s re-check.
      const slow = await client.submit({ type: 'sleep', payload: null });
      const started = Date.now();
      expect((await client.wait(slow.id, { timeoutMs: 10_000 })).state).toBe('succeeded');
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      await worker.close();
    }
  });
});
