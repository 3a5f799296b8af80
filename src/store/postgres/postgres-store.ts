/**
 * The PostgreSQL Store: the backend for several broker nodes sharing one database.
 *
 * Open it with `PostgresStore.open({ url, schema? })`. Opening creates the schema if needed and
 * runs the migrations (refusing a schema written by a newer Switchyard), then opens the session
 * connection that LISTENs for what other nodes publish and holds the leadership lock.
 *
 * Writes: one `write` at a time per store, each one transaction on one pooled connection, as in
 * SQLite, so that the broker's group commits behave the same on both. Several stores (nodes) on
 * one schema write concurrently; claims lock rows with SKIP LOCKED so that they never hand one
 * job to two workers (jobs-claim.ts). Reads use the pool and see committed state only.
 *
 * Storage faults (the server down or restarting, its disk full, a read-only database) reject
 * the write or read they hit with a StoreUnavailableError (faults.ts); the connection that met
 * one is discarded, so that the next operation starts on a fresh one.
 *
 * All SQL lives in this directory, one module per concern, mirroring src/store/sqlite/.
 */
import { Pool, type PoolClient } from 'pg';
import type { JobRecord } from '../../domain/job.js';
import type { DependencyState } from '../../domain/transitions.js';
import type {
  ClusterHandler,
  FailedGroupRow,
  JobCounts,
  QueueStateCount,
  JobQuery,
  JobSelector,
  JobMessage,
  LogEntry,
  NeedsRecord,
  NodeRecord,
  QueuedRef,
  RunningJob,
  Store,
  StoreCapabilities,
  ScheduleRecord,
  StoreTx,
  WorkerRecord,
  QueueSummaryRow,
  RunningCount,
} from '../store.js';
import { jobQueuedAhead, limitList, queueList, queueSummary, runningCounts } from './queues.js';
import type { QueueRecord } from '../../domain/queues.js';
import { isStoreUnavailable } from '../faults.js';
import { channelName, clientConfig, lockKey, type Queryable } from './connection.js';
import { jobDependencyView } from './jobs-deps.js';
import {
  failedGroups,
  jobCounts,
  jobCountsByQueue,
  jobGet,
  jobListOrphans,
  jobListRunningByWorker,
  jobLogs,
  jobNextRunAt,
  jobQueuedRefs,
} from './jobs-read.js';
import { jobMessages } from './messages.js';
import { jobCount, jobList, jobSelectIds } from './jobs-select.js';
import { postgresStoreError } from './faults.js';
import { parseLocation, type Location } from './location.js';
import { migrate } from './migrations.js';
import { outboxBacklog, outboxNextAt } from './outbox.js';
import { needsList, nodeList, settingGet, workerGet, workerList } from './registry.js';
import { scheduleGet, scheduleList, scheduleNextAt } from './schedules.js';
import { blocklistList, usageList, workerControlGet } from './worker-control.js';
import type { Block } from '../../domain/blocklist.js';
import type { UsageResolution, UsageSample } from '../../domain/usage.js';
import type { WorkerControl } from '../../domain/worker-control.js';
import { Session } from './session.js';
import { decodeMessage, PostgresTx } from './tx.js';

/** How to open a PostgreSQL store. */
export interface PostgresStoreOptions {
  /** `postgres://` or `postgresql://` URL; a `schema` query parameter selects the schema. */
  url: string;
  /** The schema to use (created if missing); wins over the URL's. Default `public`. */
  schema?: string;
  /** Pooled connections for writes and reads (default 10), besides the session connection. */
  poolSize?: number;
  /**
   * Told of failures the store recovers from by itself (a dropped session connection, an idle
   * pooled connection closed by the server, a subscriber that threw). Default: ignored.
   */
  onError?: (error: Error) => void;
}

const DEFAULT_POOL_SIZE = 10;

/** The PostgreSQL Store; see the file comment. */
export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities = {
    name: 'postgres',
    multiNode: true,
    durableCommit: true,
  };
  /** Serializes writes: each `write` starts after the previous one has settled. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly subscribers = new Set<ClusterHandler>();
  private readonly session: Session;

  private constructor(
    private readonly pool: Pool,
    readonly location: Location,
    private readonly onError: (error: Error) => void,
  ) {
    this.session = new Session({
      config: clientConfig(location, 'switchyard-session'),
      channel: channelName(location.schema),
      leadKey: lockKey('lead', location.schema),
      onMessage: (text) => this.deliver(text),
      onError,
    });
  }

  /** Opens the store, creating and migrating its schema as needed. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const location = parseLocation(options.url, options.schema);
    const onError = options.onError ?? (() => undefined);
    const pool = new Pool({
      ...clientConfig(location, 'switchyard'),
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
    });
    // An idle pooled connection the server closes emits 'error' on the pool; unheard, it
    // would crash the process. The pool drops that connection and makes a new one on demand.
    pool.on('error', (error) => onError(new Error(`a pooled connection failed: ${error.message}`)));
    const store = new PostgresStore(pool, location, onError);
    try {
      await store.migrate();
      await store.session.start();
      return store;
    } catch (error) {
      await store.session.close();
      await pool.end().catch(() => undefined);
      // A broker started while its database is down says so (and exits 4, not 70).
      const fault = postgresStoreError(error, 'open', location.description);
      if (fault !== error) throw fault;
      throw new Error(
        `cannot open the PostgreSQL store ${location.description}: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await migrate(client, this.location.schema, this.location.description);
    } finally {
      client.release();
    }
  }

  /**
   * BEGIN, run `fn`, publish, COMMIT; ROLLBACK and rethrow if anything throws. A write called
   * while another runs waits for it. Do not call `write` from inside `fn`: it would wait for
   * itself.
   */
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const run = this.tail.then(() => this.transaction(fn));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw postgresStoreError(error, 'write');
    }
    // The pool listens for 'error' only on idle connections. A server that ends this one
    // between two statements (a restart, pg_terminate_backend) would crash the process with an
    // unheard 'error' event; heard, it makes the next statement fail, as a fault.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    let discard: Error | boolean = false;
    const tx = new PostgresTx(client, channelName(this.location.schema));
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await tx.flush();
      tx.end();
      await client.query('COMMIT');
      return result;
    } catch (error) {
      tx.end();
      const thrown = postgresStoreError(error, 'write');
      // A connection whose rollback failed is in an unknown state; one that met a fault may be
      // dead, or read-only for good (a session of a standby): the pool discards either, so
      // that the next write gets a fresh one and succeeds once the fault clears.
      discard = (await rollback(client)) ?? isStoreUnavailable(thrown);
      throw thrown;
    } finally {
      client.off('error', ignore);
      client.release(discard);
    }
  }

  /** Waits for the writes already called, then closes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await this.tail;
    this.subscribers.clear();
    await this.session.close();
    await this.pool.end();
  }

  /** Runs a read on the pool; a storage fault becomes a StoreUnavailableError. */
  private async read<T>(fn: (pool: Queryable) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    try {
      return await fn(this.pool);
    } catch (error) {
      throw postgresStoreError(error, 'read');
    }
  }

  async jobGet(id: number): Promise<JobRecord | undefined> {
    return this.read((r) => jobGet(r, id));
  }

  async jobList(query: JobQuery): Promise<JobRecord[]> {
    return this.read((r) => jobList(r, query));
  }

  async jobSelectIds(selector: JobSelector, afterId: number, limit: number): Promise<number[]> {
    return this.read((r) => jobSelectIds(r, selector, afterId, limit));
  }

  async jobCount(selector: JobSelector): Promise<number> {
    return this.read((r) => jobCount(r, selector));
  }

  async jobDependencyView(
    id: number,
  ): Promise<{ dependencies: DependencyState[]; dependents: number[] }> {
    return this.read((r) => jobDependencyView(r, id));
  }

  async failedGroups(
    by: 'queue' | 'type' | 'error',
    limit: number,
  ): Promise<{ total: number; groups: FailedGroupRow[] }> {
    return this.read((r) => failedGroups(r, by, limit));
  }

  async jobLogs(id: number, afterSeq: number, limit: number): Promise<LogEntry[]> {
    return this.read((r) => jobLogs(r, id, afterSeq, limit));
  }

  async jobMessages(id: number, afterSeq: number, limit: number): Promise<JobMessage[]> {
    return this.read((r) => jobMessages(r, id, afterSeq, limit));
  }

  async jobCounts(): Promise<JobCounts> {
    return this.read((r) => jobCounts(r));
  }

  async jobCountsByQueue(): Promise<QueueStateCount[]> {
    return this.read((r) => jobCountsByQueue(r));
  }

  async queueList(): Promise<QueueRecord[]> {
    return this.read((r) => queueList(r));
  }

  async queueSummary(): Promise<QueueSummaryRow[]> {
    return this.read((r) => queueSummary(r));
  }

  async limitList(): Promise<Array<{ name: string; max: number }>> {
    return this.read((r) => limitList(r));
  }

  async runningCounts(): Promise<RunningCount[]> {
    return this.read((r) => runningCounts(r));
  }

  async jobQueuedAhead(id: number, cap: number): Promise<number | null> {
    return this.read((r) => jobQueuedAhead(r, id, cap));
  }

  async jobNextRunAt(): Promise<number | null> {
    return this.read((r) => jobNextRunAt(r));
  }

  async jobListOrphans(liveNodeIds: readonly string[], limit: number): Promise<RunningJob[]> {
    return this.read((r) => jobListOrphans(r, liveNodeIds, limit));
  }

  async jobListRunningByWorker(workerId: string): Promise<RunningJob[]> {
    return this.read((r) => jobListRunningByWorker(r, workerId));
  }

  async jobQueuedRefs(afterId: number, limit: number): Promise<QueuedRef[]> {
    return this.read((r) => jobQueuedRefs(r, afterId, limit));
  }

  async needsList(): Promise<NeedsRecord[]> {
    return this.read((r) => needsList(r));
  }

  async workerList(): Promise<WorkerRecord[]> {
    return this.read((r) => workerList(r));
  }

  async workerGet(id: string): Promise<WorkerRecord | undefined> {
    return this.read((r) => workerGet(r, id));
  }

  async workerControlGet(workerId: string): Promise<WorkerControl | undefined> {
    return this.read((r) => workerControlGet(r, workerId));
  }

  async blocklistList(query: {
    workerId?: string;
    pairs?: ReadonlyArray<{ queue: string; type: string }>;
  }): Promise<Block[]> {
    return this.read((r) => blocklistList(r, query));
  }

  async usageList(query: {
    workerId: string;
    resolution: UsageResolution;
    since: number;
    limit: number;
  }): Promise<UsageSample[]> {
    return this.read((r) => usageList(r, query));
  }

  async nodeList(): Promise<NodeRecord[]> {
    return this.read((r) => nodeList(r));
  }

  async settingGet(key: string): Promise<string | undefined> {
    return this.read((r) => settingGet(r, key));
  }

  async scheduleList(): Promise<ScheduleRecord[]> {
    return this.read((r) => scheduleList(r));
  }

  async scheduleGet(name: string): Promise<ScheduleRecord | undefined> {
    return this.read((r) => scheduleGet(r, name));
  }

  async scheduleNextAt(): Promise<number | null> {
    return this.read((r) => scheduleNextAt(r));
  }

  async outboxBacklog(): Promise<number> {
    return this.read((r) => outboxBacklog(r));
  }

  async outboxNextAt(): Promise<number | null> {
    return this.read((r) => outboxNextAt(r));
  }

  /** Receives what every store on this schema publishes, this one's included, after commit. */
  subscribe(handler: ClusterHandler): () => void {
    this.subscribers.add(handler);
    return () => this.subscribers.delete(handler);
  }

  /** A notification from the session: to each subscriber, none able to stop the others. */
  private deliver(text: string): void {
    const message = decodeMessage(text);
    if (message === undefined || this.closed) return;
    for (const handler of [...this.subscribers]) {
      try {
        handler(message.channel, message.payload);
      } catch (error) {
        this.onError(new Error(`a cluster subscriber threw: ${messageOf(error)}`));
      }
    }
  }

  /** True while this store's session holds the schema's leadership lock; see session.ts. */
  async lead(): Promise<boolean> {
    if (this.closed) throw new Error('the store is closed');
    return this.session.lead();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Rolls back; returns the error if that failed too (the connection is then unusable). */
async function rollback(client: PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
