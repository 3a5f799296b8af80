/**
 * Group commit. Everything the broker writes goes through here: operations queued during one
 * turn of the event loop run in one store transaction, then one commit (one disk sync) makes them
 * all durable, and only then are their callers answered (`201`, result acks, assignments).
 *
 * Operations must not change in-memory state while they run: the transaction may still roll
 * back. They say what to do once it is durable with `ctx.afterCommit`. Hooks (the dispatcher)
 * run at the end of every transaction, so that a job inserted or a slot freed in this batch is
 * dispatched in the same commit.
 */
import type { Logger } from 'pino';
import { isStoreUnavailable } from '../store/faults.js';
import type { Store, StoreTx } from '../store/store.js';

/** What an operation may do besides writing: defer effects until the commit is durable. */
export interface BatchContext {
  afterCommit(effect: () => void): void;
  /** Scratch space shared by the operations and hooks of one batch (keyed by owner). */
  readonly scratch: Map<symbol, unknown>;
}

export type Operation<T> = (tx: StoreTx, ctx: BatchContext) => Promise<T>;
export type Hook = (tx: StoreTx, ctx: BatchContext) => Promise<void>;

interface Pending {
  op: Operation<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class Committer {
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;
  private poked = false;
  private closed = false;
  private readonly hooks: Hook[] = [];
  private readonly finalHooks: Hook[] = [];
  private readonly rollbackListeners: Array<() => void> = [];
  private readonly committedListeners: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  /** A batch's operations are running; its hooks have not started. */
  private beforeHooks = false;
  /** Batches committed and the operations in them, for stats and tests. */
  batches = 0;
  operations = 0;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Told how long each transaction took, committed or not (seconds; the metrics). */
    private readonly timed: ((seconds: number) => void) | null = null,
  ) {}

  /** Queues an operation for the next batch; resolves with its result once committed. */
  run<T>(op: Operation<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the broker is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        op: op as Operation<unknown>,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  /** Asks for a batch even with no operation queued (the hooks have work). */
  poke(): void {
    if (this.closed) return;
    // Poked by an operation of the batch being written: its hooks run after it anyway.
    if (this.beforeHooks) return;
    this.poked = true;
    this.schedule();
  }

  addHook(hook: Hook): void {
    this.hooks.push(hook);
  }

  /** A hook that runs after every other (the journal writes what the others recorded). */
  addFinalHook(hook: Hook): void {
    this.finalHooks.push(hook);
  }

  /**
   * Called after each commit's effects, before its callers are answered: the hub sends what the
   * effects queued for workers (assignments) now, not a turn of the event loop later.
   */
  onCommitted(listener: () => void): void {
    this.committedListeners.push(listener);
  }

  /** Called after a transaction rolled back, so that caches filled during it can be dropped. */
  onRollback(listener: () => void): void {
    this.rollbackListeners.push(listener);
  }

  /** Resolves when nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.flushing && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes what is queued, then refuses new operations. */
  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 || this.poked) {
        const batch = this.queue;
        this.queue = [];
        this.poked = false;
        await this.commit(batch);
        // Let the event loop read what arrived during the commit (the disk sync blocks it), so
        // that it joins the next batch instead of each request getting a commit of its own.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.flushing = false;
      if (this.queue.length > 0 || this.poked) {
        this.schedule();
      } else {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private time(started: bigint): void {
    if (this.timed !== null) this.timed(Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async commit(batch: Pending[]): Promise<void> {
    const effects: Array<() => void> = [];
    const ctx: BatchContext = { afterCommit: (e) => effects.push(e), scratch: new Map() };
    let results: unknown[];
    const started = this.timed === null ? 0n : process.hrtime.bigint();
    try {
      results = await this.store.write(async (tx) => {
        const out: unknown[] = [];
        this.beforeHooks = true;
        try {
          for (const p of batch) out.push(await p.op(tx, ctx));
        } finally {
          this.beforeHooks = false;
        }
        for (const hook of this.hooks) await hook(tx, ctx);
        for (const hook of this.finalHooks) await hook(tx, ctx);
        return out;
      });
    } catch (error) {
      this.time(started);
      for (const l of this.rollbackListeners) l();
      // A store that cannot write (a full disk, a lost database) fails every operation alike:
      // each caller gets that error at once (a 503 for a submission), where retrying them one
      // by one would only meet the fault again per operation. Nothing of the batch is kept, so
      // the next batch starts afresh and succeeds once the fault clears.
      if (batch.length <= 1 || isStoreUnavailable(error)) {
        this.logger.error({ err: error, operations: batch.length }, 'write transaction failed');
        for (const p of batch) p.reject(error);
        return;
      }
      // One bad operation must not fail its neighbours: retry each alone to find it.
      this.logger.warn(
        { err: error, operations: batch.length },
        'batch failed; retrying one by one',
      );
      for (const p of batch) await this.commit([p]);
      return;
    }
    this.time(started);
    this.batches++;
    this.operations += batch.length;
    for (const effect of effects) {
      try {
        effect();
      } catch (error) {
        this.logger.error({ err: error }, 'after-commit effect failed');
      }
    }
    for (const listener of this.committedListeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: error }, 'after-commit listener failed');
      }
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}
