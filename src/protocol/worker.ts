/**
 * The worker protocol (contract, DESIGN.md "Worker protocol"): JSON messages over WebSocket. A
 * frame holds one message object or an array of them. These schemas are the one source for the
 * broker's validation and for the types of the agent and the SDK worker.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MAX_JSON_DEPTH, tooDeepAt } from './depth.js';
import { ID_PATTERN } from './ids.js';
import { stepStatuses } from '../domain/job.js';

/**
 * 2: a worker proves its identity on reconnect with the secret of its first welcome (1 trusted
 * the id and name a hello claimed).
 */
export const PROTOCOL_VERSION = 3;
/**
 * 3: the broker may send `capabilities` (queues and types attached or detached at run time) and
 * a `cancel` with reason `requeued` (the job was taken back: its worker was put to sleep or
 * drained now). A worker of version 2 is still served: it gets neither (dispatch follows the
 * change all the same, and a taken-back job is stopped with reason `held`).
 */
export const MIN_PROTOCOL_VERSION = 2;

/** A job id the broker gave: exact as a JavaScript number (see ./ids.ts). */
const JobId = Type.String({ pattern: ID_PATTERN });
const AttemptNo = Type.Integer({ minimum: 1 });
const ShortText = Type.String({ maxLength: 256 });

export const JobErrorSchema = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 100 }),
  message: Type.String({ maxLength: 65_536 }),
  details: Type.Optional(Type.Unknown()),
});

// ---- worker → broker ----

export const Hello = Type.Object({
  type: Type.Literal('hello'),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  labels: Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.Array(ShortText)),
  types: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1 }),
  queues: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1 }),
  slots: Type.Integer({ minimum: 1, maximum: 100_000 }),
  /** Jobs the broker may assign beyond the free slots; the worker queues them (default 0). */
  prefetch: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  version: Type.Integer({ minimum: 1 }),
  token: Type.Optional(Type.String({ maxLength: 1024 })),
  /** The id the broker gave this worker before, when it reconnects. */
  workerId: Type.Optional(Type.String({ maxLength: 100 })),
  /** With `workerId`: the secret of the welcome that gave it, proving this is that worker. */
  secret: Type.Optional(Type.String({ maxLength: 200 })),
  /** Jobs the worker is still running (after a reconnect): it keeps those the broker agrees to. */
  running: Type.Optional(Type.Array(Type.Object({ jobId: JobId, attempt: AttemptNo }))),
  /** False while draining or asleep: assign nothing new. */
  accepting: Type.Optional(Type.Boolean()),
});

export const Heartbeat = Type.Object({
  type: Type.Literal('heartbeat'),
  /** Host CPU use, 0..1 of all cores. */
  cpu: Type.Optional(Type.Number({ minimum: 0 })),
  /** Bytes. */
  memory: Type.Optional(
    Type.Object({ rss: Type.Number(), total: Type.Number(), free: Type.Number() }),
  ),
  jobs: Type.Optional(
    Type.Array(
      Type.Object({
        jobId: JobId,
        cpu: Type.Optional(Type.Number()),
        rss: Type.Optional(Type.Number()),
      }),
    ),
  ),
});

export const ProgressMsg = Type.Object({
  type: Type.Literal('progress'),
  jobId: JobId,
  attempt: AttemptNo,
  percent: Type.Union([Type.Number({ minimum: 0, maximum: 100 }), Type.Null()]),
  message: Type.Union([Type.String({ maxLength: 4096 }), Type.Null()]),
  /** A named step the report is about (ReCodEx's `TASK <id> COMPLETED|FAILED|SKIPPED`). */
  step: Type.Optional(
    Type.Object({
      id: Type.String({ minLength: 1, maxLength: 200 }),
      status: Type.Union(stepStatuses.map((s) => Type.Literal(s))),
    }),
  ),
});

export const LogMsg = Type.Object({
  type: Type.Literal('log'),
  jobId: JobId,
  attempt: AttemptNo,
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  data: Type.String({ maxLength: 1_048_576 }),
});

export const AttrMsg = Type.Object({
  type: Type.Literal('attr'),
  jobId: JobId,
  attempt: AttemptNo,
  key: Type.String({ minLength: 1, maxLength: 200 }),
  value: Type.String({ maxLength: 65_536 }),
});

export const DoneMsg = Type.Object({
  type: Type.Literal('done'),
  jobId: JobId,
  attempt: AttemptNo,
  result: Type.Optional(Type.Unknown()),
});

export const FailMsg = Type.Object({
  type: Type.Literal('fail'),
  jobId: JobId,
  attempt: AttemptNo,
  error: JobErrorSchema,
  /** A retryable failure is retried with back-off until attempts run out; a permanent one is not. */
  retryable: Type.Boolean(),
  /**
   * The run was lost to the infrastructure (the process could not start, the worker is shutting
   * down): counted against max_request_failures and retried elsewhere, not against maxAttempts.
   */
  infrastructure: Type.Optional(Type.Boolean()),
  /** Partial result (a shell job's exit code and output tails). */
  result: Type.Optional(Type.Unknown()),
});

export const WorkerStatusMsg = Type.Object({
  type: Type.Literal('status'),
  /** False: assign nothing new (draining, asleep). */
  accepting: Type.Boolean(),
});

export const WorkerMessage = Type.Union([
  Hello,
  Heartbeat,
  ProgressMsg,
  LogMsg,
  AttrMsg,
  DoneMsg,
  FailMsg,
  WorkerStatusMsg,
]);

export type Hello = Static<typeof Hello>;
export type Heartbeat = Static<typeof Heartbeat>;
export type ProgressMsg = Static<typeof ProgressMsg>;
export type LogMsg = Static<typeof LogMsg>;
export type AttrMsg = Static<typeof AttrMsg>;
export type DoneMsg = Static<typeof DoneMsg>;
export type FailMsg = Static<typeof FailMsg>;
export type WorkerStatusMsg = Static<typeof WorkerStatusMsg>;
export type WorkerMessage = Static<typeof WorkerMessage>;

// ---- broker → worker ----

/** A job as a worker receives it: no `meta.*` requirements, no history. */
export const AssignedJob = Type.Object({
  id: JobId,
  attempt: AttemptNo,
  type: Type.String(),
  queue: Type.String(),
  payload: Type.Unknown(),
  requires: Type.Record(Type.String(), Type.String()),
  priority: Type.Integer(),
  /** Milliseconds, or null for no limit. */
  timeoutMs: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  killSignal: Type.String(),
  killGraceMs: Type.Integer({ minimum: 0 }),
});
export type AssignedJob = Static<typeof AssignedJob>;

export const Welcome = Type.Object({
  type: Type.Literal('welcome'),
  workerId: Type.String(),
  /**
   * Given once, to a new worker: it presents it with its id whenever it comes back (to any node);
   * without it, the id is worthless to anyone else.
   */
  secret: Type.Optional(Type.String()),
  pingIntervalMs: Type.Integer({ minimum: 1 }),
  maxLiveness: Type.Integer({ minimum: 1 }),
  /** Of the jobs the worker said it runs, these are still its own. */
  adopted: Type.Array(JobId),
  /** Of the jobs the worker said it runs, these are no longer its own: stop them. */
  abandoned: Type.Array(JobId),
});

export const Assign = Type.Object({ type: Type.Literal('assign'), job: AssignedJob });

export const CancelMsg = Type.Object({
  type: Type.Literal('cancel'),
  jobId: JobId,
  attempt: AttemptNo,
  signal: Type.String(),
  graceMs: Type.Integer({ minimum: 0 }),
  reason: Type.Union([
    Type.Literal('canceled'),
    Type.Literal('held'),
    Type.Literal('lost'),
    Type.Literal('timeout'),
    Type.Literal('requeued'),
  ]),
});

/**
 * The queues and job types the worker serves from now on (protocol 3), set by an operator at
 * run time. The types are always among those it announced in its hello.
 */
export const CapabilitiesMsg = Type.Object({
  type: Type.Literal('capabilities'),
  queues: Type.Array(Type.String({ minLength: 1, maxLength: 200 })),
  types: Type.Array(Type.String({ minLength: 1, maxLength: 200 })),
});

/** Results the broker has committed; the worker may forget them. */
export const Ack = Type.Object({
  type: Type.Literal('ack'),
  results: Type.Array(Type.Object({ jobId: JobId, attempt: AttemptNo })),
});

/** A result the broker will not apply (the worker does not hold the job); also forgettable. */
export const Refused = Type.Object({
  type: Type.Literal('refused'),
  jobId: JobId,
  attempt: AttemptNo,
  reason: Type.String(),
});

export const BrokerStatus = Type.Object({
  type: Type.Literal('status'),
  status: Type.Union([
    Type.Literal('awake'),
    Type.Literal('asleep'),
    Type.Literal('drain'),
    Type.Literal('shutdown'),
  ]),
});

/** A protocol error; the broker closes the connection after it when `fatal`. */
export const ErrorMsg = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  fatal: Type.Boolean(),
});

export const BrokerMessage = Type.Union([
  Welcome,
  Assign,
  CancelMsg,
  Ack,
  Refused,
  BrokerStatus,
  CapabilitiesMsg,
  ErrorMsg,
]);

export type Welcome = Static<typeof Welcome>;
export type Assign = Static<typeof Assign>;
export type CancelMsg = Static<typeof CancelMsg>;
export type Ack = Static<typeof Ack>;
export type Refused = Static<typeof Refused>;
export type BrokerStatus = Static<typeof BrokerStatus>;
export type CapabilitiesMsg = Static<typeof CapabilitiesMsg>;
export type ErrorMsg = Static<typeof ErrorMsg>;
export type BrokerMessage = Static<typeof BrokerMessage>;

// ---- decoding ----

export type Decoded<T> = { ok: true; messages: T[] } | { ok: false; error: string };

interface Checker {
  Check(value: unknown): boolean;
  Errors(value: unknown): Iterable<{ path: string; message: string }>;
}

/** One compiled check per message type, so that an error names the field, not "the union". */
function checkersByType(schemas: readonly TSchema[]): Map<string, Checker> {
  const map = new Map<string, Checker>();
  for (const schema of schemas) {
    const literal = (schema as unknown as { properties: { type: { const: string } } }).properties
      .type.const;
    map.set(literal, TypeCompiler.Compile(schema));
  }
  return map;
}

const workerCheckers = checkersByType([
  Hello,
  Heartbeat,
  ProgressMsg,
  LogMsg,
  AttrMsg,
  DoneMsg,
  FailMsg,
  WorkerStatusMsg,
]);
const brokerCheckers = checkersByType([
  Welcome,
  Assign,
  CancelMsg,
  Ack,
  Refused,
  BrokerStatus,
  CapabilitiesMsg,
  ErrorMsg,
]);

function decode<T>(raw: string, checkers: Map<string, Checker>): Decoded<T> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame is not valid JSON' };
  }
  const list: unknown[] = Array.isArray(value) ? value : [value];
  for (let i = 0; i < list.length; i++) {
    const message = list[i];
    const type =
      typeof message === 'object' && message !== null && 'type' in message
        ? (message as { type: unknown }).type
        : undefined;
    const checker = typeof type === 'string' ? checkers.get(type) : undefined;
    if (checker === undefined) {
      return { ok: false, error: `message ${i}: unknown type ${JSON.stringify(type ?? null)}` };
    }
    if (!checker.Check(message)) {
      const first = [...checker.Errors(message)][0];
      const where = first ? `${first.path || '/'}: ${first.message}` : 'invalid';
      return { ok: false, error: `message ${i} (${type}) is invalid at ${where}` };
    }
    // Only the free-form parts of a result can nest without bound; the schema fixes the rest.
    const deep = type === 'done' || type === 'fail' ? tooDeepAt(message, MAX_JSON_DEPTH) : null;
    if (deep !== null) {
      return {
        ok: false,
        error: `message ${i} (${type}) nests deeper than ${MAX_JSON_DEPTH} levels at ${deep}`,
      };
    }
  }
  return { ok: true, messages: list as T[] };
}

/** Decodes one frame from a worker: a message or an array of messages, all validated. */
export function decodeWorkerFrame(raw: string): Decoded<WorkerMessage> {
  return decode<WorkerMessage>(raw, workerCheckers);
}

/** Decodes one frame from the broker. */
export function decodeBrokerFrame(raw: string): Decoded<BrokerMessage> {
  return decode<BrokerMessage>(raw, brokerCheckers);
}

/** Encodes messages as one frame: a lone message as an object, several as an array. */
export function encodeFrame(messages: readonly object[]): string {
  return JSON.stringify(messages.length === 1 ? messages[0] : messages);
}
