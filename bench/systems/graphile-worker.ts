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
  enqueueInChunks,
} from './types.js';
import { commitPromise, dropSchema } from './postgres.js';

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

  constructor(
    private readonly config: WorkerConfig,
    private readonly utils: WorkerUtils,
  ) {}

  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.utils.addJobs(indices.map((i) => ({ identifier: TASK, payload: { i } }))),
    );
  }

  async enqueueOne(i: number): Promise<string> {
    return (await this.utils.addJob(TASK, { i })).id;
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

/** The worker side: one runner with `slots` concurrent jobs, started on `start`. */
export const runWorker: RunWorker = (config, shape, hooks) => {
  const { connectionString, schema } = config as WorkerConfig;
  let runner: Runner | undefined;
  return Promise.resolve({
    async start() {
      runner = await run({
        noHandleSignals: true,
        taskList: {
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
    },
    async close() {
      await runner?.stop();
    },
  });
};
