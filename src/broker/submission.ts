/**
 * Turning a client's submission into a job: checks the schema cannot express (requirements that
 * could never match, a shell payload's shape, a run time), and the defaults. Pure.
 */
import { parseLimits } from '../domain/queues.js';
import { invalid } from '../domain/errors.js';
import { jobDefaults, type HoldInfo, type JobOptions, type JobRecord } from '../domain/job.js';
import { notifyEvents } from '../domain/notify.js';
import { defaultRetryPolicy } from '../domain/retry.js';
import { requirementProblem } from '../domain/matching.js';
import { MAX_NOTIFY_URL, type SubmitJob } from '../protocol/api.js';
import type { NewJob } from '../store/store.js';

/**
 * A job ready for insertion; its `needsId` is 0 until the transaction resolves it (set in place:
 * copying the job into a new object per submission costs more than the insert's binding).
 * `dependsOn` lists job ids and, in a batch, positions of earlier jobs (resolved at insertion).
 */
export type PreparedJob = NewJob & { dependsOn?: Array<{ id: number } | { position: number }> };

const seconds = (s: number): number => Math.max(0, Math.round(s * 1000));

/** Checks a `shell` payload; returns the message naming the bad field, or null. */
export function shellPayloadProblem(payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return 'payload: must be an object with a "command" for shell jobs';
  }
  const p = payload as Record<string, unknown>;
  const command = p.command;
  if (typeof command === 'string') {
    if (command.trim().length === 0) return 'payload.command: must not be empty';
  } else if (Array.isArray(command)) {
    if (command.length === 0) return 'payload.command: must not be an empty array';
    const bad = command.findIndex((a) => typeof a !== 'string');
    if (bad >= 0) return `payload.command[${bad}]: must be a string`;
    if ((command[0] as string).length === 0) return 'payload.command[0]: must not be empty';
  } else {
    return 'payload.command: must be a string or an array of strings';
  }
  if (p.cwd !== undefined && typeof p.cwd !== 'string') return 'payload.cwd: must be a string';
  if (p.stdin !== undefined && typeof p.stdin !== 'string')
    return 'payload.stdin: must be a string';
  if (p.env !== undefined) {
    if (typeof p.env !== 'object' || p.env === null || Array.isArray(p.env)) {
      return 'payload.env: must be an object of strings';
    }
    for (const [k, v] of Object.entries(p.env)) {
      if (typeof v !== 'string') return `payload.env.${k}: must be a string`;
    }
  }
  if (p.noRetryExitCodes !== undefined) {
    if (
      !Array.isArray(p.noRetryExitCodes) ||
      p.noRetryExitCodes.some((c) => !Number.isInteger(c) || c < 0 || c > 255)
    ) {
      return 'payload.noRetryExitCodes: must be an array of exit codes (0-255)';
    }
  }
  return null;
}

/**
 * A job's own callback, checked beyond its schema: the URL must parse as http(s) and carry no
 * credentials (they would be stored, shown on GET and logged). Events default to all three.
 */
function notifyOf(input: SubmitJob, where: string): JobOptions['notify'] {
  if (input.notify === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(input.notify.url);
  } catch {
    throw invalid(`${where}notify.url: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`${where}notify.url: must be an http:// or https:// URL`);
  if (url.username !== '' || url.password !== '')
    throw invalid(`${where}notify.url: must not carry credentials`);
  // Normalising (punycode, escapes) may lengthen it past what the schema allowed.
  if (url.href.length > MAX_NOTIFY_URL)
    throw invalid(`${where}notify.url: longer than ${MAX_NOTIFY_URL} characters`);
  const events = input.notify.events ?? notifyEvents;
  return {
    url: url.href,
    events: notifyEvents.filter((e) => events.includes(e)),
  };
}

/** What a job asks for beyond the defaults; null when nothing (most jobs). */
function optionsOf(input: SubmitJob, where: string): JobOptions | null {
  if (
    input.notify === undefined &&
    input.backoff === undefined &&
    input.silenceTimeout === undefined &&
    input.unique === undefined &&
    (input.limits === undefined || input.limits.length === 0) &&
    (input.dependsOn === undefined || input.dependsOn.length === 0)
  ) {
    return null;
  }
  const options: JobOptions = {};
  if (input.limits !== undefined && input.limits.length > 0) {
    options.limits = parseLimits(input.limits, `${where}limits`);
  }
  const notify = notifyOf(input, where);
  if (notify !== undefined) options.notify = notify;
  if (input.backoff !== undefined) {
    const b = input.backoff;
    options.backoff = {
      type: b.type,
      delayMs: seconds(b.delay),
      maxDelayMs: b.maxDelay === undefined ? defaultRetryPolicy.maxMs : seconds(b.maxDelay),
      jitter: b.jitter ?? defaultRetryPolicy.jitter,
    };
  }
  if (input.silenceTimeout !== undefined) {
    options.silenceTimeoutMs = Math.max(1, seconds(input.silenceTimeout));
  }
  if (input.unique !== undefined) {
    const u = input.unique;
    options.unique = {
      key: u.key,
      forMs: u.for === undefined ? null : Math.max(1, seconds(u.for)),
      while: u.while === undefined ? null : [...new Set(u.while)],
    };
  }
  if (input.dependsOn !== undefined && input.dependsOn.length > 0) {
    options.dependencies = new Set(input.dependsOn.map((d) => `${typeof d}:${d}`)).size;
  }
  return options;
}

/** The dependencies of a submission: ids, or positions of earlier jobs of its batch. */
function dependenciesOf(
  input: SubmitJob,
  where: string,
  position: number | null,
): PreparedJob['dependsOn'] {
  if (input.dependsOn === undefined || input.dependsOn.length === 0) return undefined;
  const out: NonNullable<PreparedJob['dependsOn']> = [];
  input.dependsOn.forEach((d, i) => {
    if (typeof d === 'string') {
      out.push({ id: Number(d) });
      return;
    }
    if (position === null) {
      throw invalid(
        `${where}dependsOn[${i}]: a position (${d}) is only meaningful in a batch; give a job id as a string`,
      );
    }
    if (d >= position) {
      throw invalid(
        `${where}dependsOn[${i}]: position ${d} is not an earlier job of the batch (this job is at ${position})`,
      );
    }
    out.push({ position: d });
  });
  return out;
}

/** Who holds a job submitted held. */
function holdOf(input: SubmitJob, now: number): HoldInfo | null {
  if (input.hold === undefined || input.hold === false) return null;
  return {
    reason: input.hold === true ? 'submitted held' : input.hold,
    by: 'submission',
    at: now,
  };
}

/**
 * Validates and fills in one submission. `where` prefixes messages (`jobs[3].`); `position` is
 * its place in a batch (null for a single submission).
 */
export function prepareJob(
  input: SubmitJob,
  now: number,
  where = '',
  position: number | null = null,
): PreparedJob {
  const requires = input.requires ?? {};
  const problem = requirementProblem(requires);
  if (problem) throw invalid(where + problem);
  const payload = input.payload === undefined ? {} : input.payload;
  if (input.type === 'shell') {
    const bad = shellPayloadProblem(payload);
    if (bad) throw invalid(where + bad);
  }
  let runAt = now;
  if (input.runAt !== undefined) {
    if (input.delay !== undefined) throw invalid(`${where}delay: give either runAt or delay`);
    const t = Date.parse(input.runAt);
    if (Number.isNaN(t)) throw invalid(`${where}runAt: not a date-time: "${input.runAt}"`);
    runAt = Math.max(t, now);
  } else if (input.delay !== undefined) {
    runAt = now + seconds(input.delay);
  }
  const hold = holdOf(input, now);
  const dependsOn = dependenciesOf(input, where, position);
  if (hold !== null && dependsOn !== undefined) {
    // A release queues a held job: it would run before its dependencies.
    throw invalid(`${where}hold: a job with dependsOn cannot be submitted held`);
  }
  const job: PreparedJob = {
    needsId: 0,
    type: input.type,
    queue: input.queue ?? jobDefaults.queue,
    payload,
    requires,
    meta: input.meta ?? {},
    priority: input.priority ?? jobDefaults.priority,
    group: input.group ?? null,
    // Given their place when the queue's discipline is known (src/broker/jobs.ts).
    rank: input.priority ?? jobDefaults.priority,
    tag: 0,
    maxAttempts: input.maxAttempts ?? jobDefaults.maxAttempts,
    timeoutMs: input.timeout === undefined ? null : Math.max(1, Math.round(input.timeout * 1000)),
    killSignal: input.killSignal ?? jobDefaults.killSignal,
    killGraceMs:
      input.killGrace === undefined ? jobDefaults.killGraceMs : Math.round(input.killGrace * 1000),
    state:
      hold !== null
        ? 'held'
        : dependsOn !== undefined
          ? 'waiting'
          : runAt > now
            ? 'scheduled'
            : 'queued',
    runAt,
    createdAt: now,
    options: optionsOf(input, where),
    hold,
  };
  if (dependsOn !== undefined) job.dependsOn = dependsOn;
  return job;
}

/** The record of a job just inserted, without reading it back. */
export function insertedRecord(id: number, job: PreparedJob): JobRecord {
  return {
    id,
    needsId: job.needsId,
    type: job.type,
    queue: job.queue,
    payload: job.payload,
    requires: job.requires,
    meta: job.meta,
    priority: job.priority,
    group: job.group,
    state: job.state,
    maxAttempts: job.maxAttempts,
    attempt: 0,
    uncounted: 0,
    options: job.options,
    hold: job.hold,
    errorGroup: null,
    requestFailures: 0,
    timeoutMs: job.timeoutMs,
    killSignal: job.killSignal,
    killGraceMs: job.killGraceMs,
    runAt: job.runAt,
    createdAt: job.createdAt,
    updatedAt: job.createdAt,
    startedAt: null,
    finishedAt: job.state === 'canceled' ? job.createdAt : null,
    workerId: null,
    workerName: null,
    nodeId: null,
    progress: null,
    attributes: {},
    result: null,
    error: job.error ?? null,
    attempts: [],
    outputDropped: 0,
    outputGapAfter: null,
  };
}
