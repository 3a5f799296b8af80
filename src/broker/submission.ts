/**
 * Turning a client's submission into a job: checks the schema cannot express (requirements that
 * could never match, a shell payload's shape, a run time), and the defaults. Pure.
 */
import { invalid } from '../domain/errors.js';
import { jobDefaults, type JobRecord } from '../domain/job.js';
import { requirementProblem } from '../domain/matching.js';
import type { SubmitJob } from '../protocol/api.js';
import type { NewJob } from '../store/store.js';

/**
 * A job ready for insertion; its `needsId` is 0 until the transaction resolves it (set in place:
 * copying the job into a new object per submission costs more than the insert's binding).
 */
export type PreparedJob = NewJob;

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

/** Validates and fills in one submission. `where` prefixes messages (`jobs[3].`). */
export function prepareJob(input: SubmitJob, now: number, where = ''): PreparedJob {
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
    const t = Date.parse(input.runAt);
    if (Number.isNaN(t)) throw invalid(`${where}runAt: not a date-time: "${input.runAt}"`);
    runAt = Math.max(t, now);
  }
  return {
    needsId: 0,
    type: input.type,
    queue: input.queue ?? jobDefaults.queue,
    payload,
    requires,
    meta: input.meta ?? {},
    priority: input.priority ?? jobDefaults.priority,
    maxAttempts: input.maxAttempts ?? jobDefaults.maxAttempts,
    timeoutMs: input.timeout === undefined ? null : Math.max(1, Math.round(input.timeout * 1000)),
    killSignal: input.killSignal ?? jobDefaults.killSignal,
    killGraceMs:
      input.killGrace === undefined ? jobDefaults.killGraceMs : Math.round(input.killGrace * 1000),
    state: runAt > now ? 'scheduled' : 'queued',
    runAt,
    createdAt: now,
  };
}

/** The record of a job just inserted, without reading it back. */
export function insertedRecord(id: number, job: PreparedJob): JobRecord {
  return {
    id,
    type: job.type,
    queue: job.queue,
    payload: job.payload,
    requires: job.requires,
    meta: job.meta,
    priority: job.priority,
    state: job.state,
    maxAttempts: job.maxAttempts,
    attempt: 0,
    requestFailures: 0,
    timeoutMs: job.timeoutMs,
    killSignal: job.killSignal,
    killGraceMs: job.killGraceMs,
    runAt: job.runAt,
    createdAt: job.createdAt,
    updatedAt: job.createdAt,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    workerName: null,
    nodeId: null,
    progress: null,
    attributes: {},
    result: null,
    error: null,
    attempts: [],
    outputDropped: 0,
    outputGapAfter: null,
  };
}
