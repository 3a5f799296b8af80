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
  FAILING,
  RETRY_CHUNK,
  UNIQUE_SECONDS,
  enqueueInChunks,
  uniqueKey,
} from './types.js';
import { analyzeSchema, commitPromise, dropSchema } from './postgres.js';
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
  /** W6's queue, created on first use. */
  private failingQueue: Promise<void> | undefined;

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

  enqueueFailing(from: number, count: number, signal: AbortSignal): Promise<void> {
    this.failingQueue ??= this.boss.createQueue(FAILING);
    return this.failingQueue.then(() =>
      enqueueInChunks(from, count, signal, (indices) =>
        this.boss.insert(indices.map((i) => ({ name: FAILING, data: { i }, retryLimit: 0 }))),
      ),
    );
  }

  failedCount(): Promise<number> {
    return this.count(`name = '${FAILING}' and state = 'failed'`);
  }

  /**
   * pg-boss's `retry` takes ids (no retry by state, no listing of failed jobs in its API): walk the
   * queue's failed jobs by id in its table, RETRY_CHUNK at a time, as Switchyard walks its
   * filter, and `retry` each chunk. pg-boss's types do not say how many it retried (null).
   */
  async retryFailed(): Promise<null> {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const { rows } = await this.boss.getDb().executeSql(
        // `job.id`: a bare `id` would sort by the text column of the select list.
        `select id::text from ${this.table()} where name = $1 and state = 'failed' and id > $2::uuid order by job.id limit $3`,
        [FAILING, after, RETRY_CHUNK],
      );
      const ids = (rows as Array<{ id: string }>).map((r) => r.id);
      if (ids.length === 0) return null;
      after = ids[ids.length - 1]!;
      await this.boss.retry(FAILING, ids);
    }
  }

  refreshStatistics(): Promise<void> {
    return analyzeSchema(this.config.connectionString, this.config.schema);
  }

  jobCount(): Promise<number> {
    return this.count('true');
  }

  private table(): string {
    return `"${this.config.schema}".job`;
  }

  private async count(where: string): Promise<number> {
    const { rows } = await this.boss
      .getDb()
      .executeSql(`select count(*)::int as n from ${this.table()} where ${where}`, []);
    return (rows[0] as { n: number } | undefined)?.n ?? 0;
  }

  /** A singleton key holds within a time slot of `singletonSeconds`; any queue policy. */
  enqueueUniqueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.boss.insert(
        indices.map((i) => ({
          name: QUEUE,
          data: { i },
          singletonKey: uniqueKey(i),
          singletonSeconds: UNIQUE_SECONDS,
        })),
      ),
    );
  }

  async enqueueUniqueOne(i: number): Promise<string> {
    const options = { singletonKey: uniqueKey(i), singletonSeconds: UNIQUE_SECONDS };
    const id = await this.boss.send(QUEUE, { i }, options);
    if (id === null) throw new Error('pg-boss took a distinct key for a duplicate');
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
    `W6: failed jobs made by work() loops failing each batch of the queue \`${FAILING}\` (retryLimit 0) at once; ` +
      `retry() takes ids, so the queue's failed jobs are walked by id in its job table, ${RETRY_CHUNK} at a time, ` +
      'one retry(name, ids) per chunk',
    `W7: each job with its own \`singletonKey\` and singletonSeconds ${UNIQUE_SECONDS} (held within a clock-aligned ` +
      'time slot of that length; the standard queue policy enforces a key only with singletonSeconds)',
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

/**
 * The worker side: `workers × slots` work() loops on one PgBoss, started on `start`; with shape
 * `fail`, on the queue `fail`, each batch handler failing its jobs at once.
 */
export const runWorker: RunWorker = async (config, shape, hooks) => {
  const loops = shape.workers * shape.slots;
  const failing = shape.jobs === 'fail';
  const b = boss(config as WorkerConfig, Math.min(loops + 2, 40), false);
  await b.start();
  return {
    async start() {
      // Stagger the loops over one polling interval, so that their polls do not coincide.
      for (let k = 0; k < loops; k++) {
        if (k > 0) await sleep((POLLING_SECONDS * 1000) / loops);
        await b.work<BenchPayload>(
          failing ? FAILING : QUEUE,
          { batchSize: BATCH_SIZE, pollingIntervalSeconds: POLLING_SECONDS },
          failing
            ? async (jobs) => {
                for (const job of jobs) hooks.done(job.data.i);
                throw new Error('the bench fails these jobs at once');
              }
            : async (jobs) => {
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
