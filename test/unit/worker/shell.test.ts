import { chmod, mkdtemp, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InfrastructureError,
  JobAborted,
  PermanentError,
  RetryableError,
  createShellHandler,
  type HandlerError,
  type JobContext,
  type ShellResult,
} from '../../../src/worker/index.js';
import { waitGroupGone } from '../../helpers/process-groups.js';

interface Recorded {
  ctx: JobContext;
  controller: AbortController;
  progress: Array<[number | null, string | undefined]>;
  attrs: Record<string, string>;
  steps: Array<[string, string, string | undefined]>;
  output(stream: 'stdout' | 'stderr'): string;
}

function context(payload: unknown): Recorded {
  const controller = new AbortController();
  const logs: Array<{ stream: 'stdout' | 'stderr'; text: string }> = [];
  const progress: Array<[number | null, string | undefined]> = [];
  const attrs: Record<string, string> = {};
  const steps: Array<[string, string, string | undefined]> = [];
  const ctx: JobContext = {
    id: '42',
    attempt: 1,
    type: 'shell',
    queue: 'default',
    payload,
    requires: {},
    priority: 0,
    timeoutMs: 250,
    killSignal: 'SIGTERM',
    killGraceMs: 1000,
    signal: controller.signal,
    progress: (percent, message) => void progress.push([percent, message]),
    step: (id, status, message) => void steps.push([id, status, message]),
    log: (text, stream = 'stdout') => void logs.push({ stream, text }),
    attr: (key, value) => void (attrs[key] = value),
  };
  const output = (stream: 'stdout' | 'stderr'): string =>
    logs
      .filter((l) => l.stream === stream)
      .map((l) => l.text)
      .join('');
  return { ctx, controller, progress, attrs, steps, output };
}

const run = createShellHandler();

async function rejection(promise: Promise<unknown>): Promise<HandlerError> {
  try {
    await promise;
  } catch (error) {
    return error as HandlerError;
  }
  throw new Error('expected the handler to fail');
}

/** Alive means running: a zombie waiting for its reaper is dead. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitDead(pids: number[]): Promise<void> {
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
  expect(pids.filter(alive)).toEqual([]);
}

let tmp = '';
beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'switchyard-shell-')));
  await mkdir(path.join(tmp, 'sub'));
  await mkdir(path.join(tmp, 'bin'));
  await writeFile(path.join(tmp, 'bin', 'hello'), '#!/bin/sh\necho "hello $*"\n');
  await chmod(path.join(tmp, 'bin', 'hello'), 0o755);
  await writeFile(path.join(tmp, 'sub', 'plain.txt'), 'not a program\n');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('shell runner: running commands', () => {
  it('runs an argv command directly, without a shell', async () => {
    const { ctx } = context({ command: ['echo', '$HOME', 'a  b'] });
    const result = (await run(ctx)) as ShellResult;
    expect(result).toEqual({ exitCode: 0, signal: null, stdout: '$HOME a  b\n', stderr: '' });
  });

  it('runs a string command with /bin/sh -c and streams both outputs to the log', async () => {
    const rec = context({ command: 'echo $((1 + 2)); echo warn >&2' });
    const result = (await run(rec.ctx)) as ShellResult;
    expect(result.stdout).toBe('3\n');
    expect(result.stderr).toBe('warn\n');
    expect(rec.output('stdout')).toBe('3\n');
    expect(rec.output('stderr')).toBe('warn\n');
  });

  it('runs in cwd, relative to the default directory', async () => {
    const handler = createShellHandler({ defaultCwd: tmp });
    expect(((await handler(context({ command: 'pwd' }).ctx)) as ShellResult).stdout).toBe(
      `${tmp}\n`,
    );
    const sub = (await handler(context({ command: ['pwd'], cwd: 'sub' }).ctx)) as ShellResult;
    expect(sub.stdout).toBe(`${path.join(tmp, 'sub')}\n`);
  });

  it('passes payload env and job metadata, but not the agent’s own SWITCHYARD_ settings', async () => {
    process.env.SWITCHYARD_TOKEN = 'secret';
    try {
      const { ctx } = context({
        command:
          'echo "$FOO|$SWITCHYARD_JOB_ID|$SWITCHYARD_ATTEMPT|$SWITCHYARD_JOB_TYPE|$SWITCHYARD_QUEUE|$SWITCHYARD_TOKEN|$PATH"',
        env: { FOO: 'bar' },
      });
      const result = (await run(ctx)) as ShellResult;
      expect(result.stdout).toBe(`bar|42|1|shell|default||${process.env.PATH}\n`);
    } finally {
      delete process.env.SWITCHYARD_TOKEN;
    }
  });

  it('finds an argv program on the job’s own PATH, and a relative path in its cwd', async () => {
    const handler = createShellHandler({ defaultCwd: tmp });
    const env = { PATH: `${path.join(tmp, 'bin')}:${process.env.PATH}` };
    const onPath = (await handler(context({ command: ['hello', 'a'], env }).ctx)) as ShellResult;
    expect(onPath.stdout).toBe('hello a\n');
    const relative = (await handler(
      context({ command: ['./hello'], cwd: 'bin' }).ctx,
    )) as ShellResult;
    expect(relative.stdout).toBe('hello \n');
  });

  it('gives the payload as JSON on stdin, or payload.stdin when given', async () => {
    const payload = { command: ['cat'], extra: { n: 1 } };
    expect(((await run(context(payload).ctx)) as ShellResult).stdout).toBe(JSON.stringify(payload));
    const own = (await run(context({ command: 'cat', stdin: 'hello' }).ctx)) as ShellResult;
    expect(own.stdout).toBe('hello');
  });

  it('does not fail when the command ignores a large stdin', async () => {
    const { ctx } = context({ command: 'exit 0', stdin: 'x'.repeat(1_000_000) });
    expect(((await run(ctx)) as ShellResult).exitCode).toBe(0);
  });

  it('keeps the last 4 KiB of each stream while logging all of it', async () => {
    const rec = context({ command: "head -c 10000 /dev/zero | tr '\\0' a; printf END" });
    const result = (await run(rec.ctx)) as ShellResult;
    expect(result.stdout).toHaveLength(4096);
    expect(result.stdout.endsWith('aaaEND')).toBe(true);
    expect(rec.output('stdout')).toHaveLength(10_003);
  });
});

describe('shell runner: directives', () => {
  it('turns ::progress and ::attr lines into progress and attributes, and logs them', async () => {
    const rec = context({
      command:
        "printf '::progress 40 compiling\\n::attr endpoint=host:4711\\nplain\\n::progress 100\\n" +
        "::progress 150 too much\\n::attr nokey\\n::progress 7 no newline at the end'",
    });
    await run(rec.ctx);
    expect(rec.progress).toEqual([
      [40, 'compiling'],
      [100, undefined],
      [7, 'no newline at the end'],
    ]);
    expect(rec.attrs).toEqual({ endpoint: 'host:4711' });
    expect(rec.output('stdout')).toContain('::attr endpoint=host:4711\nplain\n');
  });

  it('turns ::step lines into named steps (ReCodEx tasks), and ignores malformed ones', async () => {
    const rec = context({
      command:
        "printf '::step compile started\\n::step compile COMPLETED took 3 s\\n" +
        "::step tests skipped\\n::step lint done\\n::step\\n::step t-1 failed\\n'",
    });
    await run(rec.ctx);
    expect(rec.steps).toEqual([
      ['compile', 'started', undefined],
      ['compile', 'completed', 'took 3 s'],
      ['tests', 'skipped', undefined],
      ['t-1', 'failed', undefined],
    ]);
    expect(rec.progress).toEqual([]);
  });

  it('parses a directive split across writes, and ignores directives on stderr', async () => {
    const rec = context({
      command: "printf '::prog'; sleep 0.05; printf 'ress 50 half\\n'; echo '::attr a=b' >&2",
    });
    await run(rec.ctx);
    expect(rec.progress).toEqual([[50, 'half']]);
    expect(rec.attrs).toEqual({});
  });
});

describe('shell runner: failures', () => {
  it('reports a non-zero exit as a retryable exit_code failure with the last stderr line', async () => {
    const error = await rejection(
      run(context({ command: 'echo out; echo first >&2; echo oops >&2; exit 3' }).ctx),
    );
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.code).toBe('exit_code');
    expect(error.message).toBe('command exited with code 3: oops');
    expect(error.result).toEqual({
      exitCode: 3,
      signal: null,
      stdout: 'out\n',
      stderr: 'first\noops\n',
    });
  });

  it('does not retry exit codes listed in noRetryExitCodes', async () => {
    const error = await rejection(run(context({ command: 'exit 4', noRetryExitCodes: [4] }).ctx));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('exit_code');
    expect(error.retryable).toBe(false);
  });

  it('reports a command killed by a signal with code signal', async () => {
    const error = await rejection(run(context({ command: 'kill -USR1 $$' }).ctx));
    expect(error.code).toBe('signal');
    expect((error.result as ShellResult).signal).toBe('SIGUSR1');
  });

  it('reports the command’s own exit code and signal, not a wrapper’s 128+N', async () => {
    const killed = await rejection(run(context({ command: 'kill -TERM $$' }).ctx));
    expect(killed.code).toBe('signal');
    expect(killed.result).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    const exited = await rejection(run(context({ command: 'exit 143' }).ctx));
    expect(exited.code).toBe('exit_code');
    expect(exited.result).toMatchObject({ exitCode: 143, signal: null });
  });

  it('reports a program missing from PATH, or not an executable file, as spawn_failed', async () => {
    const cases: Array<[string[], string]> = [
      [['switchyard-no-such-program', '-x'], 'switchyard-no-such-program was not found on PATH'],
      [[path.join(tmp, 'sub', 'plain.txt')], 'plain.txt is not an executable file'],
      [[path.join(tmp, 'sub')], 'sub is not an executable file'],
      [['./plain.txt'], './plain.txt does not exist'],
    ];
    for (const [command, message] of cases) {
      const error = await rejection(run(context({ command }).ctx));
      expect(error, command.join(' ')).toBeInstanceOf(InfrastructureError);
      expect(error.code).toBe('spawn_failed');
      expect(error.message).toContain(message);
    }
  });

  it('reports a command that cannot start as an infrastructure failure', async () => {
    const missing = await rejection(run(context({ command: ['/nonexistent/command'] }).ctx));
    expect(missing).toBeInstanceOf(InfrastructureError);
    expect(missing.code).toBe('spawn_failed');
    expect(missing.message).toContain('/nonexistent/command');
    const badCwd = await rejection(run(context({ command: 'true', cwd: '/nonexistent/dir' }).ctx));
    expect(badCwd).toBeInstanceOf(InfrastructureError);
    expect(badCwd.code).toBe('spawn_failed');
  });

  it('rejects a bad payload permanently, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [null, 'payload must be an object'],
      [{ command: 5 }, 'payload.command must be a string or an array of strings'],
      [{ command: [] }, 'payload.command must be a string or an array of strings'],
      [{ command: 'true', env: { A: 1 } }, 'payload.env'],
      [{ command: 'true', cwd: 3 }, 'payload.cwd'],
      [{ command: 'true', stdin: {} }, 'payload.stdin'],
      [{ command: 'true', noRetryExitCodes: ['1'] }, 'payload.noRetryExitCodes'],
    ];
    for (const [payload, message] of cases) {
      const error = await rejection(run(context(payload).ctx));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain(message);
    }
  });
});

describe('shell runner: stopping', () => {
  /** Starts a script that prints its pids as attributes, and waits until it has. */
  async function started(command: string): Promise<{ rec: Recorded; done: Promise<HandlerError> }> {
    const rec = context({ command });
    const done = rejection(run(rec.ctx));
    for (let i = 0; i < 500 && !('child' in rec.attrs && 'shell' in rec.attrs); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    return { rec, done };
  }

  it('on timeout, kills the whole group, then SIGKILLs after the grace what traps SIGTERM', async () => {
    const { rec, done } = await started(
      `trap '' TERM; sleep 30 & echo "::attr child=$!"; echo "::attr shell=$$"; wait; wait; wait`,
    );
    const pids = [Number(rec.attrs.child), Number(rec.attrs.shell)];
    const t0 = Date.now();
    rec.controller.abort(new JobAborted('timeout', 'SIGTERM', 300));
    const error = await done;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(error.code).toBe('timeout');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('SIGKILL');
    await waitDead(pids);
  });

  it('on cancel, sends the job’s signal to the group at once', async () => {
    const { rec, done } = await started(
      `trap 'echo got INT; exit 130' INT; sleep 30 & echo "::attr child=$!"; echo "::attr shell=$$"; wait`,
    );
    const pids = [Number(rec.attrs.child), Number(rec.attrs.shell)];
    const t0 = Date.now();
    rec.controller.abort(new JobAborted('canceled', 'SIGINT', 10_000));
    const error = await done;
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(error.code).toBe('canceled');
    expect((error.result as ShellResult).stdout).toContain('got INT');
    await waitDead(pids);
  });

  it('kills what the command left running in its group when it exits', async () => {
    const rec = context({ command: 'sleep 30 & echo "::attr child=$!"; exit 0' });
    const t0 = Date.now();
    expect(((await run(rec.ctx)) as ShellResult).exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await waitDead([Number(rec.attrs.child)]);
  });

  it('gives the job no fd 3 and no child it did not start (the tether stays out of its way)', async () => {
    const { ctx } = context({
      command:
        '[ -e /proc/self/fd/3 ] && echo fd3=open || echo fd3=closed; ' +
        'read -r kids < /proc/$$/task/$$/children; echo "children=[$kids]"',
    });
    expect(((await run(ctx)) as ShellResult).stdout).toBe('fd3=closed\nchildren=[]\n');
  });

  it('leaves no live process of the job’s group behind when the command exits', async () => {
    const rec = context({ command: 'echo "::attr group=$$"' });
    await run(rec.ctx);
    expect(await waitGroupGone(Number(rec.attrs.group), 1_000)).toEqual([]);
  });

  it('does not start a job that is already stopped', async () => {
    const rec = context({ command: 'echo should-not-run' });
    rec.controller.abort(new JobAborted('canceled', 'SIGTERM', 0));
    await expect(run(rec.ctx)).rejects.toBeInstanceOf(JobAborted);
    expect(rec.output('stdout')).toBe('');
  });
});
