/**
 * The notifier (ReCodEx's REST notifier): HTTP callbacks when jobs end and when the backend has
 * an error. Two halves that meet only in the store's outbox:
 *
 * - **Recording**, inside the transaction of the event (the completion module for ends of
 *   jobs, the worker endpoint for backend errors): a callback is an outbox row committed with
 *   the end it tells of, so that a crash cannot lose one, nor send one for an end that rolled
 *   back. With no global notifier and no `notify` on the job, nothing is built or written.
 * - **Delivery**, apart from the committer's batches (its own small transactions, never in the
 *   way of dispatch): due rows are claimed under a lease (with several nodes each by one node),
 *   POSTed with a bounded number in flight, then removed (a 2xx answer), tried again after an
 *   exponential, jittered back-off, or given up after `maxAttempts` tries (logged). Woken after
 *   a commit that added rows, and by a timer (on the injected clock) for retries.
 *
 * Delivery is at least once: a node that dies between the receiver's answer and the removal
 * sends the callback again once its lease lapses, with the same `Idempotency-Key`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { notifierUrl, type NotifierConfig } from '../config/types.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { JobError, JobOptions, JobState } from '../domain/job.js';
import {
  backendErrorBody,
  endsIn,
  jobEndBody,
  planRedelivery,
  sign,
  signatureHeader,
  type DeliveryPolicy,
  type NotifyEvent,
} from '../domain/notify.js';
import type { Callback, CallbackOutcome, NewCallback, Store, StoreTx } from '../store/store.js';
import type { BatchContext } from './committer.js';

/** A job that entered an end state, as its callback needs it. */
export interface JobEnd {
  id: number;
  type: string;
  queue: string;
  state: JobState;
  attempt: number;
  error: JobError | null;
  result: unknown;
  options: JobOptions | null;
}

export interface NotifierDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  config: NotifierConfig;
  random?: () => number;
  /** The HTTP client (tests); Node's built-in fetch by default. */
  fetch?: typeof fetch;
}

/** How long past a try's timeout its claim lasts: time to record the outcome. */
const LEASE_MARGIN_MS = 10_000;
/** With several nodes, how often a node looks for callbacks another node left behind. */
const POLL_MS = 5_000;
/** After a store fault, how long before delivery tries again. */
const FAULT_DELAY_MS = 1_000;
/** How much of an error is kept with a callback and logged. */
const MAX_ERROR_CHARS = 500;

/** A URL as logs show it: without its query (a job's URL may carry a token there). */
function logged(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export class Notifier {
  private readonly url: string | null;
  private readonly policy: DeliveryPolicy;
  private readonly fetch: typeof fetch;
  private running = false;
  private pumping = false;
  private again = false;
  private timer: Timer | null = null;
  private claims = 0;
  /**
   * On a store that serves this node alone, the first claim takes over the callbacks a dead
   * process had claimed (killed mid-send) instead of waiting for their leases (as many as fit
   * in flight; any more wait for their leases). Only the first: later ones would take this
   * node's own tries in flight.
   */
  private takeOver: boolean;
  /** Claimed callbacks whose outcome is not recorded yet (they take a place in flight). */
  private busy = 0;
  private readonly inFlight = new Map<number, AbortController>();
  private readonly sends = new Set<Promise<void>>();
  private outcomes: CallbackOutcome[] = [];
  private settling: Promise<void> | null = null;
  private pumpRun: Promise<void> | null = null;

  constructor(private readonly deps: NotifierDeps) {
    this.url = notifierUrl(deps.config);
    this.policy = {
      maxAttempts: deps.config.maxAttempts,
      backoff: {
        baseMs: deps.config.retryBaseMs,
        factor: 2,
        maxMs: deps.config.retryMaxMs,
        jitter: 0.2,
      },
    };
    this.fetch = deps.fetch ?? fetch;
    this.takeOver = !deps.store.capabilities.multiNode;
  }

  /** Whether the end of a job in `state` (with these options) makes any callback. Cheap. */
  wants(state: JobState, options: JobOptions | null): boolean {
    if (this.url !== null && endsIn(state, this.deps.config.events)) return true;
    const own = options?.notify;
    return own !== undefined && endsIn(state, own.events);
  }

  /**
   * Records the callbacks of jobs that ended in this transaction: the global notifier's (if it
   * is told of that end) and the job's own (if it asked for that end). Jobs that want none are
   * skipped before anything is built.
   */
  async jobsEnded(tx: StoreTx, ctx: BatchContext, ends: readonly JobEnd[]): Promise<void> {
    let rows: NewCallback[] | null = null;
    const now = this.deps.clock.now();
    for (const end of ends) {
      if (!this.wants(end.state, end.options)) continue;
      const state = end.state as NotifyEvent;
      const job = { ...end, state };
      rows ??= [];
      if (this.url !== null && endsIn(state, this.deps.config.events))
        rows.push(this.callback('global', this.url, now, (key) => jobEndBody(key, now, job)));
      const own = end.options?.notify;
      // The same URL told twice of one end would only see a duplicate.
      if (own !== undefined && endsIn(state, own.events) && own.url !== this.url)
        rows.push(this.callback('job', own.url, now, (key) => jobEndBody(key, now, job)));
    }
    if (rows === null) return;
    await tx.outboxAdd(rows);
    ctx.afterCommit(() => this.wake());
  }

  /** Records a backend error for the global notifier (if it is told of them). */
  async backendError(
    tx: StoreTx,
    ctx: BatchContext,
    message: string,
    details: unknown,
  ): Promise<void> {
    if (this.url === null || !this.deps.config.events.includes('backend_error')) return;
    const now = this.deps.clock.now();
    await tx.outboxAdd([
      this.callback('global', this.url, now, (key) => backendErrorBody(key, now, message, details)),
    ]);
    ctx.afterCommit(() => this.wake());
  }

  private callback(
    target: 'global' | 'job',
    url: string,
    now: number,
    body: (key: string) => string,
  ): NewCallback {
    const key = randomUUID();
    return { key, target, url, body: body(key), nextAt: now, createdAt: now };
  }

  /** How many callbacks wait in the outbox (all nodes'): pending, in back-off or in flight. */
  backlog(): Promise<number> {
    return this.deps.store.outboxBacklog();
  }

  /** Starts delivering: what is due now (left from before a restart too), then as woken. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.wake();
  }

  /**
   * Stops delivering: requests in flight are aborted and their callbacks put back as they were
   * (due now, the try not counted), for the next start or another node. Idempotent.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
    for (const controller of this.inFlight.values()) controller.abort(new Error('broker stopping'));
    await this.pumpRun;
    await Promise.allSettled([...this.sends]);
    await this.settling;
  }

  /** Claims and sends what is due, as far as there is room in flight. */
  private wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumpRun = this.pump().finally(() => {
      this.pumpRun = null;
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    let faulted = false;
    try {
      do {
        this.again = false;
        const room = this.deps.config.concurrency - this.busy;
        if (room <= 0 || !this.running) break;
        const owner = `${this.deps.nodeId}/${++this.claims}`;
        const now = this.deps.clock.now();
        const takeOver = this.takeOver;
        const claimed = await this.deps.store.write((tx) =>
          tx.outboxClaim({
            owner,
            now,
            leaseMs: this.deps.config.timeoutMs + LEASE_MARGIN_MS,
            limit: room,
            takeOver,
          }),
        );
        this.takeOver = false;
        if (!this.running) {
          // Stopped while claiming: put them back untried.
          this.busy += claimed.length;
          for (const c of claimed) this.record(this.outcomeOf(c, owner, 'broker stopping'));
          break;
        }
        for (const callback of claimed) this.send(callback, owner);
        if (claimed.length === room) this.again = true;
      } while (this.again && this.running);
    } catch (err) {
      faulted = true;
      this.deps.logger.warn({ err }, 'notifier: cannot claim callbacks (retrying)');
    } finally {
      this.pumping = false;
    }
    if (faulted) this.armAt(this.deps.clock.now() + FAULT_DELAY_MS);
    else await this.arm();
  }

  /** Sets the timer for the next callback coming due (or the next look, with several nodes). */
  private async arm(): Promise<void> {
    if (!this.running) return;
    let at: number | null;
    try {
      at = await this.deps.store.outboxNextAt();
    } catch (err) {
      this.deps.logger.warn({ err }, 'notifier: cannot read the outbox (retrying)');
      at = this.deps.clock.now() + FAULT_DELAY_MS;
    }
    if (this.deps.store.capabilities.multiNode) {
      const poll = this.deps.clock.now() + POLL_MS;
      at = at === null ? poll : Math.min(at, poll);
    }
    if (at !== null) this.armAt(at);
  }

  private armAt(at: number): void {
    if (!this.running) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimeout(
      () => {
        this.timer = null;
        this.wake();
      },
      Math.max(0, at - this.deps.clock.now()),
    );
  }

  private send(callback: Callback, owner: string): void {
    this.busy++;
    const sending = this.deliver(callback, owner).finally(() => this.sends.delete(sending));
    this.sends.add(sending);
  }

  /** One try of one callback, and its outcome recorded. */
  private async deliver(callback: Callback, owner: string): Promise<void> {
    const { clock, config } = this.deps;
    const controller = new AbortController();
    this.inFlight.set(callback.id, controller);
    const timeout = clock.setTimeout(
      () => controller.abort(new Error(`no answer within ${config.timeoutMs} ms`)),
      config.timeoutMs,
    );
    let error: string | null = null;
    try {
      const response = await this.fetch(callback.url, {
        method: 'POST',
        headers: this.headers(callback),
        body: callback.body,
        signal: controller.signal,
        // A redirect is not followed: it could lead the request (and its credentials) anywhere.
        redirect: 'manual',
      });
      // Only the status matters; the body is dropped so that the connection is freed.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status > 299) error = `HTTP ${response.status}`;
    } catch (err) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      error = reason instanceof Error ? reason.message : String(reason);
      if (reason instanceof Error && reason.cause instanceof Error)
        error += `: ${reason.cause.message}`;
    } finally {
      timeout.cancel();
      this.inFlight.delete(callback.id);
    }
    this.record(this.outcomeOf(callback, owner, error));
  }

  private headers(callback: Callback): Record<string, string> {
    const { config, clock } = this.deps;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': callback.key,
      'user-agent': 'switchyard-notifier',
    };
    // The global notifier's credentials go to its own URL only, never to a job's.
    if (callback.target === 'global' && config.username !== null) {
      const pair = `${config.username}:${config.password ?? ''}`;
      headers.authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    }
    if (config.secret !== null)
      headers[signatureHeader.toLowerCase()] = sign(
        config.secret,
        Math.floor(clock.now() / 1000),
        callback.body,
      );
    return headers;
  }

  private outcomeOf(callback: Callback, owner: string, error: string | null): CallbackOutcome {
    const { clock, logger } = this.deps;
    const now = clock.now();
    const where = { key: callback.key, url: logged(callback.url), attempts: callback.attempts };
    if (error === null) {
      logger.debug(where, 'callback delivered');
      return { id: callback.id, owner, kind: 'remove' };
    }
    const cut = error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}…` : error;
    if (!this.running) {
      // Stopped mid-try: put back as it was, due at once for whoever starts next.
      return {
        id: callback.id,
        owner,
        kind: 'retry',
        nextAt: now,
        attempts: Math.max(0, callback.attempts - 1),
        error: cut,
      };
    }
    const decision = planRedelivery(now, callback.attempts, this.policy, this.deps.random);
    if (decision.action === 'give_up') {
      logger.warn(
        { ...where, error: cut },
        `callback given up after ${callback.attempts} tries: ${cut}`,
      );
      return { id: callback.id, owner, kind: 'remove' };
    }
    logger.info({ ...where, error: cut, nextAt: decision.at }, 'callback failed; will retry');
    return {
      id: callback.id,
      owner,
      kind: 'retry',
      nextAt: decision.at,
      attempts: callback.attempts,
      error: cut,
    };
  }

  /** Queues an outcome; they are written together, in one small transaction at a time. */
  private record(outcome: CallbackOutcome): void {
    this.outcomes.push(outcome);
    this.settling ??= this.settle().finally(() => {
      this.settling = null;
    });
  }

  private async settle(): Promise<void> {
    while (this.outcomes.length > 0) {
      const batch = this.outcomes;
      this.outcomes = [];
      try {
        const applied = await this.deps.store.write((tx) => tx.outboxSettle(batch));
        applied.forEach((ok, i) => {
          if (!ok)
            this.deps.logger.warn(
              { id: batch[i]!.id },
              'callback outcome not recorded: its claim had lapsed (it may be sent again)',
            );
        });
      } catch (err) {
        // The rows stay claimed; once the lease lapses they are tried again (at least once).
        this.deps.logger.warn({ err, callbacks: batch.length }, 'cannot record callback outcomes');
      }
      this.busy -= batch.length;
    }
    this.wake();
  }
}
