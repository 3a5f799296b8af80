/**
 * The TypeScript SDK for Switchyard's client API (`/api/v1`). Types come from the wire contract
 * (src/protocol/api.ts); errors come back as the same SwitchyardError the broker threw, with its
 * code, message and details. A broker that cannot be reached is a SwitchyardError `unavailable`.
 */
import type { Static } from '@sinclair/typebox';
import type { QueueSettings } from '../domain/queues.js';
import type { LimitView, QueueSettingsPatchBody, QueueView } from '../protocol/queues.js';
import { isErrorCode, SwitchyardError, type ErrorCode } from '../domain/errors.js';
import { isTerminal, type JobState } from '../domain/job.js';
import {
  eventsParams,
  followEventStream,
  openEventStream,
  type BrokerEventMessage,
  type EventStream,
  type EventsQuery,
} from './events.js';
import { watchJob, type WatchOptions } from './watch.js';
import type {
  ScheduleBody,
  ScheduleCreate,
  ScheduleList,
  SchedulePatch,
} from '../protocol/schedules.js';
import {
  fetchTransport,
  httpTransport,
  type HttpMethod,
  type Transport,
  type TransportResponse,
} from './transport.js';
import {
  API_PREFIX,
  type ActionRequest,
  type ActionResult,
  type FailedGrouping,
  type FailedGroups,
  type FreezeBody,
  type HealthBody,
  type JobBody,
  type JobMessageBody,
  type JobList,
  type JobListQuery,
  type LogList,
  type MessageList,
  type PatchJob,
  type SleepScheduleBody,
  type StatsBody,
  type SubmitJob,
  type WorkerBody,
  type WorkerList,
} from '../protocol/api.js';
import type {
  BlocklistCleared,
  UsageBody,
  WorkerServedRequest,
  WorkerStatusRequest,
} from '../protocol/workers.js';

/** With the event stream, `wait` still reads the job this often, in case an event was missed. */
const STREAM_RECHECK_MS = 5_000;
/** The longest one long poll of `wait` asks the broker to hold (it allows MAX_JOB_WAIT_S). */
const LONG_POLL_S = 30;

/** The broker's clients port on this machine: where `switchyard up` and `broker` listen. */
export const DEFAULT_URL = 'http://127.0.0.1:9658';

/** How to reach the broker. */
export interface ClientOptions {
  /** Base URL of the broker's clients port; default http://127.0.0.1:9658. */
  url?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * A fetch function to use instead of the built-in node:http transport (keep-alive), e.g. to
   * add proxies, retries or test doubles.
   */
  fetch?: typeof fetch;
  /**
   * Send `submit` calls made in the same turn of the event loop (concurrent callers) as one
   * `POST /jobs/batch`: one request and one commit instead of many. Each call still gets its
   * own job, or its own error (a batch refused as a whole is sent again job by job). Default
   * true; false sends every submit alone.
   */
  coalesceSubmits?: boolean;
}

/** Paging of a job's logs. */
export interface LogQuery {
  /** Only entries after this sequence number (a previous page's `nextCursor`). */
  after?: string;
  limit?: number;
}

/** How `wait` follows the job. */
export interface WaitOptions {
  /** Give up after this long with a WaitTimeoutError; default: wait for ever. */
  timeoutMs?: number;
  /**
   * With `onUpdate`: milliseconds between polls when the event stream cannot be used (default
   * 200). With the stream, the job is read again as soon as an event says it changed, and every
   * 5 s anyway.
   */
  intervalMs?: number;
  /**
   * Called with the job on the first read and whenever its state, progress or attempt change
   * (the wait then follows the job's event stream instead of a long poll).
   */
  onUpdate?(job: JobBody): void;
  /** Stops waiting (rejecting with the signal's reason). */
  signal?: AbortSignal;
}

/** `wait` gave up before the job ended. Carries the job as last seen. */
export class WaitTimeoutError extends Error {
  readonly job: JobBody;

  constructor(job: JobBody, timeoutMs: number) {
    super(`job ${job.id} is still ${job.state} after ${timeoutMs / 1000} s`);
    this.name = 'WaitTimeoutError';
    this.job = job;
  }
}

/** The health check's answer. */
export type Health = Static<typeof HealthBody>;

type Query = Record<string, string | number | undefined>;

interface PendingSubmit {
  job: SubmitJob;
  resolve(job: JobBody): void;
  reject(error: unknown): void;
}

/** The broker's largest batch. */
const MAX_BATCH = 10_000;

/** A client of one broker. Safe to share between concurrent callers. */
export class Client {
  /** The base URL, without a trailing slash. */
  readonly url: string;
  private readonly token: string | undefined;
  private readonly transport: Transport;
  private readonly coalesce: boolean;
  private pending: PendingSubmit[] = [];

  constructor(options: ClientOptions = {}) {
    this.url = (options.url ?? DEFAULT_URL).replace(/\/+$/, '');
    this.token = options.token;
    this.transport = options.fetch ? fetchTransport(options.fetch) : httpTransport();
    this.coalesce = options.coalesceSubmits ?? true;
  }

  /** Submits one job; resolves when it is committed (or deduplicated). */
  submit(job: SubmitJob): Promise<JobBody> {
    if (!this.coalesce) return this.submitOne(job);
    return new Promise<JobBody>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flushSubmits());
    });
  }

  private submitOne(job: SubmitJob): Promise<JobBody> {
    return this.request<JobBody>('POST', '/jobs', { body: job });
  }

  /** Sends the submits of one turn: alone, or as batches. */
  private flushSubmits(): void {
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      void this.sendSubmits(all.slice(i, i + MAX_BATCH));
    }
  }

  private async sendSubmits(group: PendingSubmit[]): Promise<void> {
    if (group.length === 1) {
      const [one] = group as [PendingSubmit];
      await this.submitOne(one.job).then(one.resolve, one.reject);
      return;
    }
    let jobs: JobBody[];
    try {
      jobs = await this.submitBatch(group.map((p) => p.job));
    } catch (error) {
      // Refused as a whole (one bad job, a frozen broker, ...): each learns its own answer. A
      // broker or store that is unavailable would refuse each alike.
      if (
        error instanceof SwitchyardError &&
        error.code !== 'unavailable' &&
        error.code !== 'store_unavailable'
      ) {
        await Promise.all(group.map((p) => this.submitOne(p.job).then(p.resolve, p.reject)));
      } else {
        for (const p of group) p.reject(error);
      }
      return;
    }
    group.forEach((p, i) => p.resolve(jobs[i] as JobBody));
  }

  /** Submits many jobs in one commit. */
  async submitBatch(jobs: SubmitJob[]): Promise<JobBody[]> {
    const answer = await this.request<{ jobs: JobBody[] }>('POST', '/jobs/batch', {
      body: { jobs },
    });
    return answer.jobs;
  }

  /** One job with its attempts, progress, attributes, result or error. */
  get(id: string): Promise<JobBody> {
    return this.request<JobBody>('GET', jobPath(id));
  }

  /** One page of jobs; pass `nextCursor` as `cursor` for the next. */
  list(query: JobListQuery = {}): Promise<JobList> {
    return this.request<JobList>('GET', '/jobs', { query: { ...query } });
  }

  /** Every page of jobs matching `query`, fetched as they are consumed. */
  async *listPages(query: JobListQuery = {}): AsyncGenerator<JobList> {
    let cursor = query.cursor;
    for (;;) {
      const page = await this.list({ ...query, ...(cursor === undefined ? {} : { cursor }) });
      yield page;
      if (page.nextCursor === null || page.jobs.length === 0) return;
      cursor = page.nextCursor;
    }
  }

  /** Every job matching `query`, following the pages. */
  async *listAll(query: JobListQuery = {}): AsyncGenerator<JobBody> {
    for await (const page of this.listPages(query)) yield* page.jobs;
  }

  /** Cancels a job; a running one is stopped. Conflict if it already ended. */
  cancel(id: string): Promise<JobBody> {
    return this.request<JobBody>('POST', `${jobPath(id)}/cancel`);
  }

  /**
   * Holds a job: it stays out of dispatch, in state `held`, until `release`; a running one is
   * stopped first. Conflict if its state does not allow it (the message names the state).
   */
  hold(id: string, reason?: string): Promise<JobBody> {
    return this.request<JobBody>('POST', `${jobPath(id)}/hold`, {
      body: reason === undefined ? {} : { reason },
    });
  }

  /** Releases a held job: back to `queued`. Conflict if it is not held. */
  release(id: string): Promise<JobBody> {
    return this.request<JobBody>('POST', `${jobPath(id)}/release`);
  }

  /** Retries a failed or canceled job: back to `queued`. Conflict in other states. */
  retry(id: string): Promise<JobBody> {
    return this.request<JobBody>('POST', `${jobPath(id)}/retry`);
  }

  /** Makes a scheduled job (delayed, or backing off) due now. Conflict in other states. */
  runNow(id: string): Promise<JobBody> {
    return this.request<JobBody>('POST', `${jobPath(id)}/run-now`);
  }

  /**
   * Deletes a job, its attempts and its output (a running one is stopped first); resolves with
   * the job as it was.
   */
  delete(id: string): Promise<JobBody> {
    return this.request<JobBody>('DELETE', jobPath(id));
  }

  /** Changes the priority or the queue of a job that waits. Conflict if it runs or ended. */
  update(id: string, patch: PatchJob): Promise<JobBody> {
    return this.request<JobBody>('PATCH', jobPath(id), { body: patch });
  }

  /**
   * One action on many jobs, named by `ids` or chosen by a `filter` (`{}` is every job):
   * how many jobs matched and how many it changed (with `dryRun`: would change).
   */
  act(request: ActionRequest): Promise<ActionResult> {
    return this.request<ActionResult>('POST', '/jobs/actions', { body: request });
  }

  /** The failed jobs counted by queue, type or error group (the broker's default), largest first. */
  failedGroups(by?: FailedGrouping, limit?: number): Promise<FailedGroups> {
    return this.request<FailedGroups>('GET', '/failed/groups', { query: { by, limit } });
  }

  /** Freezes the broker: it refuses submissions until `unfreeze`. Needs an admin token. */
  freeze(): Promise<FreezeBody> {
    return this.request<FreezeBody>('POST', '/freeze');
  }

  /** Unfreezes the broker: it accepts submissions again. Needs an admin token. */
  unfreeze(): Promise<FreezeBody> {
    return this.request<FreezeBody>('POST', '/unfreeze');
  }

  /** One page of a job's output lines. */
  logs(id: string, query: LogQuery = {}): Promise<LogList> {
    return this.request<LogList>('GET', `${jobPath(id)}/logs`, {
      query: { ...query },
    });
  }

  /** A page of a job's stored messages, oldest first, after `since` (page on with `next`). */
  messages(id: string, query: { since?: string; limit?: number } = {}): Promise<MessageList> {
    return this.request<MessageList>('GET', `${jobPath(id)}/messages`, { query: { ...query } });
  }

  /**
   * The job's messages as they come (changes of state, progress with steps, attributes,
   * output): what is stored first, then live ones; ends after the job's end. Reconnects and
   * resumes where it left off when the connection is lost. See src/client/watch.ts.
   */
  watch(id: string, options: WatchOptions = {}): AsyncGenerator<JobMessageBody> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined && options.access === undefined)
      headers.authorization = `Bearer ${this.token}`;
    return watchJob(this.url, headers, id, options);
  }

  /** A link for watching one job on the monitor, to hand to a browser (`ttl` in seconds). */
  monitorToken(
    id: string,
    ttl?: number,
  ): Promise<{ token: string; expiresAt: string; path: string }> {
    return this.request('POST', `${jobPath(id)}/monitor-token`, {
      body: ttl === undefined ? {} : { ttl },
    });
  }

  /** Every queue with its counts, rates, oldest wait and settings. */
  async queues(): Promise<QueueBody[]> {
    return (await this.request<{ queues: QueueBody[] }>('GET', '/queues')).queues;
  }

  /** One queue. */
  queue(name: string): Promise<QueueBody> {
    return this.request<QueueBody>('GET', queuePath(name));
  }

  /** Creates a queue with settings or changes some of them (the others keep their values). */
  setQueue(name: string, settings: QueueSettingsPatchBody): Promise<QueueBody> {
    return this.request<QueueBody>('PUT', queuePath(name), { body: settings });
  }

  /** Pauses a queue: it keeps its jobs and starts none until resumed. */
  pauseQueue(name: string): Promise<QueueBody> {
    return this.request<QueueBody>('POST', `${queuePath(name)}/pause`);
  }

  resumeQueue(name: string): Promise<QueueBody> {
    return this.request<QueueBody>('POST', `${queuePath(name)}/resume`);
  }

  /** Deletes a queue with no unended job; `force` cancels them first. */
  deleteQueue(
    name: string,
    options: { force?: boolean } = {},
  ): Promise<{ deleted: boolean; canceled: number }> {
    return this.request('DELETE', queuePath(name), {
      query: options.force === true ? { force: 'true' } : {},
    });
  }

  /** The named concurrency limits: totals and units in use. */
  async limits(): Promise<LimitBody[]> {
    return (await this.request<{ limits: LimitBody[] }>('GET', '/limits')).limits;
  }

  /** Sets a named limit's total (null removes it). */
  setLimit(name: string, max: number | null): Promise<LimitBody> {
    return this.request<LimitBody>('PUT', `/limits/${encodeURIComponent(name)}`, { body: { max } });
  }

  /** The cron schedules, with their next run times. */
  async schedules(): Promise<ScheduleBody[]> {
    return (await this.request<ScheduleList>('GET', '/schedules')).schedules;
  }

  /** One cron schedule. */
  schedule(name: string): Promise<ScheduleBody> {
    return this.request<ScheduleBody>('GET', schedulePath(name));
  }

  /** Creates a cron schedule; its job template is checked as a submission would be. */
  createSchedule(schedule: ScheduleCreate): Promise<ScheduleBody> {
    return this.request<ScheduleBody>('POST', '/schedules', { body: schedule });
  }

  /** Changes a cron schedule (a new expression or time zone takes the next tick after now). */
  updateSchedule(name: string, patch: SchedulePatch): Promise<ScheduleBody> {
    return this.request<ScheduleBody>('PATCH', schedulePath(name), { body: patch });
  }

  /** Pauses a cron schedule: no tick fires until it is resumed. */
  pauseSchedule(name: string): Promise<ScheduleBody> {
    return this.request<ScheduleBody>('POST', `${schedulePath(name)}/pause`);
  }

  /** Resumes a cron schedule: the next tick after now fires. */
  resumeSchedule(name: string): Promise<ScheduleBody> {
    return this.request<ScheduleBody>('POST', `${schedulePath(name)}/resume`);
  }

  /** Deletes a cron schedule (the jobs it submitted stay); resolves with it as it was. */
  deleteSchedule(name: string): Promise<ScheduleBody> {
    return this.request<ScheduleBody>('DELETE', schedulePath(name));
  }

  /** The connected workers. */
  async workers(): Promise<WorkerBody[]> {
    return (await this.request<WorkerList>('GET', '/workers')).workers;
  }

  /** One worker of any node: its status, schedule, queues, types, blocklist and running jobs. */
  worker(id: string): Promise<WorkerBody> {
    return this.request<WorkerBody>('GET', workerPath(id));
  }

  /**
   * Sets a worker awake, asleep or draining (`drain`: it exits once its jobs are done). `now`
   * (default) stops its running jobs and queues them again; `after` lets them finish.
   */
  setWorkerStatus(
    id: string,
    status: WorkerStatusRequest['status'],
    when: 'now' | 'after' = 'now',
  ): Promise<WorkerBody> {
    return this.request<WorkerBody>('POST', `${workerPath(id)}/status`, {
      body: { status, when },
    });
  }

  /** Gives a worker a sleep schedule (null removes it). */
  setWorkerSleepSchedule(id: string, schedule: SleepScheduleBody | null): Promise<WorkerBody> {
    return schedule === null
      ? this.request<WorkerBody>('DELETE', `${workerPath(id)}/sleep-schedule`)
      : this.request<WorkerBody>('PUT', `${workerPath(id)}/sleep-schedule`, { body: schedule });
  }

  /**
   * Sets the queues and job types a worker serves: a list replaces the current one, null goes
   * back to what it announced, a field left out stays.
   */
  setWorkerQueues(id: string, served: WorkerServedRequest): Promise<WorkerBody> {
    return this.request<WorkerBody>('PUT', `${workerPath(id)}/queues`, { body: served });
  }

  /** Adds queues (and types) to what a worker serves. */
  async attachWorkerQueues(
    id: string,
    add: { queues?: string[]; types?: string[] },
  ): Promise<WorkerBody> {
    const w = await this.worker(id);
    return this.setWorkerQueues(id, {
      ...(add.queues ? { queues: [...new Set([...w.queues, ...add.queues])] } : {}),
      ...(add.types ? { types: [...new Set([...w.types, ...add.types])] } : {}),
    });
  }

  /** Removes queues (and types) from what a worker serves. */
  async detachWorkerQueues(
    id: string,
    remove: { queues?: string[]; types?: string[] },
  ): Promise<WorkerBody> {
    const w = await this.worker(id);
    return this.setWorkerQueues(id, {
      ...(remove.queues ? { queues: w.queues.filter((q) => !remove.queues!.includes(q)) } : {}),
      ...(remove.types ? { types: w.types.filter((t) => !remove.types!.includes(t)) } : {}),
    });
  }

  /** Closes a worker's connection; its jobs go the way of a lost worker's. */
  async disconnectWorker(id: string): Promise<void> {
    await this.request('POST', `${workerPath(id)}/disconnect`, { body: {} });
  }

  /** Clears a worker's blocklist for a job type (in one queue, or in all). */
  async unblockWorker(id: string, type: string, queue?: string): Promise<BlocklistCleared> {
    return this.request<BlocklistCleared>(
      'DELETE',
      `${workerPath(id)}/blocklist/${encodeURIComponent(type)}`,
      { query: { queue } },
    );
  }

  /** A worker's CPU and memory over time (and its jobs'), from `since` (default: an hour ago). */
  workerUsage(id: string, since?: Date | string): Promise<UsageBody> {
    const from = since instanceof Date ? since.toISOString() : since;
    return this.request<UsageBody>('GET', `${workerPath(id)}/usage`, { query: { since: from } });
  }

  /** Runtime statistics. */
  stats(): Promise<StatsBody> {
    return this.request<StatsBody>('GET', '/stats');
  }

  /** The liveness check (`/healthz`, outside the API prefix). */
  health(): Promise<Health> {
    return this.request<Health>('GET', '/healthz', { prefix: '' });
  }

  /**
   * Waits until a job is terminal (succeeded, failed or canceled) and resolves with it. Without
   * `onUpdate`, one long poll (`GET /jobs/:id?wait=`) that the broker answers as soon as the job
   * ends, repeated every 30 s; with it, the job's event stream says when to read it again.
   * @throws WaitTimeoutError after `timeoutMs`.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<JobBody> {
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    if (options.onUpdate === undefined) return this.waitEnded(id, options, deadline);
    // Subscribed before the first read, so that no change between the two is missed.
    let changed: (() => void) | null = null;
    const stream = await this.openEvents({ job: id }, (event) => {
      if (event.name !== 'job:log') changed?.();
    }).catch(() => null);
    const interval = stream ? STREAM_RECHECK_MS : (options.intervalMs ?? 200);
    let seen: string | null = null;
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        let wake = false;
        changed = () => (wake = true);
        const job = await this.get(id);
        const key = updateKey(job);
        if (key !== seen) {
          seen = key;
          options.onUpdate?.(job);
        }
        if (isTerminal(job.state as JobState)) return job;
        const left = deadline - Date.now();
        if (left <= 0) throw new WaitTimeoutError(job, options.timeoutMs ?? 0);
        if (wake) continue;
        await new Promise<void>((resolve, reject) => {
          const done = () => {
            clearTimeout(timer);
            options.signal?.removeEventListener('abort', abort);
            changed = null;
            resolve();
          };
          const abort = () => {
            done();
            reject(options.signal?.reason as Error);
          };
          const timer = setTimeout(done, Math.min(interval, left));
          changed = done;
          options.signal?.addEventListener('abort', abort, { once: true });
          void stream?.ended.then(done);
        });
      }
    } finally {
      stream?.close();
    }
  }

  /** Long polls until the job ends or the deadline passes. */
  private async waitEnded(id: string, options: WaitOptions, deadline: number): Promise<JobBody> {
    const path = jobPath(id);
    for (;;) {
      options.signal?.throwIfAborted();
      const left = deadline - Date.now();
      const seconds = Math.max(0, Math.min(LONG_POLL_S, left / 1000));
      const job = await this.request<JobBody>('GET', path, {
        query: { wait: seconds.toFixed(3) },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      if (isTerminal(job.state as JobState)) return job;
      if (Date.now() >= deadline) throw new WaitTimeoutError(job, options.timeoutMs ?? 0);
    }
  }

  /**
   * Follows the broker's events live (`GET /api/v1/events`): job creations, state changes,
   * progress, logs, attributes, workers coming and going. `kinds`, `queue` and `job` narrow it;
   * `since` resumes after an event id. When the stream ends it is opened again, resuming after
   * the last event seen (unless `reconnect: false`); a `gap` event says that some were lost.
   * Resolves once the stream is open; call `close()` on the result to stop.
   */
  events(query: EventsQuery, onEvent: (event: BrokerEventMessage) => void): Promise<EventStream> {
    const open = (since: number | undefined, fn: (event: BrokerEventMessage) => void) =>
      this.openEvents(eventsParams(query, since), fn);
    const opened =
      query.reconnect === false
        ? open(query.since, onEvent)
        : followEventStream(open, query.since, onEvent);
    return opened.catch((err: unknown) => {
      throw new SwitchyardError(
        'unavailable',
        `cannot follow the events of the broker at ${this.url}: ${causeOf(err)}`,
      );
    });
  }

  private openEvents(
    query: Record<string, string>,
    onEvent: (event: BrokerEventMessage) => void,
  ): Promise<EventStream> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    const url = `${this.url}${API_PREFIX}/events${queryString(query)}`;
    return openEventStream(url, headers, onEvent);
  }

  private async request<T>(
    method: HttpMethod,
    path: string,
    options: { body?: unknown; query?: Query; prefix?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const url = `${this.url}${options.prefix ?? API_PREFIX}${path}${queryString(options.query)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: TransportResponse;
    try {
      response = await this.transport(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new SwitchyardError(
        'unavailable',
        `cannot reach the broker at ${this.url}: ${causeOf(err)}`,
      );
    }
    const text = response.text;
    if (response.status < 200 || response.status > 299)
      throw errorFromResponse(response.status, text, method, url);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SwitchyardError(
        'internal',
        `the broker at ${this.url} answered ${method} ${path} with something that is not JSON`,
      );
    }
  }
}

function workerPath(id: string): string {
  return `/workers/${encodeURIComponent(id)}`;
}

function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

function schedulePath(name: string): string {
  return `/schedules/${encodeURIComponent(name)}`;
}

/** What `wait` compares to decide that a job changed. */
function updateKey(job: JobBody): string {
  return JSON.stringify([job.state, job.attempt, job.progress?.percent, job.progress?.message]);
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unmatchable',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

/** An error response as a SwitchyardError: the broker's own JSON error, or one from the status. */
function errorFromResponse(
  status: number,
  text: string,
  method: string,
  url: string,
): SwitchyardError {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; details?: unknown };
    };
    const e = body.error;
    if (e !== undefined && isErrorCode(e.code) && typeof e.message === 'string') {
      return new SwitchyardError(e.code, e.message, e.details);
    }
  } catch {
    // Not JSON: a proxy's error page, say. Fall through to the status.
  }
  const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'invalid_request');
  return new SwitchyardError(code, `${method} ${url} failed with HTTP ${status}`);
}

/** The useful part of a fetch failure: `connect ECONNREFUSED 127.0.0.1:9658`, not `fetch failed`. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    if (cause instanceof AggregateError && cause.errors[0] instanceof Error) {
      return (cause.errors[0] as Error).message;
    }
    return cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export type QueueBody = Omit<Static<typeof QueueView>, 'settings'> & { settings: QueueSettings };
export type LimitBody = Static<typeof LimitView>;

function queuePath(name: string): string {
  return `/queues/${encodeURIComponent(name)}`;
}
