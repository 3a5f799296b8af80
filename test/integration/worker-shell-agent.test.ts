/**
 * The agent as `switchyard worker` runs it: an SDK Worker whose `shell` handler is the shell
 * runner, against a fake broker. Real processes, real sockets.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Worker, createShellHandler } from '../../src/worker/index.js';
import { FakeBroker, job } from './worker-fake-broker.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function agent(): Promise<{ broker: FakeBroker; worker: Worker }> {
  const broker = await FakeBroker.start();
  cleanups.push(async () => {
    await broker.close();
    expect(broker.invalid).toEqual([]);
  });
  const worker = new Worker({
    brokers: broker.url,
    slots: 2,
    handlers: { shell: createShellHandler() },
  });
  cleanups.push(() => worker.close());
  await worker.start();
  return { broker, worker };
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function expectDead(pids: number[]): Promise<void> {
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
  expect(pids.filter(alive)).toEqual([]);
}

/** The pids a script published as `::attr child=` and `::attr shell=`. */
async function pids(broker: FakeBroker, jobId: string): Promise<number[]> {
  const child = await broker.waitFor('attr', (m) => m.jobId === jobId && m.key === 'child');
  const shell = await broker.waitFor('attr', (m) => m.jobId === jobId && m.key === 'shell');
  return [Number(child.value), Number(shell.value)];
}

const SPAWN_AND_WAIT = 'sleep 30 & echo "::attr child=$!"; echo "::attr shell=$$"; wait; wait';

describe('agent: shell jobs through the broker protocol', () => {
  it('streams output, progress and attributes, then reports the result', async () => {
    const { broker } = await agent();
    broker.assign(
      job('1', 'shell', {
        payload: {
          command:
            'echo "::progress 40 compiling"; echo "::attr endpoint=127.0.0.1:4711"; echo $SWITCHYARD_JOB_ID; echo warn >&2',
        },
      }),
    );
    const done = await broker.waitFor('done');
    expect(done.result).toEqual({
      exitCode: 0,
      signal: null,
      stdout: '::progress 40 compiling\n::attr endpoint=127.0.0.1:4711\n1\n',
      stderr: 'warn\n',
    });
    expect(await broker.waitFor('progress')).toMatchObject({ percent: 40, message: 'compiling' });
    expect(await broker.waitFor('attr')).toMatchObject({
      key: 'endpoint',
      value: '127.0.0.1:4711',
    });
    const logs = broker.messages.filter((m) => m.type === 'log');
    expect(
      logs
        .filter((l) => l.stream === 'stdout')
        .map((l) => l.data)
        .join(''),
    ).toBe('::progress 40 compiling\n::attr endpoint=127.0.0.1:4711\n1\n');
    expect(
      logs
        .filter((l) => l.stream === 'stderr')
        .map((l) => l.data)
        .join(''),
    ).toBe('warn\n');
  });

  it('reports a non-zero exit as a retryable exit_code failure with the result', async () => {
    const { broker } = await agent();
    broker.assign(job('2', 'shell', { payload: { command: 'echo bad >&2; exit 2' } }));
    expect(await broker.waitFor('fail')).toMatchObject({
      error: { code: 'exit_code', message: 'command exited with code 2: bad' },
      retryable: true,
      result: { exitCode: 2, signal: null, stderr: 'bad\n' },
    });
  });

  it('times a job out: its signal to the group, SIGKILL after the grace, a timeout failure', async () => {
    const { broker } = await agent();
    const t0 = Date.now();
    broker.assign(
      job('3', 'shell', {
        payload: { command: `trap '' TERM; ${SPAWN_AND_WAIT}` },
        timeoutMs: 100,
        killGraceMs: 200,
      }),
    );
    const group = await pids(broker, '3');
    const fail = await broker.waitFor('fail');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(fail).toMatchObject({ error: { code: 'timeout' }, retryable: true });
    expect(fail.error.message).toContain('SIGKILL');
    await expectDead(group);
  });

  it('kills a canceled job’s process group with the signal the broker names', async () => {
    const { broker } = await agent();
    broker.assign(job('4', 'shell', { payload: { command: SPAWN_AND_WAIT } }));
    const group = await pids(broker, '4');
    broker.send({
      type: 'cancel',
      jobId: '4',
      attempt: 1,
      signal: 'SIGTERM',
      graceMs: 5_000,
      reason: 'canceled',
    });
    expect(await broker.waitFor('fail')).toMatchObject({
      error: { code: 'canceled' },
      retryable: false,
      result: { signal: 'SIGTERM' },
    });
    await expectDead(group);
  });

  it('leaves no process behind when the worker closes with jobs running', async () => {
    const { broker, worker } = await agent();
    broker.assign(job('5', 'shell', { payload: { command: SPAWN_AND_WAIT }, killGraceMs: 100 }));
    const group = await pids(broker, '5');
    await worker.close();
    await expectDead(group);
    expect(await broker.waitFor('fail')).toMatchObject({
      error: { code: 'worker_shutdown' },
      infrastructure: true,
    });
  });
});
