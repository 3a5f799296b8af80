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
}

/** A fresh, empty instance of a system (its broker started, its schema or prefix new). */
export interface SystemInstance {
  /** Enqueues jobs `{ i }` for i in [from, from + count), in chunks with the bulk API. */
  enqueueBulk(from: number, count: number, signal: AbortSignal): Promise<void>;
  /** Enqueues one job `{ i }`; resolves with its id when the system acknowledged it. */
  enqueueOne(i: number): Promise<string>;
  /**
   * Resolves when the submitter knows the job completed, by the system's best mechanism
   * (described by the adapter's `completionKnown`); absent where there is none.
   */
  waitCompleted?(id: string, timeoutMs: number): Promise<void>;
  /** Sets up what `waitCompleted` needs (a subscription) before the first job. */
  prepareCompletion?(): Promise<void>;
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
