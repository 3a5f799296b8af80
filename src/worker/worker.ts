/**
 * The SDK worker: connects to the brokers, says what it can run, runs assigned jobs with the
 * handler for their type, and reports how each ended. The `switchyard worker` agent is this class
 * with the shell runner as its `shell` handler, so both speak the protocol the same way.
 *
 * Results are durable on this side until the broker acknowledges them: a `done` or `fail` stays
 * in `unacked` until an `ack` (or `refused`) names it, and is sent again after every welcome.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { SwitchyardError, invalid, isErrorCode } from '../domain/errors.js';
import { stepStatuses, type Labels, type StepStatus } from '../domain/job.js';
import {
  PROTOCOL_VERSION,
  type AssignedJob,
  type BrokerMessage,
  type DoneMsg,
  type FailMsg,
  type Welcome,
} from '../protocol/worker.js';
import { BrokerConnection, type DisconnectInfo, type HelloFields } from './connection.js';
import { HandlerError, JobAborted, failureOf, type Failure } from './errors.js';
import { warningsLogger, type Logger } from './logger.js';
import { GroupSampler } from './proc-usage.js';

export type { DisconnectInfo } from './connection.js';

/** What a handler gets: the job, its abort signal, and ways to report while it runs. */
export interface JobContext {
  readonly id: string;
  readonly attempt: number;
  readonly type: string;
  readonly queue: string;
  readonly payload: unknown;
  readonly requires: Readonly<Record<string, string>>;
  readonly priority: number;
  readonly timeoutMs: number | null;
  /** The signal and grace a runner of processes should use when the job is stopped. */
  readonly killSignal: string;
  readonly killGraceMs: number;
  /** Aborted on cancel, hold, drain, close or timeout; the reason is a {@link JobAborted}. */
  readonly signal: AbortSignal;
  /** `percent` 0..100 (clamped), or null for a message alone. */
  progress(percent: number | null, message?: string): void;
  /**
   * Reports what became of a named step (ReCodEx's tasks): `started`, `completed`, `failed` or
   * `skipped`, with the last percent given. Every step report is kept; plain progress reports
   * replace each other while they wait to be sent.
   */
  step(id: string, status: StepStatus, message?: string): void;
  log(text: string, stream?: 'stdout' | 'stderr'): void;
  /** Sets a job attribute (HTCondor's chirp), e.g. the endpoint of a service the job started. */
  attr(key: string, value: string): void;
  /**
   * A handler that runs the job in processes of a group of their own names the group: the
   * worker's heartbeats then report their CPU and memory (on Linux). Null: no group any more.
   */
  processGroup?(pgid: number | null): void;
}

/** Runs one job; its return value is the job's result. Throw a {@link HandlerError} to steer. */
export type Handler = (job: JobContext) => Promise<unknown>;

/** How a Worker is set up; only `brokers` and `handlers` are required. */
export interface WorkerOptions {
  /** One broker URL or several (broker nodes); tried in turn. */
  brokers: string | string[];
  /** Defaults to `<hostname>-<pid>`. */
  name?: string;
  labels?: Record<string, string | string[]>;
  /** Defaults to `['default']`. */
  queues?: string[];
  /** Jobs run at once; defaults to 1. */
  slots?: number;
  /**
   * Jobs the broker may hand over beyond the free slots, waiting here for one (default 0). For
   * many short jobs: the next ones are already here when a slot frees, instead of one round trip
   * away. A prefetched job counts as running at the broker, and its timeout starts when it does.
   */
  prefetch?: number;
  token?: string;
  /** Job type → handler; the types this worker announces. */
  handlers: Record<string, Handler>;
  /** A pino logger, or anything with its debug/info/warn/error/child; default: warnings and errors to stderr. */
  logger?: Logger;
  /** How long `drain()` waits for running jobs by default; 30 s. */
  drainTimeoutMs?: number;
}

/** The events a Worker emits (mostly for tests and the agent's own logging). */
export interface WorkerEvents {
  'job:start': [job: AssignedJob];
  'job:done': [job: AssignedJob, result: unknown];
  'job:fail': [job: AssignedJob, failure: Failure];
  connected: [welcome: Welcome];
  disconnected: [info: DisconnectInfo];
  /** After close() or a drain finished; the process may exit. */
  closed: [];
  /** The broker changed the queues and types this worker serves. */
  capabilities: [served: { queues: string[]; types: string[] }];
}

interface Run {
  readonly job: AssignedJob;
  readonly handler: Handler;
  /** Made when the handler first reads its signal: most handlers never do. */
  controller: AbortController | undefined;
  /** Its handler was called (a prefetched job waits for a slot first). */
  started: boolean;
  stopReason: JobAborted | undefined;
  /** No longer ours (the broker said so): stop it and report nothing. */
  abandoned: boolean;
  finished: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The last percent reported (a step report carries it on). */
  percent?: number | null;
  /** The process group of its processes (shell jobs): heartbeats report its usage. */
  pgid?: number;
}

type Outcome = { ok: true; result: unknown } | { ok: false; error: unknown };

/** How long after a stop's grace a handler that ignores its signal still holds its slot. */
const STOP_MARGIN_MS = 1_000;
/** How long a drain waits for the broker to acknowledge the last results. */
const ACK_WAIT_MS = 2_000;

/** Node fires longer timers at once; a longer limit is as good as none. */
const MAX_DELAY_MS = 2_147_483_647;

const resultKey = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

function normaliseLabels(labels: Record<string, string | string[]> = {}): Labels {
  const out: Labels = {};
  for (const [key, value] of Object.entries(labels)) {
    out[key] = [...new Set(Array.isArray(value) ? value : [value])];
  }
  return out;
}

/** A worker process's connection to the brokers and the jobs it runs. */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly name: string;
  private readonly labels: Labels;
  private readonly queues: string[];
  private readonly slots: number;
  private readonly prefetch: number;
  private readonly token: string | undefined;
  private readonly handlers: ReadonlyMap<string, Handler>;
  private readonly log: Logger;
  private readonly drainTimeoutMs: number;
  private readonly connection: BrokerConnection;

  /** Jobs that are ours, by id, running or prefetched; they hold the slots. */
  private readonly runs = new Map<string, Run>();
  /** Prefetched jobs waiting for a slot, oldest first. */
  private readonly waiting: Run[] = [];
  /** Every handler not yet finished, abandoned ones included: close() waits for them. */
  private readonly live = new Set<Run>();
  private readonly unacked = new Map<string, DoneMsg | FailMsg>();
  private readonly sampler = new GroupSampler();
  private sampling = false;
  private readonly watchers = new Set<() => void>();
  private workerId: string | undefined;
  /** The secret of the welcome that gave `workerId`: it proves this is that worker. */
  private secret: string | undefined;
  private accepting = true;
  /** What the broker has it serve, once it said (`capabilities`); its own lists until then. */
  private serving: { queues: string[]; types: string[] } | undefined;
  private started: Promise<void> | undefined;
  private startWaiter: { resolve(): void; reject(error: Error): void } | undefined;
  private draining: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private closeRequested: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    super();
    const urls = Array.isArray(options.brokers) ? options.brokers : [options.brokers];
    if (urls.length === 0) throw invalid('brokers: give at least one broker URL');
    for (const url of urls) {
      if (!/^wss?:\/\//.test(url)) throw invalid(`brokers: "${url}" is not a ws:// or wss:// URL`);
    }
    const types = Object.keys(options.handlers);
    if (types.length === 0) throw invalid('handlers: give a handler for at least one job type');
    const slots = options.slots ?? 1;
    if (!Number.isInteger(slots) || slots < 1) throw invalid('slots: must be a whole number ≥ 1');
    this.name = options.name ?? `${os.hostname()}-${process.pid}`;
    this.labels = normaliseLabels(options.labels);
    this.queues = options.queues ?? ['default'];
    if (this.queues.length === 0) throw invalid('queues: give at least one queue');
    this.slots = slots;
    const prefetch = options.prefetch ?? 0;
    if (!Number.isInteger(prefetch) || prefetch < 0)
      throw invalid('prefetch: must be a whole number ≥ 0');
    this.prefetch = prefetch;
    this.token = options.token;
    this.handlers = new Map(Object.entries(options.handlers));
    this.log = (options.logger ?? warningsLogger()).child({ worker: this.name });
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.connection = new BrokerConnection({
      urls,
      logger: this.log,
      events: {
        hello: () => this.hello(),
        welcome: (message) => this.welcomed(message),
        message: (message, welcomed) => this.received(message, welcomed),
        jobs: () => this.jobUsage(),
        disconnected: (info) => this.emit('disconnected', info),
      },
    });
  }

  /** Connects; resolves on the first welcome, rejects if the broker refuses this worker. */
  start(): Promise<void> {
    if (this.started === undefined) {
      this.started = new Promise<void>((resolve, reject) => {
        this.startWaiter = { resolve, reject };
      });
      if (this.closing !== undefined) {
        this.startFailed(new Error('the worker is closed'));
      } else {
        this.connection.start();
      }
    }
    return this.started;
  }

  /** Takes no new jobs, waits for running ones up to the timeout, stops the rest, closes. */
  drain(timeoutMs: number = this.drainTimeoutMs): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.draining ??= this.drainNow(timeoutMs);
    return this.draining;
  }

  /** Stops running jobs at once (reported as infrastructure failures) and closes. */
  close(): Promise<void> {
    this.closeRequested?.();
    this.closing ??= this.terminate(false);
    return this.closing;
  }

  /** The heartbeat's jobs: each with its processes' CPU and memory when it has a group. */
  private jobUsage(): Array<{ jobId: string; cpu?: number; rss?: number }> {
    const groups = new Set<number>();
    for (const run of this.runs.values()) if (run.pgid !== undefined) groups.add(run.pgid);
    const usage = groups.size > 0 || this.sampling ? this.sampler.sample(groups) : undefined;
    this.sampling = groups.size > 0;
    return [...this.runs.values()].map((run) => {
      const u = run.pgid === undefined ? undefined : usage?.get(run.pgid);
      return {
        jobId: run.job.id,
        ...(u?.cpu == null ? {} : { cpu: u.cpu }),
        ...(u === undefined ? {} : { rss: u.rss }),
      };
    });
  }

  /** The jobs running now (ids). */
  runningJobs(): string[] {
    return [...this.runs.keys()];
  }

  private async drainNow(timeoutMs: number): Promise<void> {
    this.accepting = false;
    if (this.connection.ready) this.connection.send({ type: 'status', accepting: false });
    const closeRequested = new Promise<void>((resolve) => (this.closeRequested = resolve));
    await Promise.race([this.until(() => this.runs.size === 0, timeoutMs), closeRequested]);
    this.closing ??= this.terminate(true);
    await this.closing;
  }

  private async terminate(waitForAcks: boolean): Promise<void> {
    this.accepting = false;
    for (const run of this.runs.values()) {
      this.stop(run, new JobAborted('shutdown', run.job.killSignal, run.job.killGraceMs));
    }
    await this.until(() => this.live.size === 0, Infinity);
    if (waitForAcks) await this.until(() => this.unacked.size === 0, ACK_WAIT_MS);
    await this.connection.close();
    this.startFailed(new Error('the worker was closed before the broker welcomed it'));
    this.emit('closed');
  }

  private hello(): HelloFields {
    const running = new Map<string, number>();
    for (const run of this.runs.values()) running.set(run.job.id, run.job.attempt);
    // A finished job whose result is not acknowledged is still held: the broker must not give it
    // to someone else before the result arrives.
    for (const message of this.unacked.values()) running.set(message.jobId, message.attempt);
    return {
      name: this.name,
      labels: this.labels,
      types: [...this.handlers.keys()],
      queues: this.queues,
      slots: this.slots,
      ...(this.prefetch > 0 ? { prefetch: this.prefetch } : {}),
      version: PROTOCOL_VERSION,
      ...(this.token === undefined ? {} : { token: this.token }),
      ...(this.workerId === undefined || this.secret === undefined
        ? {}
        : { workerId: this.workerId, secret: this.secret }),
      running: [...running].map(([jobId, attempt]) => ({ jobId, attempt })),
      accepting: this.accepting,
    };
  }

  private welcomed(welcome: Welcome): void {
    // A new identity comes with its secret; a resumed one keeps the secret it has.
    if (welcome.secret !== undefined) {
      this.workerId = welcome.workerId;
      this.secret = welcome.secret;
    }
    for (const jobId of welcome.abandoned) {
      const run = this.runs.get(jobId);
      if (run !== undefined) this.abandon(run);
      for (const [key, message] of this.unacked) {
        if (message.jobId === jobId) this.unacked.delete(key);
      }
      this.connection.discardJob(jobId);
    }
    for (const message of this.unacked.values()) this.connection.send(message);
    this.log.info({ workerId: welcome.workerId, resent: this.unacked.size }, 'welcomed by broker');
    this.startWaiter?.resolve();
    this.startWaiter = undefined;
    this.emit('connected', welcome);
    this.changed();
  }

  private received(message: Exclude<BrokerMessage, Welcome>, welcomed: boolean): void {
    switch (message.type) {
      case 'assign':
        this.assigned(message.job);
        break;
      case 'cancel': {
        const run = this.runs.get(message.jobId);
        if (run !== undefined && run.job.attempt === message.attempt) {
          this.stop(run, new JobAborted(message.reason, message.signal, message.graceMs));
        }
        break;
      }
      case 'ack':
        for (const r of message.results) this.unacked.delete(resultKey(r.jobId, r.attempt));
        this.changed();
        break;
      case 'refused':
        this.log.warn({ jobId: message.jobId, reason: message.reason }, 'broker refused a result');
        this.unacked.delete(resultKey(message.jobId, message.attempt));
        this.changed();
        break;
      case 'status':
        if (message.status === 'drain') {
          // An operator's drain: running jobs finish, however long they take (the broker stops
          // and re-queues them itself for a drain "now"), then the worker closes.
          this.log.info('the broker asks this worker to drain');
          this.drain(Infinity).catch((error: unknown) =>
            this.log.error({ err: error }, 'drain failed'),
          );
        } else if (message.status === 'shutdown') {
          this.drain().catch((error: unknown) => this.log.error({ err: error }, 'drain failed'));
        } else if (this.draining === undefined && this.closing === undefined) {
          this.setAccepting(message.status === 'awake');
        }
        break;
      case 'capabilities':
        this.served(message.queues, message.types);
        break;
      case 'error':
        this.log.error({ code: message.code, fatal: message.fatal }, message.message);
        // Refused before ever being welcomed (a bad token, a version mismatch): retrying is
        // futile. Not so when the broker's store is down: the connection tries again by itself.
        if (
          message.fatal &&
          !welcomed &&
          this.startWaiter !== undefined &&
          message.code !== 'store_unavailable'
        ) {
          const code = isErrorCode(message.code) ? message.code : 'unavailable';
          this.startFailed(
            new SwitchyardError(code, `the broker refused this worker: ${message.message}`, {
              brokerCode: message.code,
            }),
          );
          void this.close();
        }
        break;
    }
  }

  /**
   * The queues and types the broker has this worker serve now (an operator attached or detached
   * them). A type it has no handler for is refused: it is left out, and said so.
   */
  private served(queues: readonly string[], types: readonly string[]): void {
    const unknown = types.filter((t) => !this.handlers.has(t));
    if (unknown.length > 0)
      this.log.warn({ types: unknown }, 'refused job types this worker has no handler for');
    this.serving = {
      queues: [...queues],
      types: types.filter((t) => this.handlers.has(t)),
    };
    this.emit('capabilities', this.capabilities());
  }

  /** The queues and job types this worker serves now (as the broker last said, or its own). */
  capabilities(): { queues: string[]; types: string[] } {
    return this.serving ?? { queues: [...this.queues], types: [...this.handlers.keys()] };
  }

  private setAccepting(accepting: boolean): void {
    if (this.accepting === accepting) return;
    this.accepting = accepting;
    if (this.connection.ready) this.connection.send({ type: 'status', accepting });
  }

  private assigned(job: AssignedJob): void {
    const current = this.runs.get(job.id);
    if (current !== undefined && current.job.attempt === job.attempt) {
      this.log.debug({ jobId: job.id }, 'ignoring a repeated assign of a running job');
      return;
    }
    const finished = this.unacked.get(resultKey(job.id, job.attempt));
    if (finished !== undefined) {
      this.connection.send(finished);
      return;
    }
    // A newer attempt of a job we run means the broker gave up on ours.
    if (current !== undefined) this.abandon(current);
    const handler = this.handlers.get(job.type);
    if (this.closing !== undefined || this.draining !== undefined || !this.accepting) {
      this.refuse(job, 'not_accepting', 'the worker is not accepting jobs');
    } else if (this.runs.size >= this.slots + this.prefetch) {
      this.refuse(job, 'no_free_slot', `all ${this.slots} slots of the worker are busy`);
    } else if (handler === undefined) {
      this.refuse(job, 'unknown_type', `the worker has no handler for type "${job.type}"`);
    } else {
      this.run(job, handler);
    }
  }

  /** An assignment this worker cannot take goes back through an infrastructure failure. */
  private refuse(job: AssignedJob, code: string, message: string): void {
    this.log.warn({ jobId: job.id, code }, message);
    this.report(job, { error: { code, message }, retryable: true, infrastructure: true });
  }

  private run(job: AssignedJob, handler: Handler): void {
    const run: Run = {
      job,
      handler,
      controller: undefined,
      started: false,
      stopReason: undefined,
      abandoned: false,
      finished: false,
      timer: undefined,
    };
    this.runs.set(job.id, run);
    if (this.live.size < this.slots) this.begin(run);
    else this.waiting.push(run);
  }

  /** Starts prefetched jobs while slots are free. */
  private startWaiting(): void {
    while (this.waiting.length > 0 && this.live.size < this.slots) {
      this.begin(this.waiting.shift() as Run);
    }
  }

  private begin(run: Run): void {
    const { job, handler } = run;
    run.started = true;
    this.live.add(run);
    if (job.timeoutMs !== null) {
      run.timer = setTimeout(
        () => this.stop(run, new JobAborted('timeout', job.killSignal, job.killGraceMs)),
        Math.min(job.timeoutMs, MAX_DELAY_MS),
      );
    }
    this.log.debug({ jobId: job.id, attempt: job.attempt, type: job.type }, 'job started');
    this.emit('job:start', job);
    const context = this.context(run);
    // The async wrapper turns a handler that throws synchronously into a rejection.
    void (async () => handler(context))().then(
      (result) => this.finish(run, { ok: true, result }),
      (error: unknown) => this.finish(run, { ok: false, error }),
    );
  }

  private stop(run: Run, reason: JobAborted): void {
    if (run.finished || run.stopReason !== undefined) return;
    run.stopReason = reason;
    if (!run.started) {
      // Prefetched and never started: it ends here, with the reason.
      this.waiting.splice(this.waiting.indexOf(run), 1);
      this.finish(run, { ok: false, error: reason });
      return;
    }
    clearTimeout(run.timer);
    // Without a controller yet, the signal is made aborted when the handler reads it.
    run.controller?.abort(reason);
    // A handler that ignores its signal must not hold its slot (or close()) forever.
    run.timer = setTimeout(
      () => this.finish(run, { ok: false, error: reason }),
      Math.min(reason.graceMs + STOP_MARGIN_MS, MAX_DELAY_MS),
    );
  }

  private abandon(run: Run): void {
    run.abandoned = true;
    if (this.runs.get(run.job.id) === run) this.runs.delete(run.job.id);
    this.stop(run, new JobAborted('abandoned', run.job.killSignal, run.job.killGraceMs));
    this.changed();
  }

  private finish(run: Run, outcome: Outcome): void {
    if (run.finished) return;
    run.finished = true;
    clearTimeout(run.timer);
    this.live.delete(run);
    if (this.runs.get(run.job.id) === run) this.runs.delete(run.job.id);
    this.startWaiting();
    if (run.abandoned) {
      this.log.info({ jobId: run.job.id }, 'abandoned job stopped; its result is dropped');
    } else if (run.stopReason === undefined && outcome.ok) {
      this.succeed(run.job, outcome.result);
    } else {
      const error = outcome.ok ? undefined : outcome.error;
      this.report(run.job, run.stopReason ? stopFailure(run, error) : failureOf(error));
    }
    this.changed();
  }

  private succeed(job: AssignedJob, result: unknown): void {
    try {
      JSON.stringify(result);
    } catch (error) {
      const message = `the handler's result is not JSON: ${(error as Error).message}`;
      this.report(job, { error: { code: 'invalid_result', message }, retryable: false });
      return;
    }
    const done: DoneMsg = { type: 'done', jobId: job.id, attempt: job.attempt };
    if (result !== undefined) done.result = result;
    this.deliver(done);
    this.log.debug({ jobId: job.id }, 'job done');
    this.emit('job:done', job, result);
  }

  private report(job: AssignedJob, failure: Failure): void {
    const fail: FailMsg = {
      type: 'fail',
      jobId: job.id,
      attempt: job.attempt,
      error: failure.error,
      retryable: failure.retryable,
      ...(failure.infrastructure ? { infrastructure: true } : {}),
      ...(failure.result === undefined ? {} : { result: failure.result }),
    };
    this.deliver(fail);
    this.log.info({ jobId: job.id, error: failure.error }, 'job failed');
    this.emit('job:fail', job, failure);
  }

  private deliver(message: DoneMsg | FailMsg): void {
    this.unacked.set(resultKey(message.jobId, message.attempt), message);
    // The job's output goes first, so that the broker has it all when the result lands.
    this.connection.flushLogs(message.jobId);
    if (this.connection.ready) this.connection.send(message);
  }

  private context(run: Run): JobContext {
    const { job } = run;
    const active = (): boolean => !run.finished && !run.abandoned;
    return {
      id: job.id,
      attempt: job.attempt,
      type: job.type,
      queue: job.queue,
      payload: job.payload,
      requires: job.requires,
      priority: job.priority,
      timeoutMs: job.timeoutMs,
      killSignal: job.killSignal,
      killGraceMs: job.killGraceMs,
      get signal(): AbortSignal {
        if (run.controller === undefined) {
          run.controller = new AbortController();
          if (run.stopReason !== undefined) run.controller.abort(run.stopReason);
        }
        return run.controller.signal;
      },
      progress: (percent, message) => {
        if (percent !== null && !Number.isFinite(percent)) {
          throw new RangeError('progress: percent must be a finite number or null');
        }
        if (!active()) return;
        run.percent = percent === null ? null : Math.min(100, Math.max(0, percent));
        this.connection.send({
          type: 'progress',
          jobId: job.id,
          attempt: job.attempt,
          percent: run.percent,
          message: message === undefined ? null : message.slice(0, 4096),
        });
      },
      step: (id, status, message) => {
        if (id.length === 0 || id.length > 200) {
          throw new RangeError('step: id must have 1 to 200 characters');
        }
        if (!stepStatuses.includes(status)) {
          throw new RangeError(`step: status must be one of ${stepStatuses.join(', ')}`);
        }
        if (!active()) return;
        this.connection.send({
          type: 'progress',
          jobId: job.id,
          attempt: job.attempt,
          percent: run.percent ?? null,
          message: message === undefined ? null : message.slice(0, 4096),
          step: { id, status },
        });
      },
      log: (text, stream = 'stdout') => {
        if (active()) this.connection.appendLog(job.id, job.attempt, stream, text);
      },
      attr: (key, value) => {
        if (key.length === 0 || key.length > 200) {
          throw new RangeError('attr: key must have 1 to 200 characters');
        }
        if (value.length > 65_536) throw new RangeError('attr: value is longer than 65536');
        if (active())
          this.connection.send({ type: 'attr', jobId: job.id, attempt: job.attempt, key, value });
      },
      processGroup: (pgid) => {
        if (pgid === null) delete run.pgid;
        else if (Number.isSafeInteger(pgid) && pgid > 0) run.pgid = pgid;
      },
    };
  }

  private startFailed(error: Error): void {
    const waiter = this.startWaiter;
    this.startWaiter = undefined;
    waiter?.reject(error);
  }

  private changed(): void {
    for (const watcher of [...this.watchers]) watcher();
  }

  /** Resolves when `condition` holds (checked on every change) or the time is up. */
  private until(condition: () => boolean, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.watchers.delete(watch);
        resolve();
      };
      const watch = (): void => {
        if (condition()) done();
      };
      const timer = timeoutMs < MAX_DELAY_MS ? setTimeout(done, Math.max(0, timeoutMs)) : undefined;
      this.watchers.add(watch);
    });
  }
}

/** What a stopped job reports: the stop's reason decides, the handler only lends its result. */
function stopFailure(run: Run, error: unknown): Failure {
  const reason = run.stopReason as JobAborted;
  const result = error instanceof HandlerError ? failureOf(error).result : undefined;
  const withResult = result === undefined ? {} : { result };
  switch (reason.kind) {
    case 'timeout': {
      const own = error instanceof HandlerError && error.code === 'timeout' ? error.message : '';
      const message = own || `the job timed out after ${run.job.timeoutMs ?? 0} ms`;
      return { error: { code: 'timeout', message }, retryable: true, ...withResult };
    }
    case 'requeued':
      // The broker queued the job again already; should it not have, it runs again elsewhere.
      return {
        error: { code: 'requeued', message: 'the broker took the job back to run it again' },
        retryable: true,
        infrastructure: true,
        ...withResult,
      };
    case 'shutdown':
    case 'abandoned':
      return {
        error: {
          code: 'worker_shutdown',
          message: 'the worker stopped the job while shutting down',
        },
        retryable: true,
        infrastructure: true,
        ...withResult,
      };
    default:
      return {
        error: { code: reason.kind, message: `the job was stopped by the broker (${reason.kind})` },
        retryable: reason.kind === 'lost',
        ...withResult,
      };
  }
}
