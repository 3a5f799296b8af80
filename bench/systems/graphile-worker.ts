/**
 * graphile-worker 0.17 on the machine's PostgreSQL, in a fresh schema per instance (dropped on
 * close). Fastest documented configuration (https://worker.graphile.org/docs/performance):
 * the local queue (jobs fetched and locked in batches) and batched completion, concurrency 32.
 * Bulk enqueue: `addJobs` (one statement per chunk); one by one: `addJob`.
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';
import {
  type BenchEnv,
  type BenchPayload,
  type RunWorker,
  type SystemAdapter,
  type SystemInstance,
  BULK_CHUNK,
  FAILING,
  RETRY_CHUNK,
  enqueueInChunks,
  uniqueKey,
} from './types.js';
import { analyzeSchema, commitPromise, dropSchema } from './postgres.js';

const TASK = 'noop';
const LOCAL_QUEUE_SIZE = 500;
const COMPLETE_BATCH_DELAY_MS = 0;
const POOL = 32;

interface WorkerConfig {
  connectionString: string;
  schema: string;
}

/** graphile-worker logs every job at info; the benchmark wants silence. */
const silent = new Logger(() => () => undefined);

let counter = 0;

class GraphileInstance implements SystemInstance {
  private closed = false;
  /** The instance's schema, quoted for SQL. */
  private readonly schema: string;

  constructor(
    private readonly config: WorkerConfig,
    private readonly utils: WorkerUtils,
  ) {
    this.schema = `"${config.schema}"`;
  }

  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.utils.addJobs(indices.map((i) => ({ identifier: TASK, payload: { i } }))),
    );
  }

  async enqueueOne(i: number): Promise<string> {
    return (await this.utils.addJob(TASK, { i })).id;
  }

  enqueueFailing(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.utils.addJobs(
        indices.map((i) => ({ identifier: FAILING, payload: { i }, maxAttempts: 1 })),
      ),
    );
  }

  /** graphile-worker keeps a job that used up its attempts, unlocked: that is its failed job. */
  async failedCount(): Promise<number> {
    return this.count('attempts >= max_attempts and locked_at is null');
  }

  /**
   * graphile-worker has no retry of failed jobs by state. WorkerUtils.rescheduleJobs(ids, ...)
   * is documented to "schedule a previously failed or permanently failed job for execution",
   * but it passes `attempts: 0` on as null (`|| null`), so the SQL function it calls,
   * reschedule_jobs, is called directly. It takes ids: walk the failed jobs of the `jobs` view
   * by id, RETRY_CHUNK at a time, as Switchyard walks its filter, and reschedule each chunk to
   * run now with its attempts reset.
   */
  async retryFailed(): Promise<number> {
    let after = '0';
    let changed = 0;
    for (;;) {
      const chunk = await this.utils.withPgClient((client) =>
        client.query<{ id: string }>(
          // `jobs.id`: a bare `id` would sort by the text column of the select list.
          `select id::text from ${this.schema}.jobs ` +
            'where attempts >= max_attempts and locked_at is null and id > $1::bigint order by jobs.id limit $2',
          [after, RETRY_CHUNK],
        ),
      );
      const ids = chunk.rows.map((r) => r.id);
      if (ids.length === 0) return changed;
      after = ids[ids.length - 1]!;
      const done = await this.utils.withPgClient((client) =>
        client.query<{ n: number }>(
          `select count(*)::int as n from ${this.schema}.reschedule_jobs($1::bigint[], run_at := now(), attempts := 0)`,
          [ids],
        ),
      );
      changed += done.rows[0]?.n ?? 0;
    }
  }

  refreshStatistics(): Promise<void> {
    return analyzeSchema(this.config.connectionString, this.config.schema);
  }

  jobCount(): Promise<number> {
    return this.count('true');
  }

  private async count(where: string): Promise<number> {
    const result = await this.utils.withPgClient((client) =>
      client.query<{ n: number }>(
        `select count(*)::int as n from ${this.schema}.jobs where ${where}`,
      ),
    );
    return result.rows[0]?.n ?? 0;
  }

  enqueueUniqueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.utils.addJobs(
        indices.map((i) => ({ identifier: TASK, payload: { i }, jobKey: uniqueKey(i) })),
      ),
    );
  }

  async enqueueUniqueOne(i: number): Promise<string> {
    return (await this.utils.addJob(TASK, { i }, { jobKey: uniqueKey(i) })).id;
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
    await Promise.resolve(this.utils.release()).catch(() => undefined);
    await dropSchema(this.config.connectionString, this.config.schema);
  }
}

export const graphileWorker: SystemAdapter = {
  name: 'graphile-worker',
  role: 'peer',
  service: 'postgres',
  workerModule: './systems/graphile-worker.js',
  manyWorkers: false,
  completionKnown: null,
  memoryNote: 'n/a (PostgreSQL server memory not attributed)',
  settings: () => [
    'graphile-worker 0.17, PostgreSQL 127.0.0.1:5432, fresh schema per instance',
    `submit: WorkerUtils.addJobs (chunks of ${BULK_CHUNK}), addJob one by one; pool ${POOL}`,
    `worker: run() with concurrentJobs 32, localQueue.size ${LOCAL_QUEUE_SIZE}, ` +
      `completeJobBatchDelay ${COMPLETE_BATCH_DELAY_MS} ms, failJobBatchDelay ${COMPLETE_BATCH_DELAY_MS} ms, in a separate process`,
    `W6: failed jobs made by a runner failing each \`${FAILING}\` job (maxAttempts 1) at once; no retry by state, so the ` +
      `failed jobs (attempts >= max_attempts) are walked by id in the \`jobs\` view, ${RETRY_CHUNK} at a time, each chunk ` +
      'rescheduled with reschedule_jobs(ids, run_at := now(), attempts := 0), the SQL function behind WorkerUtils.rescheduleJobs',
    'W7: each job with its own `jobKey` (default mode `replace`: a pending job with the key is updated, no job added; ' +
      'no time limit, the key is free once its job is gone)',
  ],
  durability: (env: BenchEnv) => commitPromise(env.pgUrl),
  async open(env: BenchEnv): Promise<SystemInstance> {
    const schema = `bench_gw_${env.runTag}_${++counter}`;
    const config = { connectionString: env.pgUrl, schema };
    const utils = await makeWorkerUtils({ ...config, maxPoolSize: POOL, logger: silent });
    try {
      await utils.migrate();
    } catch (error) {
      await Promise.resolve(utils.release()).catch(() => undefined);
      await dropSchema(env.pgUrl, schema).catch(() => undefined);
      throw error;
    }
    return new GraphileInstance(config, utils);
  },
};

/**
 * The worker side: one runner with `slots` concurrent jobs, started on `start`; with shape `fail`,
 * it runs only the task `fail`, which fails each job at once.
 */
export const runWorker: RunWorker = (config, shape, hooks) => {
  const { connectionString, schema } = config as WorkerConfig;
  const failing = shape.jobs === 'fail';
  let runner: Runner | undefined;
  return Promise.resolve({
    async start() {
      runner = await run({
        noHandleSignals: true,
        taskList: failing
          ? {
              [FAILING]: async (payload) => {
                hooks.started((payload as BenchPayload).i);
                throw new Error('the bench fails this job at once');
              },
            }
          : {
              [TASK]: async (payload) => {
                hooks.started((payload as BenchPayload).i);
              },
            },
        preset: {
          worker: {
            connectionString,
            schema,
            concurrentJobs: shape.slots,
            maxPoolSize: shape.slots + 4,
            logger: silent,
            localQueue: { size: LOCAL_QUEUE_SIZE },
            completeJobBatchDelay: COMPLETE_BATCH_DELAY_MS,
            failJobBatchDelay: COMPLETE_BATCH_DELAY_MS,
          },
        },
      });
      runner.events.on('job:success', ({ job }) => hooks.done((job.payload as BenchPayload).i));
      if (failing) {
        runner.events.on('job:failed', ({ job }) => hooks.done((job.payload as BenchPayload).i));
      }
    },
    async close() {
      await runner?.stop();
    },
  });
};
