/**
 * The SQLite Store: the default, single-node backend, one file with zero configuration.
 *
 * Open it with `SqliteStore.open({ path })`. Opening creates the file if needed and runs the
 * migrations (refusing a database written by a newer Switchyard). Writes go through one writer
 * connection, one `write` at a time; reads go through a second, read-only connection and see
 * committed state only. All SQL lives in this directory, one module per concern.
 *
 * Leaky spots, admitted: better-sqlite3 is synchronous, so a statement blocks the event loop
 * while it runs (statements here are index lookups, kept short on purpose), and waiting for
 * another process's lock (busy_timeout) blocks it too. One broker process per file is the
 * intended use.
 *
 * Storage faults (a full disk, a read-only file system, an I/O error) reject the write or read
 * they hit with a StoreUnavailableError (faults.ts) and leave nothing behind: the next write
 * begins afresh, so the store works again as soon as the disk does. Leaky spot, admitted: a
 * file system that had to be unmounted to be repaired is not followed, since the connections
 * keep their files open; the broker must then be restarted.
 */
import type { JobRecord } from '../../domain/job.js';
import type { QueueRecord } from '../../domain/queues.js';
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
import { openReader, openWriter, type Conn } from './connection.js';
import { sqliteStoreError } from './faults.js';
import { migrate } from './migrations.js';
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
import { outboxBacklog, outboxNextAt } from './outbox.js';
import { scheduleGet, scheduleList, scheduleNextAt } from './schedules.js';
import { needsList, nodeList, settingGet, workerGet, workerList } from './registry.js';
import { blocklistList, usageList, workerControlGet } from './worker-control.js';
import type { Block } from '../../domain/blocklist.js';
import type { UsageResolution, UsageSample } from '../../domain/usage.js';
import type { WorkerControl } from '../../domain/worker-control.js';
import { SqliteTx } from './tx.js';
import { jobQueuedAhead, limitList, queueList, queueSummary, runningCounts } from './queues.js';

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /** The database file; created (not its directory) if missing. */
  path: string;
  /**
   * Sync every commit to disk before `write` resolves (default true). False trades the last
   * commits before a power loss (never consistency) for speed; for tests and benchmarks.
   */
  durable?: boolean;
}

/** The SQLite Store; see the file comment. */
export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities;
  /** Serializes writes: each `write` starts after the previous one has settled. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly subscribers = new Set<ClusterHandler>();

  private constructor(
    private readonly writer: Conn,
    private readonly reader: Conn,
    /** The database file, whose directory is probed to explain an I/O error (faults.ts). */
    private readonly path: string,
    durable: boolean,
  ) {
    this.capabilities = { name: 'sqlite', multiNode: false, durableCommit: durable };
  }

  /** Opens (creating and migrating as needed) the database at `options.path`. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const durable = options.durable ?? true;
    let writer: Conn | undefined;
    let reader: Conn | undefined;
    try {
      writer = openWriter(options.path, durable);
      migrate(writer.db);
      reader = openReader(options.path);
      return new SqliteStore(writer, reader, options.path, durable);
    } catch (error) {
      reader?.close();
      writer?.close();
      // A broker started on a full or read-only disk says so (and exits 4, not 70).
      throw sqliteStoreError(error, 'open', options.path);
    }
  }

  /**
   * BEGIN IMMEDIATE, run `fn`, COMMIT; ROLLBACK and rethrow if it throws. A write called while
   * another runs waits for it. Do not call `write` from inside `fn`: it would wait for itself.
   */
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const run = this.tail.then(() => this.transaction(fn));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const w = this.writer;
    try {
      // A ROLLBACK that failed (an I/O error) left the transaction open: end it now, or no
      // write would ever BEGIN again after the fault clears.
      if (w.db.inTransaction) w.stmt('ROLLBACK').run();
      w.stmt('BEGIN IMMEDIATE').run();
    } catch (error) {
      throw sqliteStoreError(error, 'write', this.path);
    }
    const tx = new SqliteTx(w);
    try {
      const result = await fn(tx);
      tx.end();
      w.stmt('COMMIT').run();
      // Delivered apart from the write, so that a subscriber cannot make a committed write fail.
      for (const [channel, payload] of tx.published) {
        for (const handler of this.subscribers) queueMicrotask(() => handler(channel, payload));
      }
      return result;
    } catch (error) {
      tx.end();
      this.rollback();
      throw sqliteStoreError(error, 'write', this.path);
    }
  }

  /**
   * Rolls back, unless SQLite already has (it does by itself after SQLITE_FULL, for one). If
   * that fails too, the next write ends the transaction; the first error is the one to report.
   */
  private rollback(): void {
    const w = this.writer;
    if (!w.db.inTransaction) return;
    try {
      w.stmt('ROLLBACK').run();
    } catch {
      // See above.
    }
  }

  /** Waits for the writes already called, then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    // The reader first: the last connection to close checkpoints the WAL into the database.
    this.reader.close();
    this.writer.close();
  }

  /** Runs a read on the reader; a storage fault becomes a StoreUnavailableError. */
  private async read<T>(fn: (reader: Conn) => T): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    try {
      return fn(this.reader);
    } catch (error) {
      throw sqliteStoreError(error, 'read', this.path);
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

  async jobNextRunAt(): Promise<number | null> {
    return this.read((r) => jobNextRunAt(r));
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

  /** One process owns the file, so what it publishes reaches only its own subscribers. */
  subscribe(handler: ClusterHandler): () => void {
    this.subscribers.add(handler);
    return () => this.subscribers.delete(handler);
  }

  /** One node per file: it always leads. */
  async lead(): Promise<boolean> {
    if (this.closed) throw new Error('the store is closed');
    return true;
  }
}
