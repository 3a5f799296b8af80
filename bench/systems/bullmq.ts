/**
 * BullMQ 6 on the machine's Redis (127.0.0.1:6379, no persistence). Fastest documented
 * configuration for no-op jobs: `addBulk` for bulk enqueue, a Worker with concurrency 32,
 * `removeOnComplete` (completed jobs are deleted, as graphile-worker does). Completion known to
 * the submitter: QueueEvents' `completed` event (Redis stream). Every instance uses its own key
 * prefix, deleted on close.
 */
import { Queue, QueueEvents, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type BenchEnv,
  type BenchPayload,
  type RunWorker,
  type SystemAdapter,
  type SystemInstance,
  BULK_CHUNK,
  FAILING,
  FLOOD,
  FLOOD_LINES_PER_S,
  RETRY_CHUNK,
  enqueueInChunks,
  flood,
  uniqueKey,
} from './types.js';

const QUEUE = 'noop';
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1000 };
/** W6's failing jobs: one attempt, every failed job kept (not only the last 1,000). */
const FAILING_OPTIONS = { attempts: 1, removeOnFail: false };

interface WorkerConfig {
  host: string;
  port: number;
  prefix: string;
}

let counter = 0;

class BullInstance implements SystemInstance {
  private readonly queue: Queue;
  /** W6's queue of failing jobs, opened on first use. */
  private failing: Queue | undefined;
  /** W8's queue of the flooding job, opened on first use. */
  private flooding: Queue | undefined;
  private events: QueueEvents | undefined;
  private readonly redis: Redis;
  /** Completions seen before anyone waited for them (the event may beat the add's reply). */
  private readonly seen = new Set<string>();
  private readonly waiters = new Map<string, () => void>();
  private closed = false;

  constructor(private readonly config: WorkerConfig) {
    const connection = { host: config.host, port: config.port };
    this.queue = new Queue(QUEUE, {
      connection,
      prefix: config.prefix,
      defaultJobOptions: JOB_OPTIONS,
    });
    this.redis = new Redis({ host: config.host, port: config.port, lazyConnect: true });
  }

  async init(): Promise<void> {
    await this.queue.waitUntilReady();
    await this.redis.connect();
  }

  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.queue.addBulk(indices.map((i) => ({ name: QUEUE, data: { i } }))),
    );
  }

  async enqueueOne(i: number): Promise<string> {
    const job = await this.queue.add(QUEUE, { i });
    return job.id as string;
  }

  /** W8: one job on its own queue, taken by the `flood` worker. */
  async enqueueFlood(i: number, seconds: number): Promise<string> {
    this.flooding ??= new Queue(FLOOD, {
      connection: this.connection(),
      prefix: this.config.prefix,
    });
    const job = await this.flooding.add(FLOOD, { i, seconds }, JOB_OPTIONS);
    return job.id as string;
  }

  private failingQueue(): Queue {
    this.failing ??= new Queue(FAILING, {
      connection: this.connection(),
      prefix: this.config.prefix,
      defaultJobOptions: FAILING_OPTIONS,
    });
    return this.failing;
  }

  private connection(): ConnectionOptions {
    return { host: this.config.host, port: this.config.port };
  }

  enqueueFailing(from: number, count: number, signal: AbortSignal): Promise<void> {
    const queue = this.failingQueue();
    return enqueueInChunks(from, count, signal, (indices) =>
      queue.addBulk(indices.map((i) => ({ name: FAILING, data: { i } }))),
    );
  }

  async failedCount(): Promise<number> {
    return this.failing === undefined ? 0 : await this.failing.getFailedCount();
  }

  /** Queue.retryJobs moves the failed jobs back to waiting, RETRY_CHUNK per Lua call. */
  async retryFailed(): Promise<null> {
    await this.failingQueue().retryJobs({ state: 'failed', count: RETRY_CHUNK });
    return null;
  }

  async jobCount(): Promise<number> {
    const queues = this.failing === undefined ? [this.queue] : [this.queue, this.failing];
    let total = 0;
    for (const queue of queues) {
      const counts = await queue.getJobCounts();
      for (const n of Object.values(counts)) total += n;
    }
    return total;
  }

  /** The job id is the key: BullMQ adds no job whose id it holds (until the job is removed). */
  enqueueUniqueBulk(from: number, count: number, signal: AbortSignal): Promise<void> {
    return enqueueInChunks(from, count, signal, (indices) =>
      this.queue.addBulk(
        indices.map((i) => ({ name: QUEUE, data: { i }, opts: { jobId: uniqueKey(i) } })),
      ),
    );
  }

  async enqueueUniqueOne(i: number): Promise<string> {
    const job = await this.queue.add(QUEUE, { i }, { jobId: uniqueKey(i) });
    return job.id as string;
  }

  async waitCompleted(id: string, timeoutMs: number): Promise<void> {
    await this.listen();
    if (this.seen.delete(id)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`job ${id} not completed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async listen(): Promise<void> {
    if (this.events !== undefined) return;
    this.events = new QueueEvents(QUEUE, {
      connection: { host: this.config.host, port: this.config.port },
      prefix: this.config.prefix,
    });
    this.events.on('completed', ({ jobId }) => {
      const waiter = this.waiters.get(jobId);
      if (waiter === undefined) {
        this.seen.add(jobId);
        return;
      }
      this.waiters.delete(jobId);
      waiter();
    });
    await this.events.waitUntilReady();
  }

  /** Starts listening for completion events before the first job (W2 calls it early). */
  prepareCompletion(): Promise<void> {
    return this.listen();
  }

  workerConfig(): WorkerConfig {
    return this.config;
  }

  serverPids(): number[] {
    return [];
  }

  async serverMemory(): Promise<number | null> {
    const info = await this.redis.info('memory');
    const m = /used_memory_rss:(\d+)/.exec(info);
    return m ? Number(m[1]) : null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.events?.close().catch(() => undefined);
    await this.failing?.close().catch(() => undefined);
    await this.flooding?.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    // Delete the instance's keys (UNLINK in batches), not the whole database.
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.config.prefix}:*`,
        'COUNT',
        10_000,
      );
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== '0');
    this.redis.disconnect();
  }
}

export const bullmq: SystemAdapter = {
  name: 'bullmq',
  role: 'peer',
  service: 'redis',
  workerModule: './systems/bullmq.js',
  manyWorkers: false,
  completionKnown: "QueueEvents 'completed' event (Redis stream, XREAD BLOCK)",
  memoryNote: 'Redis used_memory_rss (the whole Redis server)',
  settings: () => [
    'BullMQ 6, Redis 127.0.0.1:6379 (no persistence: save "" and appendonly no)',
    `submit: Queue.addBulk (chunks of ${BULK_CHUNK}), Queue.add one by one; removeOnComplete: true`,
    'worker: one Worker, concurrency 32, in a separate process',
    `W6: failed jobs made by a Worker failing each job of the queue \`${FAILING}\` (attempts 1, removeOnFail false) at once; ` +
      `retried with Queue.retryJobs({state: 'failed', count: ${RETRY_CHUNK}}) (Lua, ${RETRY_CHUNK} jobs per call)`,
    `W8: the flooding job (queue \`${FLOOD}\`, its own worker process) calls job.log() up to ${FLOOD_LINES_PER_S} ` +
      'times a second, one line each, awaiting each (one Redis call per line; every line kept)',
    'W7: each job with its own `jobId` (BullMQ adds no job whose id it holds; it holds it until the job is removed, no time limit)',
  ],
  async durability(env: BenchEnv): Promise<string> {
    const redis = new Redis({ host: env.redis.host, port: env.redis.port, lazyConnect: true });
    try {
      await redis.connect();
      const aof = ((await redis.config('GET', 'appendonly')) as string[])[1] ?? '?';
      const save = ((await redis.config('GET', 'save')) as string[])[1] ?? '?';
      const durable = aof === 'yes' || save !== '';
      return (
        `add resolves = job written to Redis memory; Redis here: appendonly=${aof}, save="${save}"` +
        (durable ? '' : ': NOT durable, a Redis restart loses the jobs')
      );
    } finally {
      redis.disconnect();
    }
  },
  async open(env: BenchEnv): Promise<SystemInstance> {
    const instance = new BullInstance({
      host: env.redis.host,
      port: env.redis.port,
      prefix: `bench-${env.runTag}-${++counter}`,
    });
    try {
      await instance.init();
    } catch (error) {
      await instance.close().catch(() => undefined);
      throw error;
    }
    return instance;
  },
};

/**
 * The worker side: a BullMQ Worker with concurrency `slots`, started on `start`; with shape
 * `fail`, on the queue `fail`, failing each job at once.
 */
export const runWorker: RunWorker = (config, shape, hooks) => {
  const { host, port, prefix } = config as WorkerConfig;
  const failing = shape.jobs === 'fail';
  const flooding = shape.jobs === 'flood';
  const processor = flooding
    ? async (job: Job<BenchPayload>): Promise<number> => {
        hooks.started(job.data.i);
        return flood(job.data.seconds ?? 1, (line) => job.log(line));
      }
    : failing
      ? async (job: Job<BenchPayload>): Promise<never> => {
          hooks.started(job.data.i);
          throw new Error('the bench fails this job at once');
        }
      : async (job: Job<BenchPayload>): Promise<null> => {
          hooks.started(job.data.i);
          return null;
        };
  const workers = Array.from(
    { length: shape.workers },
    () =>
      new Worker<BenchPayload>(flooding ? FLOOD : failing ? FAILING : QUEUE, processor, {
        connection: { host, port, maxRetriesPerRequest: null },
        prefix,
        concurrency: shape.slots,
        autorun: false,
      }),
  );
  for (const worker of workers) {
    worker.on('completed', (job) => hooks.done(job.data.i));
    if (failing) worker.on('failed', (job) => hooks.done(job?.data.i ?? -1));
  }
  return Promise.resolve({
    async start() {
      for (const worker of workers) {
        void worker.run();
        await worker.waitUntilReady();
      }
    },
    async close() {
      await Promise.all(workers.map((w) => w.close(true)));
    },
  });
};
