/**
 * Real processes for integration tests: the `switchyard` command from dist/ (built by `npm test`
 * before the tests run). Every process started here is killed by `killAll` (call it in
 * afterEach); a process left running fails the test file (see setup.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { api, until } from './http.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const running = new Set<Proc>();

export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Started as the leader of a process group of its own: `stop` kills the whole group. */
  readonly group: boolean;
  private waiters: Array<() => void> = [];

  constructor(
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {},
  ) {
    this.group = options.group ?? false;
    this.child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.group,
    });
    running.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
        this.notify();
      });
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        for (const line of parts) this.lines.push(line);
        this.notify();
      });
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.lines.join('\n');
  }

  /** Waits for an output line that matches; returns it. */
  async waitFor(match: RegExp | ((line: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l);
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.lines.length; seen++) {
        const line = this.lines[seen]!;
        if (test(line)) return line;
      }
      if (!this.alive)
        throw new Error(`process exited before printing ${String(match)}:\n${this.output()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(match)}:\n${this.output()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Kills (with its group, if it leads one) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.group && this.alive) {
      try {
        process.kill(-this.pid, signal);
      } catch {
        // The group is gone already.
      }
    }
    this.kill(signal);
    await this.exited;
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Runs `switchyard ARGS...` from dist/. */
export function cli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  return new Proc(process.execPath, [CLI, ...args], options);
}

/** Runs a command to completion; returns its exit code and output. */
export async function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Kills every process these helpers started and waits for them to exit. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}

/** `broker` flags for a data directory and ports (0, the default, picks a free port). */
export function brokerArgs(
  dataDir: string,
  ports: { clients?: number; workers?: number } = {},
): string[] {
  return [
    '--data-dir',
    dataDir,
    '--clients-port',
    String(ports.clients ?? 0),
    '--workers-port',
    String(ports.workers ?? 0),
  ];
}

/** Liveness fast enough for tests: a silent worker is dead after 100 ms × 5. */
export const FAST_LIVENESS = ['--ping-interval', '100', '--max-liveness', '5'];

export interface BrokerProcess {
  proc: Proc;
  clientsUrl: string;
  workersUrl: string;
}

/**
 * Starts `switchyard broker` with JSON logs and waits for its "broker started" line, which names
 * the addresses it listens on (ports 0 pick free ones).
 */
export async function startBrokerProcess(
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<BrokerProcess> {
  const proc = cli(['broker', '--json', ...args], env ? { env } : {});
  const line = await proc.waitFor((l) => l.includes('"broker started"'));
  const parsed = JSON.parse(line) as { clients: string; workers: string };
  return { proc, clientsUrl: parsed.clients, workersUrl: parsed.workers };
}

/**
 * Starts `switchyard worker` (named `name`, with `extra` flags) against a broker process and
 * waits until that broker lists it.
 */
export async function startAgent(
  b: BrokerProcess,
  name: string,
  extra: readonly string[] = [],
): Promise<Proc> {
  const proc = cli(['worker', '--json', '--name', name, '--broker', b.workersUrl, ...extra]);
  await until(
    async () => {
      const r = await api<{ workers: Array<{ name: string }> }>(
        b.clientsUrl,
        'GET',
        '/api/v1/workers',
      );
      return r.json.workers.some((w) => w.name === name);
    },
    15_000,
    `worker ${name}`,
  );
  return proc;
}
