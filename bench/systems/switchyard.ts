/**
 * Switchyard from dist/: `switchyard broker` processes, jobs submitted over REST with the SDK
 * Client, run by SDK Workers over the WebSocket protocol in separate processes.
 *
 * `switchyardAdapter` is a factory; ./index.ts lists its configurations:
 * - `switchyard`: as shipped, one broker on a fresh SQLite data directory (durable: WAL,
 *   synchronous = FULL) — the subject measured against the peers;
 * - `switchyard-pg`: one broker on PostgreSQL, in a fresh schema dropped on close;
 * - `switchyard-pg-2`: two brokers (a cluster) on one fresh schema. Submitters take the nodes'
 *   client URLs in turn (round robin); every worker is given both workers URLs, rotated so that
 *   the workers of a process spread over the nodes (a lone worker attaches to the first node,
 *   and jobs submitted on the other reach it through the cluster).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client, PermanentError, Worker, type WorkerOptions } from 'switchyard';
import { CLI } from '../paths.js';
import { spawnTracked, stopChild } from '../procs.js';
import { analyzeSchema, commitPromise, dropSchema } from './postgres.js';
import {
  type BenchEnv,
  type BenchPayload,
  type OpenContext,
  type RunWorker,
  type SystemAdapter,
  type SystemInstance,
  type WorkerShape,
  BULK_CHUNK,
  FAILING,
  FLOOD,
  SLEEP,
  FLOOD_LINES_PER_S,
  UNIQUE_SECONDS,
  enqueueInChunks,
  flood,
  uniqueKey,
} from './types.js';

/** Data directories still in use: removed on exit even after Ctrl-C. */
const dataDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** The store of one instance: the brokers' `--store` value, and how to remove it after. */
interface FreshStore {
  spec: string;
  remove(): Promise<void>;
  /** ANALYZE of its tables (see SystemInstance.refreshStatistics). */
  analyze(): Promise<void>;
}

/** Jobs a many-slot bench worker takes beyond its free slots (see WorkerOptions.prefetch). */
const PREFETCH = 256;

export interface SwitchyardVariant {
  name: string;
  /** `subject` for the configuration measured against the peers, else `variant`. */
  role: 'subject' | 'variant';
  /** Broker processes on the one store (default 1). */
  nodes?: number;
  /** Makes a fresh store per instance; absent: SQLite in each node's fresh data directory. */
  store?: (env: BenchEnv) => FreshStore;
  /** Extra broker arguments. */
  args?: string[];
  settings: string[];
  durability: (env: BenchEnv) => Promise<string>;
}

interface WorkerConfig {
  /** Every node's workers URL; worker k of a process tries them from the (k mod n)-th on. */
  workersUrls: string[];
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
  /** One client per node; requests take them in turn. */
  private readonly clients: Client[];
  private turn = 0;
  private closed = false;

  constructor(
    private readonly brokers: Broker[],
    private readonly dataDir: string,
    private readonly store: FreshStore | undefined,
  ) {
    this.clients = brokers.map((b) => new Client({ url: b.clientsUrl }));
  }

  /** The next node's client (round robin; always the same one with a single node). */
  private client(): Client {
    const client = this.clients[this.turn % this.clients.length]!;
    this.turn++;
    return client;
  }

  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.client().submitBatch(indices.map((i) => ({ type: 'noop', payload: { i } }))),
    );
  }

  async enqueueOne(i: number): Promise<string> {
    return (await this.client().submit({ type: 'noop', payload: { i } })).id;
  }

  async enqueueSleepBulk(from: number, count: number, ms: number): Promise<string[]> {
    const jobs = Array.from({ length: count }, (_, k) => ({
      type: SLEEP,
      queue: SLEEP,
      payload: { i: from + k, ms },
    }));
    return (await this.client().submitBatch(jobs)).map((j) => j.id);
  }

  async etaOf(id: string): Promise<number | null> {
    const at = (await this.client().get(id)).eta?.at;
    return at === undefined || at === null ? null : Date.parse(at);
  }

  async startedAtOf(id: string): Promise<number | null> {
    const at = (await this.client().get(id)).startedAt;
    return at === null ? null : Date.parse(at);
  }

  async useFairQueue(): Promise<void> {
    await this.client().setQueue('default', { discipline: 'fair' });
  }

  enqueueGroupedBulk(
    from: number,
    count: number,
    groups: number,
    signal: AbortSignal,
  ): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.client().submitBatch(
        indices.map((i) => ({ type: 'noop', group: `g${i % groups}`, payload: { i } })),
      ),
    );
  }

  async enqueueFlood(i: number, seconds: number): Promise<string> {
    const job = { type: FLOOD, queue: FLOOD, maxAttempts: 1, payload: { i, seconds } };
    return (await this.client().submit(job)).id;
  }

  async waitCompleted(id: string, timeoutMs: number): Promise<void> {
    await this.client().wait(id, { intervalMs: 1, timeoutMs });
  }

  enqueueFailing(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.client().submitBatch(
        indices.map((i) => ({ type: FAILING, queue: FAILING, maxAttempts: 1, payload: { i } })),
      ),
    );
  }

  async failedCount(): Promise<number> {
    return (await this.clients[0]!.stats()).jobs.failed;
  }

  /** One request: the broker walks the filter in chunks of 100 jobs, one commit each. */
  async retryFailed(): Promise<number> {
    const answer = await this.clients[0]!.act({ action: 'retry', filter: { state: 'failed' } });
    return answer.changed;
  }

  /** PostgreSQL: ANALYZE of the schema. SQLite: nothing (the broker never analyzes it there). */
  async refreshStatistics(): Promise<void> {
    await this.store?.analyze();
  }

  async jobCount(): Promise<number> {
    const { jobs } = await this.clients[0]!.stats();
    return Object.values(jobs).reduce((a, b) => a + b, 0);
  }

  enqueueUniqueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.client().submitBatch(
        indices.map((i) => ({
          type: 'noop',
          payload: { i },
          unique: { key: uniqueKey(i), for: UNIQUE_SECONDS },
        })),
      ),
    );
  }

  async enqueueUniqueOne(i: number): Promise<string> {
    const job = await this.client().submit({
      type: 'noop',
      payload: { i },
      unique: { key: uniqueKey(i), for: UNIQUE_SECONDS },
    });
    return job.id;
  }

  workerConfig(): WorkerConfig {
    return { workersUrls: this.brokers.map((b) => b.workersUrl) };
  }

  serverPids(): number[] {
    return this.brokers.flatMap((b) => (b.child.pid === undefined ? [] : [b.child.pid]));
  }

  serverMemory(): Promise<number | null> {
    return Promise.resolve(null);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeAll(this.brokers, this.dataDir, this.store);
  }
}

/**
 * Stops the brokers (SIGTERM closes them gracefully, which also lets --cpu-prof write its
 * profile), then removes the store and the data directories.
 */
async function closeAll(
  brokers: readonly Broker[],
  dataDir: string,
  store: FreshStore | undefined,
): Promise<void> {
  await Promise.all(brokers.map((b) => stopChild(b.child, 'SIGTERM', 15_000)));
  try {
    await store?.remove();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    dataDirs.delete(dataDir);
  }
}

export function switchyardAdapter(variant: SwitchyardVariant): SystemAdapter {
  const nodes = variant.nodes ?? 1;
  return {
    name: variant.name,
    role: variant.role,
    service: variant.store === undefined ? null : 'postgres',
    workerModule: './systems/switchyard.js',
    manyWorkers: true,
    completionKnown:
      'Client.wait(): one long poll, GET /api/v1/jobs/:id?wait=S, answered when the job ends',
    memoryNote:
      nodes === 1
        ? 'broker process peak RSS (VmHWM)'
        : `peak RSS (VmHWM) of the ${nodes} broker processes, added up`,
    settings: () => variant.settings,
    durability: (env) => variant.durability(env),
    async open(env: BenchEnv, context: OpenContext): Promise<SystemInstance> {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), `switchyard-bench-`));
      dataDirs.add(dataDir);
      const store = variant.store?.(env);
      const brokers: Broker[] = [];
      try {
        // One after the other: the first node migrates the fresh schema.
        for (let k = 0; k < nodes; k++) {
          const nodeDir = nodes === 1 ? dataDir : path.join(dataDir, `node${k}`);
          await mkdir(nodeDir, { recursive: true });
          const args = [
            '--data-dir',
            nodeDir,
            ...(store ? ['--store', store.spec] : []),
            ...(variant.args ?? []),
          ];
          const node = nodes === 1 ? '' : `-node${k}`;
          const profile = `${env.runTag}-${context.label}-${variant.name}${node}.cpuprofile`;
          brokers.push(await startBroker(args, env, profile));
        }
      } catch (error) {
        await closeAll(brokers, dataDir, store).catch(() => undefined);
        throw error;
      }
      return new SwitchyardInstance(brokers, dataDir, store);
    },
  };
}

let schemas = 0;

/** A fresh PostgreSQL schema on the bench server, dropped on close. */
function freshSchema(env: BenchEnv): FreshStore {
  const schema = `bench_sy_${env.runTag}_${++schemas}`;
  const url = new URL(env.pgUrl);
  url.searchParams.set('schema', schema);
  return {
    spec: url.href,
    remove: () => dropSchema(env.pgUrl, schema),
    analyze: () => analyzeSchema(env.pgUrl, schema),
  };
}

const SUBMIT =
  `submit: SDK Client over REST (POST /jobs/batch of ${BULK_CHUNK}; Client.submit one by one, ` +
  'which sends the submits of concurrent callers made in one event-loop turn as one batch request)';

/** How W6 and W7 use Switchyard (the same in every configuration). */
const LIFECYCLE = [
  'W6: failed jobs made by a worker process failing each `fail` job (queue `fail`, maxAttempts 1) ' +
    'at once; retried with one POST /jobs/actions {action: retry, filter: {state: failed}}, which ' +
    'the broker walks in chunks of 100 jobs, one commit each',
  `W7: each job with \`unique: {key, for: ${UNIQUE_SECONDS}}\`, every key distinct`,
  `W8: the flooding job (queue \`${FLOOD}\`, its own worker process) calls job.log() ` +
    `${FLOOD_LINES_PER_S} times a second, one line each; the SDK worker batches them, the broker ` +
    "keeps the head and tail (job_output) and stores them as the job's messages",
];

/** Switchyard with SQLite, durable as shipped. */
export const switchyard: SystemAdapter = switchyardAdapter({
  name: 'switchyard',
  role: 'subject',
  settings: [
    'broker process from dist/ (`switchyard broker`), SQLite store in a fresh data dir, defaults as shipped',
    SUBMIT,
    'worker: SDK Worker(s) over WebSocket in a separate process; W1-W3: 1 worker × 32 slots, prefetch 256 (W4: prefetch 0)',

    ...LIFECYCLE,
  ],
  durability: () =>
    Promise.resolve(
      '201 = committed to SQLite and fsynced (WAL, synchronous = FULL), grouped commits',
    ),
});

/** Switchyard on PostgreSQL, one node. */
export const switchyardPg: SystemAdapter = switchyardAdapter({
  name: 'switchyard-pg',
  role: 'variant',
  store: freshSchema,
  settings: [
    'broker process from dist/ with `--store postgres://…?schema=…` (PostgreSQL 127.0.0.1:5432, fresh schema per instance, dropped after)',
    SUBMIT,
    'worker: SDK Worker(s) over WebSocket in a separate process; W1-W3: 1 worker × 32 slots, prefetch 256 (W4: prefetch 0)',

    ...LIFECYCLE,
  ],
  durability: (env) => commitPromise(env.pgUrl, '201'),
});

/** Switchyard on PostgreSQL, two nodes (a cluster) on one schema. */
export const switchyardPg2: SystemAdapter = switchyardAdapter({
  name: 'switchyard-pg-2',
  role: 'variant',
  nodes: 2,
  store: freshSchema,
  settings: [
    'two broker processes from dist/ on one fresh PostgreSQL schema (a cluster; dropped after)',
    'submit: as switchyard-pg, the requests taking the two nodes in turn (round robin)',
    "worker: SDK Workers given both nodes' workers URLs; W1-W3: 1 worker × 32 slots, prefetch 256, attached to the first node " +
      '(jobs submitted on the second reach it through the cluster); W4: the workers spread evenly over both nodes',

    ...LIFECYCLE,
  ],
  durability: (env) => commitPromise(env.pgUrl, '201'),
});

/** The handlers (and queues) of a worker of this shape. */
function jobsOf(shape: WorkerShape): Pick<WorkerOptions, 'handlers' | 'queues'> {
  if (shape.jobs === 'flood') {
    return {
      handlers: {
        [FLOOD]: async (job) =>
          flood((job.payload as BenchPayload).seconds ?? 1, (line) => job.log(line)),
      },
      queues: [FLOOD],
    };
  }
  if (shape.jobs === 'sleep') {
    return {
      handlers: {
        [SLEEP]: (job) =>
          new Promise((resolve) =>
            setTimeout(() => resolve(null), (job.payload as { ms?: number }).ms ?? 0),
          ),
      },
      queues: [SLEEP],
    };
  }
  if (shape.jobs !== 'fail') return { handlers: { noop: async () => null } };
  const fail = (): Promise<never> =>
    Promise.reject(new PermanentError('the bench fails this job at once'));
  return { handlers: { [FAILING]: fail }, queues: [FAILING] };
}

/**
 * The worker side: SDK Workers with a no-op `noop` handler, or (shape `fail`) on the queue `fail`
 * with a `fail` handler that fails each job at once, not retryable.
 */
export const runWorker: RunWorker = (config, shape, hooks) => {
  const { workersUrls } = config as WorkerConfig;
  // Worker k tries the nodes from the (k mod n)-th on: spread over them, each able to fail over.
  const rotated = (k: number): string[] => {
    const at = k % workersUrls.length;
    return [...workersUrls.slice(at), ...workersUrls.slice(0, at)];
  };
  const workers = Array.from(
    { length: shape.workers },
    (_, k) =>
      new Worker({
        brokers: rotated(k),
        name: `bench-${process.pid}-${k}`,
        slots: shape.slots,
        // Many short jobs: the next ones wait on the worker's side (W4's 1-slot workers: none).
        // (W9's sleeping jobs: none, so that what waits is in the broker's queue, as ETA sees it.)
        prefetch: shape.slots > 1 && shape.jobs !== 'sleep' ? PREFETCH : 0,
        ...jobsOf(shape),
      }),
  );
  for (const worker of workers) {
    worker.on('job:start', (job) => hooks.started((job.payload as BenchPayload).i));
    worker.on('job:done', (job) => hooks.done((job.payload as BenchPayload).i));
    if (shape.jobs === 'fail') {
      worker.on('job:fail', (job) => hooks.done((job.payload as BenchPayload).i));
    }
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
