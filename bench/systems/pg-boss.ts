/**
 * pg-boss 10 on the machine's PostgreSQL, in a fresh schema per instance (dropped on close).
 * Fastest documented configuration for v10, which dropped `teamSize`: several `work()` loops
 * (one per "slot") each fetching `batchSize` jobs per poll, polling at the minimum interval
 * (0.5 s); bulk enqueue with `insert`, one by one with `send`. Maintenance and scheduling off.
 */
import PgBoss from 'pg-boss';
import {
  type BenchEnv,
  type BenchPayload,
  type RunWorker,
  type SystemAdapter,
  type SystemInstance,
  BULK_CHUNK,
  enqueueInChunks,
} from './types.js';
import { commitPromise, dropSchema } from './postgres.js';
import { sleep } from '../stats.js';

const QUEUE = 'noop';
const BATCH_SIZE = 100;
const POLLING_SECONDS = 0.5;
const POOL = 32;

interface WorkerConfig {
  connectionString: string;
  schema: string;
}

let counter = 0;

function boss(config: WorkerConfig, max: number, migrate: boolean): PgBoss {
  const b = new PgBoss({
    connectionString: config.connectionString,
    schema: config.schema,
    max,
    supervise: false,
    schedule: false,
    migrate,
  });
  b.on('error', (error) => console.error(`pg-boss: ${error.message}`));
  return b;
}

class PgBossInstance implements SystemInstance {
  private closed = false;

  constructor(
    private readonly config: WorkerConfig,
    private readonly boss: PgBoss,
  ) {}

  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.boss.insert(indices.map((i) => ({ name: QUEUE, data: { i } }))),
    );
  }

  async enqueueOne(i: number): Promise<string> {
    const id = await this.boss.send(QUEUE, { i });
    if (id === null) throw new Error('pg-boss did not create the job');
    return id;
  }

  workerConfig(): WorkerConfig {
    return this.config;
  }

  serverPids(): number[] {
    return [];
  }

  serverMemory(): Promise<number | null> {
    return Promise.resolve(null);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    await dropSchema(this.config.connectionString, this.config.schema);
  }
}

export const pgBoss: SystemAdapter = {
  name: 'pg-boss',
  role: 'peer',
  service: 'postgres',
  workerModule: './systems/pg-boss.js',
  manyWorkers: false,
  completionKnown: null,
  memoryNote: 'n/a (PostgreSQL server memory not attributed)',
  settings: () => [
    'pg-boss 10, PostgreSQL 127.0.0.1:5432, fresh schema per instance, supervise/schedule off',
    `submit: insert() (chunks of ${BULK_CHUNK}), send() one by one; pool ${POOL}`,
    `worker: 32 work() loops (v10 has no teamSize), batchSize ${BATCH_SIZE}, ` +
      `pollingIntervalSeconds ${POLLING_SECONDS} (the minimum), loops staggered over the interval, in a separate process; ` +
      'a job counts as done when its batch handler returns (pg-boss completes the batch after)',
  ],
  durability: (env: BenchEnv) => commitPromise(env.pgUrl),
  async open(env: BenchEnv): Promise<SystemInstance> {
    const config = {
      connectionString: env.pgUrl,
      schema: `bench_pgboss_${env.runTag}_${++counter}`,
    };
    const b = boss(config, POOL, true);
    try {
      await b.start();
      await b.createQueue(QUEUE);
    } catch (error) {
      await b.stop({ graceful: false, wait: true }).catch(() => undefined);
      await dropSchema(env.pgUrl, config.schema).catch(() => undefined);
      throw error;
    }
    return new PgBossInstance(config, b);
  },
};

/** The worker side: `workers × slots` work() loops on one PgBoss, started on `start`. */
export const runWorker: RunWorker = async (config, shape, hooks) => {
  const loops = shape.workers * shape.slots;
  const b = boss(config as WorkerConfig, Math.min(loops + 2, 40), false);
  await b.start();
  return {
    async start() {
      // Stagger the loops over one polling interval, so that their polls do not coincide.
      for (let k = 0; k < loops; k++) {
        if (k > 0) await sleep((POLLING_SECONDS * 1000) / loops);
        await b.work<BenchPayload>(
          QUEUE,
          { batchSize: BATCH_SIZE, pollingIntervalSeconds: POLLING_SECONDS },
          async (jobs) => {
            for (const job of jobs) hooks.started(job.data.i);
            queueMicrotask(() => {
              for (const job of jobs) hooks.done(job.data.i);
            });
          },
        );
      }
    },
    async close() {
      await b.stop({ graceful: false, wait: true });
    },
  };
};
