/**
 * The common interface of every system the harness measures. Adding a system means writing one
 * more adapter (or, for a Switchyard configuration, one more `switchyardAdapter(...)` entry) and
 * adding it to the list in ./index.ts; the workloads only use this interface.
 */

/** Where the shared services are and how this run is set up. */
export interface BenchEnv {
  readonly pgUrl: string;
  readonly redis: { host: string; port: number };
  /** Run Switchyard brokers under `node --cpu-prof`, writing profiles here. */
  readonly cpuProfDir: string | null;
  /** A tag unique to this harness run (names of schemas, prefixes, profiles). */
  readonly runTag: string;
  log(message: string): void;
}

/** Names the instance: which workload and run it serves (used for profile names). */
export interface OpenContext {
  readonly label: string;
}

/** What a worker process is told to start: worker-side config from the adapter plus shape. */
export interface WorkerShape {
  /** Worker instances (connections) in the process. */
  readonly workers: number;
  /** Jobs each instance runs at once. */
  readonly slots: number;
  /**
   * Which jobs the workers take: `noop` (the default) runs the no-op jobs; `fail` takes only the
   * failing jobs (`enqueueFailing`, W6's fill) and fails each at once; `flood` takes only W8's
   * flooding jobs (`enqueueFlood`), each writing FLOOD_LINES_PER_S lines a second to its log.
   */
  readonly jobs?: 'noop' | 'fail' | 'flood' | 'sleep';
}

/** A fresh, empty instance of a system (its broker started, its schema or prefix new). */
export interface SystemInstance {
  /** Enqueues jobs `{ i }` for i in [from, from + count), in chunks with the bulk API. */
  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void>;
  /**
   * W8: enqueues one job `{ i, seconds }` of the flood queue (taken by `flood` workers), which
   * writes to the job's own log; absent for a system that keeps no per-job log.
   */
  enqueueFlood?(i: number, seconds: number): Promise<string>;
  /**
   * W3 fair: makes the default queue share its starts between the jobs' groups (fair
   * queueing); absent for a system without it.
   */
  useFairQueue?(): Promise<void>;
  /** Like `enqueueBulk`, job `i` in group `g<i mod groups>` (after `useFairQueue`). */
  enqueueGroupedBulk?(
    from: number,
    count: number,
    groups: number,
    signal: AbortSignal,
  ): Promise<void>;
  /** W9: enqueues `count` jobs `{ i, ms }` of the sleep queue; resolves with their ids. */
  enqueueSleepBulk?(from: number, count: number, ms: number): Promise<string[]>;
  /** W9: a queued job's estimated start (ms since the epoch, the broker's clock), or null. */
  etaOf?(id: string): Promise<number | null>;
  /** W9: when a job started (ms since the epoch, the broker's clock), or null. */
  startedAtOf?(id: string): Promise<number | null>;
  /** Enqueues one job `{ i }`; resolves with its id when the system acknowledged it. */
  enqueueOne(i: number): Promise<string>;
  /**
   * Resolves when the submitter knows the job completed, by the system's best mechanism
   * (described by the adapter's `completionKnown`); absent where there is none.
   */
  waitCompleted?(id: string, timeoutMs: number): Promise<void>;
  /** Sets up what `waitCompleted` needs (a subscription) before the first job. */
  prepareCompletion?(): Promise<void>;
  /**
   * Enqueues jobs `{ i }` for i in [from, from + count) in bulk that a `fail` worker fails at once:
   * in a queue (or of a type) of their own, `FAILING`, with one attempt, and kept once failed.
   */
  enqueueFailing(from: number, count: number, signal: AbortSignal): Promise<void>;
  /** The jobs the system holds as failed (attempts used up), counted by the system. */
  failedCount(): Promise<number>;
  /**
   * Retries every failed job with the system's own operation, walking them in chunks of
   * RETRY_CHUNK where the operation takes ids; resolves with the number it retried, or null where
   * the system does not say. Absent where the system has no such operation (W6 is then n/a).
   */
  retryFailed?(): Promise<number | null>;
  /**
   * Brings the planner statistics of the system's store up to date, as the server's background
   * maintenance would for a store that filled over time (W6 calls it after its fill, untimed).
   * Absent where there are none to refresh.
   */
  refreshStatistics?(): Promise<void>;
  /** Every job the instance holds, in any state (W7 checks that duplicates added none). */
  jobCount(): Promise<number>;
  /**
   * Like `enqueueBulk`, each job with its own uniqueness key `uniqueKey(i)`, held for
   * UNIQUE_SECONDS where the system takes a time (a resubmitted key adds no job).
   */
  enqueueUniqueBulk(from: number, count: number, signal: AbortSignal): Promise<void>;
  /** Like `enqueueOne`, with the uniqueness key `uniqueKey(i)`. */
  enqueueUniqueOne(i: number): Promise<string>;
  /** JSON handed to the worker side (`runWorker` of the adapter module) in the child. */
  workerConfig(): unknown;
  /**
   * Processes of the broker itself (Switchyard's, one per node; none for peers, whose server is
   * shared). Memory and CPU figures add up over them.
   */
  serverPids(): number[];
  /** The server's resident memory in bytes: Redis's own figure, or null where not known. */
  serverMemory(): Promise<number | null>;
  /** Stops and removes everything the instance made. Safe to call twice. */
  close(): Promise<void>;
}

export type SystemRole = 'subject' | 'peer' | 'variant';

export interface SystemAdapter {
  /** The name used with --systems and in the table. */
  readonly name: string;
  /**
   * `subject` is measured against the peers (ratios, targets); `peer` is a competitor;
   * `variant` is Switchyard in another configuration, shown beside them without ratios or
   * targets (and not counted as a peer).
   */
  readonly role: SystemRole;
  /** The machine's service it needs (checked, and started if down, before the run). */
  readonly service: 'redis' | 'postgres' | null;
  /** The module (relative to bench/) that exports `runWorker`, loaded in worker processes. */
  readonly workerModule: string;
  /** Whether W4 (many 1-slot workers) is meaningful for this system. */
  readonly manyWorkers: boolean;
  /** How the submitter learns of completion in W2, or null if the system offers no way. */
  readonly completionKnown: string | null;
  /** What `serverMemory` measures. */
  readonly memoryNote: string;
  /** The configuration used, one line per setting, for the output. */
  settings(): string[];
  /** What an enqueue acknowledgment promises on this machine (may ask the server). */
  durability(env: BenchEnv): Promise<string>;
  /** Starts a fresh instance. */
  open(env: BenchEnv, context: OpenContext): Promise<SystemInstance>;
}

/** The worker side of an adapter, run inside a forked worker process. */
export interface WorkerHooks {
  /** The handler of job `i` started. */
  started(i: number): void;
  /** Job `i` completed (as the system's worker side sees it). */
  done(i: number): void;
}

export interface WorkerRuntime {
  /** Begins taking jobs; resolves once it is taking them (or connected). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Exported as `runWorker` by every worker module: set up (not yet consuming). */
export type RunWorker = (
  config: unknown,
  shape: WorkerShape,
  hooks: WorkerHooks,
) => Promise<WorkerRuntime>;

/** A job's payload in every system. */
export interface BenchPayload {
  i: number;
  /** W8's flooding job: how long it writes to its log. */
  seconds?: number;
}

/** The queue (or job type) of W8's flooding job. */
export const FLOOD = 'flood';
/** W9's jobs: each sleeps `payload.ms` (queue and type `sleep`), on workers without prefetch. */
export const SLEEP = 'sleep';
/** W8: the lines a second the flooding job writes to its log, in ticks of FLOOD_TICK_MS. */
export const FLOOD_LINES_PER_S = 100_000;
export const FLOOD_TICK_MS = 10;

/**
 * W8's flood: `write(line)` FLOOD_LINES_PER_S times a second for `seconds`, a tick's lines at a
 * time (awaited, so that a system whose log call is slower writes fewer); resolves with the lines
 * written.
 */
export async function flood(
  seconds: number,
  write: (line: string) => void | Promise<unknown>,
): Promise<number> {
  const perTick = (FLOOD_LINES_PER_S * FLOOD_TICK_MS) / 1000;
  const end = Date.now() + seconds * 1000;
  let n = 0;
  while (Date.now() < end) {
    const tickEnd = Date.now() + FLOOD_TICK_MS;
    for (let k = 0; k < perTick; k++) {
      const written = write(`flood line ${n++} of the bench's log-flooding job\n`);
      if (written !== undefined) await written;
    }
    const rest = tickEnd - Date.now();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  return n;
}

/** The queue (or job type) of W6's failing jobs, apart from the no-op jobs. */
export const FAILING = 'fail';

/** Failed jobs per retry call of a peer that retries by ids, as Switchyard's walk commits them. */
export const RETRY_CHUNK = 500;

/** How long a uniqueness key holds (W7), where the system takes a time. */
export const UNIQUE_SECONDS = 3_600;

/** Job `i`'s uniqueness key in W7: distinct per job, so that every submission adds a job. */
export function uniqueKey(i: number): string {
  return `u${i}`;
}

/**
 * Jobs per bulk enqueue call, the same for every system (Switchyard's batch API takes up to
 * 10,000 and 1 MB; the peers' bulk calls have no lower limit).
 */
export const BULK_CHUNK = 5_000;

/**
 * Enqueues job indices `from` .. `from + count - 1` in chunks of BULK_CHUNK, one `send` each,
 * one after the other; stops between chunks when `signal` aborts.
 */
export async function enqueueInChunks(
  from: number,
  count: number,
  signal: AbortSignal,
  send: (indices: number[]) => Promise<unknown>,
): Promise<void> {
  for (let at = from; at < from + count; at += BULK_CHUNK) {
    signal.throwIfAborted();
    const n = Math.min(BULK_CHUNK, from + count - at);
    await send(Array.from({ length: n }, (_, k) => at + k));
  }
}
