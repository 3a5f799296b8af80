/**
 * Switchyard as shipped: the `switchyard broker` process from dist/ on a fresh SQLite data
 * directory (durable: WAL, synchronous = FULL), jobs submitted over REST with the SDK Client,
 * run by SDK Workers over the WebSocket protocol in separate processes.
 *
 * `switchyardAdapter` is a factory so that variants (`switchyard-pg`: `--store postgres://...`,
 * one or two nodes) are one more entry in ./index.ts.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client, Worker } from 'switchyard';
import { CLI } from '../paths.js';
import { spawnTracked, stopChild } from '../procs.js';
import type {
  BenchEnv,
  BenchPayload,
  OpenContext,
  RunWorker,
  SystemAdapter,
  SystemInstance,
} from './types.js';

/** Data directories still in use: removed on exit even after Ctrl-C. */
const dataDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** Jobs per POST /jobs/batch (the API takes up to 10,000; the body limit is 1 MB). */
const BATCH = 5_000;

export interface SwitchyardVariant {
  name: string;
  /** `--store` value; undefined for the default (SQLite in a fresh data directory). */
  store?: (env: BenchEnv) => string;
  /** Extra broker arguments. */
  args?: string[];
  settings: string[];
  durability: string;
}

interface WorkerConfig {
  workersUrl: string;
}

interface Broker {
  child: ChildProcess;
  clientsUrl: string;
  workersUrl: string;
  tail: string[];
}

/** Starts one broker process and waits for its "broker started" log line. */
async function startBroker(args: string[], env: BenchEnv, profileName: string): Promise<Broker> {
  const nodeArgs =
    env.cpuProfDir === null
      ? []
      : ['--cpu-prof', '--cpu-prof-dir', env.cpuProfDir, '--cpu-prof-name', profileName];
  const child = spawnTracked(
    process.execPath,
    [...nodeArgs, CLI, 'broker', '--json', '--clients-port', '0', '--workers-port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tail: string[] = [];
  return await new Promise<Broker>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`broker did not start:\n${tail.join('\n')}`)),
      20_000,
    );
    let buffered = '';
    const onData = (chunk: string): void => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (line.includes('"broker started"')) {
          clearTimeout(timer);
          const parsed = JSON.parse(line) as { clients: string; workers: string };
          resolve({ child, clientsUrl: parsed.clients, workersUrl: parsed.workers, tail });
        }
      }
    };
    for (const stream of [child.stdout, child.stderr])
      stream?.setEncoding('utf8').on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code ?? signal}):\n${tail.join('\n')}`));
    });
  });
}

class SwitchyardInstance implements SystemInstance {
  private readonly client: Client;
  private closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly dataDir: string,
  ) {
    this.client = new Client({ url: broker.clientsUrl });
  }

  async enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    for (let at = from; at < from + count; at += BATCH) {
      signal.throwIfAborted();
      const n = Math.min(BATCH, from + count - at);
      const jobs = Array.from({ length: n }, (_, k) => ({ type: 'noop', payload: { i: at + k } }));
      await this.client.submitBatch(jobs);
    }
  }

  async enqueueOne(i: number): Promise<string> {
    return (await this.client.submit({ type: 'noop', payload: { i } })).id;
  }

  async waitCompleted(id: string, timeoutMs: number): Promise<void> {
    await this.client.wait(id, { intervalMs: 1, timeoutMs });
  }

  workerConfig(): WorkerConfig {
    return { workersUrl: this.broker.workersUrl };
  }

  serverPids(): number[] {
    return this.broker.child.pid === undefined ? [] : [this.broker.child.pid];
  }

  serverMemory(): Promise<number | null> {
    return Promise.resolve(null);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // SIGTERM closes the broker gracefully, which also lets --cpu-prof write its profile.
    await stopChild(this.broker.child, 'SIGTERM', 15_000);
    await rm(this.dataDir, { recursive: true, force: true });
    dataDirs.delete(this.dataDir);
  }
}

export function switchyardAdapter(variant: SwitchyardVariant): SystemAdapter {
  return {
    name: variant.name,
    role: 'subject',
    workerModule: './systems/switchyard.js',
    manyWorkers: true,
    completionKnown: 'Client.wait(): polls GET /api/v1/jobs/:id every 1 ms (no push API yet)',
    memoryNote: 'broker process peak RSS (VmHWM)',
    settings: () => variant.settings,
    durability: () => Promise.resolve(variant.durability),
    async open(env: BenchEnv, context: OpenContext): Promise<SystemInstance> {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), `switchyard-bench-`));
      dataDirs.add(dataDir);
      const store = variant.store?.(env);
      const args = [
        '--data-dir',
        dataDir,
        ...(store ? ['--store', store] : []),
        ...(variant.args ?? []),
      ];
      const profile = `${env.runTag}-${context.label}-${variant.name}.cpuprofile`;
      try {
        const broker = await startBroker(args, env, profile);
        return new SwitchyardInstance(broker, dataDir);
      } catch (error) {
        await rm(dataDir, { recursive: true, force: true });
        throw error;
      }
    },
  };
}

/** Switchyard with SQLite, durable as shipped. */
export const switchyard: SystemAdapter = switchyardAdapter({
  name: 'switchyard',
  settings: [
    'broker process from dist/ (`switchyard broker`), SQLite store in a fresh data dir, defaults as shipped',
    'submit: SDK Client over REST (POST /jobs/batch of 5,000; POST /jobs one by one)',
    'worker: SDK Worker(s) over WebSocket in a separate process; W1-W3: 1 worker × 32 slots',
  ],
  durability: '201 = committed to SQLite and fsynced (WAL, synchronous = FULL), grouped commits',
});

/** The worker side: SDK Workers with a no-op `noop` handler. */
export const runWorker: RunWorker = (config, shape, hooks) => {
  const { workersUrl } = config as WorkerConfig;
  const workers = Array.from(
    { length: shape.workers },
    (_, k) =>
      new Worker({
        brokers: workersUrl,
        name: `bench-${process.pid}-${k}`,
        slots: shape.slots,
        handlers: { noop: async () => null },
      }),
  );
  for (const worker of workers) {
    worker.on('job:start', (job) => hooks.started((job.payload as BenchPayload).i));
    worker.on('job:done', (job) => hooks.done((job.payload as BenchPayload).i));
  }
  return Promise.resolve({
    async start() {
      // Connect in groups so that a thousand connections do not all open in the same tick.
      for (let k = 0; k < workers.length; k += 50) {
        await Promise.all(workers.slice(k, k + 50).map((w) => w.start()));
      }
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  });
};
