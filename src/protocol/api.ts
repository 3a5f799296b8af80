/**
 * The client API's wire contract (`/api/v1`): one set of schemas that gives the server its
 * validation, the OpenAPI document its shapes, and the SDK and CLI their types.
 */
import { Type, type Static, type TUnsafe } from '@sinclair/typebox';
import { jobStates, stepStatuses } from '../domain/job.js';
import { notifyEvents } from '../domain/notify.js';
import { ID_MESSAGE, ID_PATTERN, SEQ_MESSAGE, SEQ_PATTERN } from './ids.js';

export const API_PREFIX = '/api/v1';

/** A string that must be one of `values`; validation errors list them. */
export function StringEnum<const T extends string>(
  values: readonly T[],
  options: { description?: string; default?: T } = {},
): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

const Name = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: '^[A-Za-z0-9_.:/@+-]+$',
    description,
    errorMessage: 'must be 1-200 letters, digits or _ . : / @ + -',
  });

export const KILL_SIGNALS = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
] as const;

export const JobStateSchema = StringEnum(jobStates, {
  description: 'waiting, scheduled, queued, running, held, succeeded, failed or canceled',
});

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code' }),
      message: Type.String({ description: 'What is wrong, naming the field' }),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'Error' },
);

export const Backoff = Type.Object(
  {
    type: StringEnum(['exponential', 'fixed'] as const, {
      description: 'exponential: delay · 2^(n−1) after the n-th failure; fixed: always delay',
    }),
    delay: Type.Number({ minimum: 0, maximum: 31_536_000, description: 'Seconds' }),
    maxDelay: Type.Optional(
      Type.Number({ minimum: 0, maximum: 31_536_000, description: 'Seconds; default 1 hour' }),
    ),
    jitter: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Fraction by which each wait is spread up or down at random; default 0.2',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'How long a retryable failure waits before the next attempt',
  },
);
export type Backoff = Static<typeof Backoff>;

export const Unique = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 500, description: 'The uniqueness key' }),
    for: Type.Optional(
      Type.Number({
        minimum: 0.001,
        maximum: 31_536_000,
        description:
          'Seconds: a job with this key that was submitted, started or ended within this long ' +
          '(or runs now) makes a new submission a duplicate. Absent: no time limit',
      }),
    ),
    while: Type.Optional(
      Type.Array(JobStateSchema, {
        minItems: 1,
        maxItems: 8,
        description: 'Only while the existing job is in one of these states. Absent: any state',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A submission whose key is taken answers 200 with the existing job and `deduplicated: true`',
  },
);
export type Unique = Static<typeof Unique>;

/** The most characters a callback URL may have. */
export const MAX_NOTIFY_URL = 2048;

export const Notify = Type.Object(
  {
    url: Type.String({
      minLength: 8,
      maxLength: MAX_NOTIFY_URL,
      pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$',
      errorMessage: `must be an http:// or https:// URL of at most ${MAX_NOTIFY_URL} characters`,
      description: 'Where the callback is POSTed (http or https)',
    }),
    events: Type.Optional(
      Type.Array(StringEnum(notifyEvents), {
        minItems: 1,
        maxItems: 3,
        uniqueItems: true,
        description: 'Which ends make a callback: succeeded, failed, canceled; default all three',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A callback when the job ends: a JSON POST with an `Idempotency-Key` header, signed ' +
      '(`Switchyard-Signature`) when the broker has a notifier secret; retried with back-off',
  },
);
export type Notify = Static<typeof Notify>;

export const SubmitJob = Type.Object(
  {
    type: Name('Job type; a worker runs only types it handles (`shell` for the agent)'),
    payload: Type.Optional(
      Type.Unknown({
        description:
          'Input for the job. For `shell`: `{command: string | string[], cwd?, env?, stdin?}`',
      }),
    ),
    queue: Type.Optional(Name('Queue name; default `default`')),
    requires: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.String({ maxLength: 256 }), {
        description:
          'Label → value a worker must have. `threads=N` means at least N; `hwgroup=a|b` either; `meta.*` keys are never matched',
      }),
    ),
    priority: Type.Optional(
      Type.Integer({
        minimum: -1_000_000,
        maximum: 1_000_000,
        description: 'Higher runs first; default 0',
      }),
    ),
    maxAttempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description: 'Attempts before a retryable failure fails the job; default 5',
      }),
    ),
    timeout: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 31_536_000,
        description: 'Seconds an attempt may run before it is killed',
      }),
    ),
    killSignal: Type.Optional(
      StringEnum(KILL_SIGNALS, {
        description: 'Signal that stops the job (timeout, cancel); default SIGTERM',
      }),
    ),
    killGrace: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 86_400,
        description: 'Seconds between the kill signal and SIGKILL; default 10',
      }),
    ),
    runAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'Do not run before this time (ISO 8601)' }),
    ),
    meta: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.Unknown(), {
        description: 'Free-form metadata, stored and shown, never matched',
      }),
    ),
    delay: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 31_536_000,
        description: 'Seconds from now before the job may run (instead of `runAt`)',
      }),
    ),
    hold: Type.Optional(
      Type.Union([Type.Boolean(), Type.String({ minLength: 1, maxLength: 1000 })], {
        description:
          'Submit the job held: kept out of dispatch until released. A string is the reason',
      }),
    ),
    backoff: Type.Optional(Backoff),
    silenceTimeout: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 31_536_000,
        description:
          'Seconds a running attempt may go without reporting anything (output, progress, an ' +
          'attribute) before it counts as hung: it is killed and retried or failed',
      }),
    ),
    unique: Type.Optional(Unique),
    notify: Type.Optional(Notify),
    group: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[^\\u0000-\\u001f]+$',
        errorMessage: 'must be 1 to 200 characters without control characters',
        description:
          'The tenant or key the job is counted under: `fair` queues share starts between ' +
          'groups (optionally weighted), and per-group rate limits apply per group',
      }),
    ),
    limits: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 110 }), {
        maxItems: 16,
        description:
          'Named concurrency limits the job takes while it runs, `name` (one unit) or ' +
          '`name:N` (N units), e.g. `["license:3", "db"]`; totals are set with ' +
          '`PUT /api/v1/limits/{name}`. A job beyond a limit stays queued and says why',
      }),
    ),
    dependsOn: Type.Optional(
      Type.Array(
        Type.Union([
          Type.String({ pattern: ID_PATTERN, errorMessage: `job id: ${ID_MESSAGE}` }),
          Type.Integer({ minimum: 0, maximum: 9_999 }),
        ]),
        {
          maxItems: 1000,
          description:
            'Jobs that must succeed first: job ids (strings), or in a batch the positions ' +
            '(integers) of earlier jobs of the same batch. The job is `waiting` until they all ' +
            'succeeded; if one fails or is canceled, it is canceled',
        },
      ),
    ),
  },
  { additionalProperties: false, $id: 'SubmitJob' },
);
export type SubmitJob = Static<typeof SubmitJob>;

export const SubmitBatch = Type.Object(
  { jobs: Type.Array(Type.Ref(SubmitJob), { minItems: 1, maxItems: 10_000 }) },
  { additionalProperties: false },
);
export type SubmitBatch = Static<typeof SubmitBatch>;

const Iso = Type.String({ format: 'date-time' });
const MaybeIso = Type.Union([Iso, Type.Null()]);

export const JobErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});

export const AttemptBody = Type.Object({
  attempt: Type.Integer(),
  workerId: Type.String(),
  workerName: Type.String(),
  startedAt: Iso,
  finishedAt: Iso,
  outcome: Type.Union([
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('aborted'),
    Type.Literal('canceled'),
    Type.Literal('held'),
  ]),
  error: Type.Union([JobErrorBody, Type.Null()]),
});

export const JobBody = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    queue: Type.String(),
    state: JobStateSchema,
    payload: Type.Unknown(),
    requires: Type.Record(Type.String(), Type.String()),
    meta: Type.Record(Type.String(), Type.Unknown()),
    priority: Type.Integer(),
    maxAttempts: Type.Integer(),
    attempt: Type.Integer({ description: 'Attempts started so far' }),
    requestFailures: Type.Integer({ description: 'Runs lost to the infrastructure so far' }),
    timeout: Type.Union([Type.Number(), Type.Null()], { description: 'Seconds' }),
    killSignal: Type.String(),
    killGrace: Type.Number({ description: 'Seconds' }),
    runAt: Iso,
    createdAt: Iso,
    updatedAt: Iso,
    startedAt: MaybeIso,
    finishedAt: MaybeIso,
    workerId: Type.Union([Type.String(), Type.Null()]),
    workerName: Type.Union([Type.String(), Type.Null()]),
    progress: Type.Union([
      Type.Object({
        percent: Type.Union([Type.Number(), Type.Null()]),
        message: Type.Union([Type.String(), Type.Null()]),
        at: Iso,
      }),
      Type.Null(),
    ]),
    attributes: Type.Record(Type.String(), Type.String()),
    result: Type.Unknown({
      description: 'For `shell`: `{exitCode, signal, stdout, stderr}` (output tails)',
    }),
    error: Type.Union([JobErrorBody, Type.Null()]),
    attempts: Type.Array(AttemptBody),
    backoff: Type.Union([Backoff, Type.Null()], { description: 'null: the broker default' }),
    silenceTimeout: Type.Union([Type.Number(), Type.Null()], { description: 'Seconds' }),
    unique: Type.Union([Unique, Type.Null()]),
    notify: Type.Union([Notify, Type.Null()], { description: "The job's own callback, if any" }),
    hold: Type.Union(
      [
        Type.Object({
          reason: Type.String(),
          by: Type.String({ description: 'Who held it: `submission`, `token:<hash>`, `local`' }),
          at: Iso,
        }),
        Type.Null(),
      ],
      { description: 'Why and by whom a held job is held' },
    ),
    errorGroup: Type.Union([Type.String(), Type.Null()], {
      description: 'A failed job: its group in the failed queue (`GET /failed/groups?by=error`)',
    }),
    dependencies: Type.Optional(
      Type.Array(Type.Object({ id: Type.String(), state: JobStateSchema }), {
        description: 'The jobs this one depends on, with their states (single-job answers)',
      }),
    ),
    dependents: Type.Optional(
      Type.Array(Type.String(), { description: 'The jobs that depend on this one' }),
    ),
    group: Type.Union([Type.String(), Type.Null()], {
      description: 'The group it is counted under (fair queues, per-group rates)',
    }),
    limits: Type.Array(Type.String(), {
      description: 'The named concurrency limits it takes while it runs (`name` or `name:N`)',
    }),
    reason: Type.Optional(
      Type.String({ description: 'Why a queued (or waiting) job is not running' }),
    ),
    blockedWorkers: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'For a queued job: the workers blocklisted for its type in its queue (they will not ' +
          'be given it)',
      }),
    ),
    eta: Type.Optional(
      Type.Object(
        {
          at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
            description: 'When it should start; null: no estimate (paused, no recent starts)',
          }),
          ahead: Type.Integer({
            description: 'Queued jobs of its needs before it in dispatch order (up to 100,000)',
          }),
          rate: Type.Number({ description: 'Starts per second of its queue the estimate assumes' }),
        },
        { description: 'A queued job (single-job answers): its estimated start (see the README)' },
      ),
    ),
    deduplicated: Type.Optional(
      Type.Boolean({ description: 'The submission was a duplicate: this is the existing job' }),
    ),
  },
  { $id: 'Job' },
);
export type JobBody = Static<typeof JobBody>;

export const JobList = Type.Object({
  jobs: Type.Array(Type.Ref(JobBody)),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type JobList = Static<typeof JobList>;

/** What selects jobs: the list's query and the filter of an action on many jobs. */
const jobFilterFields = {
  state: Type.Optional(
    Type.String({
      pattern: `^(${jobStates.join('|')})(,(${jobStates.join('|')}))*$`,
      description: 'One state or several, comma-separated',
      errorMessage: `must be one or more of ${jobStates.join(', ')}, separated by commas`,
    }),
  ),
  queue: Type.Optional(Name('Only jobs of this queue')),
  type: Type.Optional(Name('Only jobs of this type')),
  worker: Type.Optional(
    Type.String({
      maxLength: 200,
      description: 'Only jobs run (or being run) by this worker: its id or its name',
    }),
  ),
  group: Type.Optional(
    Type.String({
      pattern: '^[0-9a-f]{12}$',
      description: 'Only failed jobs of this error group (`GET /failed/groups?by=error`)',
      errorMessage: 'must be an error group key (12 hex digits)',
    }),
  ),
  createdAfter: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only jobs submitted at or after this time' }),
  ),
  createdBefore: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only jobs submitted before this time' }),
  ),
  finishedAfter: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only jobs that ended at or after this time' }),
  ),
  finishedBefore: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only jobs that ended before this time' }),
  ),
  search: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        'Text found (case-insensitively) in the id, the type, the payload, the meta or the error',
    }),
  ),
  attr: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 500,
      pattern: '^[^=]+(=.*)?$',
      description: 'Only jobs with this attribute: `KEY` (set at all) or `KEY=VALUE`',
      errorMessage: 'must be KEY or KEY=VALUE',
    }),
  ),
};

export const JobFilter = Type.Object(jobFilterFields, {
  additionalProperties: false,
  $id: 'JobFilter',
  description: 'Every field narrows the set; `{}` is every job',
});
export type JobFilter = Static<typeof JobFilter>;

export const JobListQuery = Type.Object(
  {
    ...jobFilterFields,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(
      Type.String({
        pattern: ID_PATTERN,
        errorMessage: 'must be a nextCursor value (a job id)',
      }),
    ),
    order: Type.Optional(StringEnum(['asc', 'desc'] as const, { default: 'desc' })),
  },
  { additionalProperties: false },
);
export type JobListQuery = Static<typeof JobListQuery>;

export const JobIdParams = Type.Object({
  id: Type.String({
    pattern: ID_PATTERN,
    description: 'Job id',
    errorMessage: `job id: ${ID_MESSAGE}`,
  }),
});

export const LogEntryBody = Type.Object({
  seq: Type.String(),
  attempt: Type.Integer(),
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  at: Iso,
  data: Type.String(),
});
/** What became of a named step, in a progress message. */
export const StepBody = Type.Object({
  id: Type.String({ description: 'The step, as the job named it' }),
  status: StringEnum(stepStatuses),
});

const messageBase = {
  seq: Type.String({
    description:
      "The message's place among the job's messages: larger is later; resume after it with `since`",
  }),
  job: Type.String({ description: 'Job id' }),
  at: Iso,
  attempt: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The attempt the message is about; null for none (submitted, promoted, held)',
  }),
};

/**
 * One message of a job, as `GET /jobs/:id/messages` answers it and the monitor sends it: a
 * change of state (with the state before), progress (with a named step), an attribute set, or
 * a piece of output.
 */
export const JobMessageBody = Type.Union(
  [
    Type.Object({
      ...messageBase,
      kind: Type.Literal('state'),
      data: Type.Object({
        from: Type.Union([JobStateSchema, Type.Null()], {
          description: 'The state before; null when the job was submitted',
        }),
        to: JobStateSchema,
        workerId: Type.Union([Type.String(), Type.Null()]),
        error: Type.Union([JobErrorBody, Type.Null()]),
        result: Type.Optional(Type.Unknown({ description: "The job's result, when it succeeded" })),
        hold: Type.Optional(
          Type.Object({ reason: Type.String(), by: Type.String(), at: Type.Integer() }),
        ),
      }),
    }),
    Type.Object({
      ...messageBase,
      kind: Type.Literal('progress'),
      data: Type.Object({
        percent: Type.Union([Type.Number(), Type.Null()]),
        message: Type.Union([Type.String(), Type.Null()]),
        step: Type.Optional(StepBody),
      }),
    }),
    Type.Object({
      ...messageBase,
      kind: Type.Literal('attribute'),
      data: Type.Object({ key: Type.String(), value: Type.String() }),
    }),
    Type.Object({
      ...messageBase,
      kind: Type.Literal('log'),
      data: Type.Object({
        stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
        text: Type.String(),
      }),
    }),
  ],
  { $id: 'JobMessage' },
);
export type JobMessageBody = Static<typeof JobMessageBody>;

export const MessageList = Type.Object({
  messages: Type.Array(Type.Ref(JobMessageBody)),
  next: Type.Union([Type.String(), Type.Null()], {
    description: 'The `since` of the next page; null when this page ends what is stored',
  }),
});
export type MessageList = Static<typeof MessageList>;

export const MessageQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        pattern: SEQ_PATTERN,
        description: 'Only messages after this seq (the last one seen)',
        errorMessage: `since: ${SEQ_MESSAGE}`,
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 500 })),
  },
  { additionalProperties: false },
);

/** Where output was dropped, in a job's output as text (`?format=text`, `switchyard job --logs`). */
export function droppedLine(bytes: number): string {
  return `\n[switchyard: ${bytes} bytes of output dropped here; the job keeps its first and last output]\n`;
}

/** The most output one page of `GET /jobs/:id/logs` carries (it holds one entry at least). */
export const LOG_PAGE_BYTES = 1_048_576;

export const LogList = Type.Object({
  logs: Type.Array(LogEntryBody),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  dropped: Type.Union(
    [
      Type.Object({
        bytes: Type.Integer({ description: 'Bytes of output dropped between head and tail' }),
        after: Type.String({
          description: 'The seq of the entry the dropped output followed ("0": the start)',
        }),
      }),
      Type.Null(),
    ],
    {
      description:
        'Where output was dropped: a job keeps the head and the tail of its output (config job_output)',
    },
  ),
});
export type LogList = Static<typeof LogList>;
export const LogQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({
        pattern: SEQ_PATTERN,
        errorMessage: `log seq: ${SEQ_MESSAGE}`,
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
    format: Type.Optional(
      StringEnum(['json', 'text'] as const, {
        description:
          'json (default): pages of entries; text: all the output kept, as plain text, with a ' +
          'line where output was dropped',
        default: 'json',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The longest `GET /jobs/:id?wait=` may hold a request, in seconds. */
export const MAX_JOB_WAIT_S = 60;

export const JobGetQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: MAX_JOB_WAIT_S,
        description:
          'Seconds to wait for the job to end: the answer comes as soon as it has succeeded, ' +
          'failed or been canceled, or when the time is up, with the job as it is then ' +
          '(check its state). Absent or 0: at once.',
        errorMessage: `must be a number of seconds from 0 to ${MAX_JOB_WAIT_S}`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const SleepScheduleBody = Type.Object(
  {
    active: Type.Optional(
      Type.Boolean({ description: 'Whether the schedule applies (default true)', default: true }),
    ),
    days: Type.Array(StringEnum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const), {
      minItems: 1,
      maxItems: 7,
      description: 'The days a sleep window starts on',
    }),
    start: Type.String({
      pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
      description: 'Start of the window, HH:MM local time',
      errorMessage: 'must be a time of day HH:MM',
    }),
    end: Type.String({
      pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
      description:
        'End of the window, HH:MM local time (before the start: the window crosses midnight; ' +
        'equal to it: the whole day)',
      errorMessage: 'must be a time of day HH:MM',
    }),
    timeZone: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'An IANA time zone, e.g. `Europe/Amsterdam` or `UTC`',
    }),
  },
  { additionalProperties: false },
);
export type SleepScheduleBody = Static<typeof SleepScheduleBody>;

export const BlockBody = Type.Object({
  queue: Type.String(),
  type: Type.String(),
  failures: Type.Integer(),
  blockedAt: Iso,
});
export type BlockBody = Static<typeof BlockBody>;

export const WorkerBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: Type.Record(Type.String(), Type.Array(Type.String())),
  types: Type.Array(Type.String()),
  queues: Type.Array(Type.String()),
  slots: Type.Integer(),
  running: Type.Array(Type.String(), { description: 'Ids of the jobs it runs' }),
  state: Type.Union([
    Type.Literal('idle'),
    Type.Literal('busy'),
    Type.Literal('asleep'),
    Type.Literal('draining'),
    Type.Literal('disconnected'),
  ]),
  status: Type.Optional(
    StringEnum(['awake', 'asleep', 'drain'] as const, {
      description: 'The status in force (set by hand or by the sleep schedule)',
    }),
  ),
  schedule: Type.Optional(Type.Union([SleepScheduleBody, Type.Null()])),
  announced: Type.Optional(
    Type.Object(
      { types: Type.Array(Type.String()), queues: Type.Array(Type.String()) },
      { description: 'What the worker said it runs and serves (types are the upper bound)' },
    ),
  ),
  blocklist: Type.Optional(Type.Array(BlockBody, { description: 'Blocks in force' })),
  connectedAt: Iso,
  lastSeenAt: Iso,
  address: Type.Union([Type.String(), Type.Null()]),
  cpu: Type.Union([Type.Number(), Type.Null()]),
  memory: Type.Union([
    Type.Object({ rss: Type.Number(), total: Type.Number(), free: Type.Number() }),
    Type.Null(),
  ]),
});
export type WorkerBody = Static<typeof WorkerBody>;
export const WorkerList = Type.Object({ workers: Type.Array(WorkerBody) });
export type WorkerList = Static<typeof WorkerList>;

export const StatsBody = Type.Object({
  workers: Type.Integer(),
  idleWorkers: Type.Integer(),
  slots: Type.Integer(),
  freeSlots: Type.Integer(),
  jobs: Type.Object({
    waiting: Type.Integer(),
    scheduled: Type.Integer(),
    queued: Type.Integer(),
    running: Type.Integer(),
    held: Type.Integer(),
    succeeded: Type.Integer(),
    failed: Type.Integer(),
    canceled: Type.Integer(),
  }),
  frozen: Type.Boolean(),
  uptimeSeconds: Type.Number(),
  store: Type.String(),
  queueManager: Type.String(),
});
export type StatsBody = Static<typeof StatsBody>;

export const ClusterWorker = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slots: Type.Integer(),
  address: Type.Union([Type.String(), Type.Null()]),
  lastSeenAt: Iso,
});

export const ClusterNode = Type.Object({
  id: Type.String(),
  address: Type.String({ description: "The node's client API" }),
  startedAt: Iso,
  heartbeatAt: Iso,
  alive: Type.Boolean(),
  leader: Type.Boolean(),
  self: Type.Boolean({ description: 'Whether this is the node that answered' }),
  workers: Type.Array(ClusterWorker, { description: 'Workers connected to this node' }),
});

export const ClusterBody = Type.Object({
  leader: Type.Union([Type.String(), Type.Null()], {
    description: 'The node that runs the cluster-wide work (null while none is elected)',
  }),
  nodes: Type.Array(ClusterNode),
});
export type ClusterBody = Static<typeof ClusterBody>;

export const HealthBody = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
});

/** The actions on one job or on a set of jobs (`POST /jobs/actions`). */
export const jobActions = [
  'cancel',
  'hold',
  'release',
  'retry',
  'delete',
  'run-now',
  'priority',
  'move',
] as const;
export type JobAction = (typeof jobActions)[number];

const Priority = Type.Integer({
  minimum: -1_000_000,
  maximum: 1_000_000,
  description: 'Higher runs first',
});

export const HoldBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })) },
  { additionalProperties: false },
);
export type HoldBody = Static<typeof HoldBody>;

export const PatchJob = Type.Object(
  {
    priority: Type.Optional(Priority),
    queue: Type.Optional(Name('Move the job to this queue')),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchJob = Static<typeof PatchJob>;

export const ActionRequest = Type.Object(
  {
    action: StringEnum(jobActions, {
      description:
        'cancel, hold (`reason`), release, retry, delete, run-now, priority (`priority`) or ' +
        'move (`queue`)',
    }),
    ids: Type.Optional(
      Type.Array(Type.String({ pattern: ID_PATTERN, errorMessage: `job id: ${ID_MESSAGE}` }), {
        minItems: 1,
        maxItems: 10_000,
      }),
    ),
    filter: Type.Optional(Type.Ref(JobFilter)),
    dryRun: Type.Optional(
      Type.Boolean({ description: 'Count what the action would change; change nothing' }),
    ),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
    priority: Type.Optional(Priority),
    queue: Type.Optional(Name('For move: the queue')),
  },
  { additionalProperties: false },
);
export type ActionRequest = Static<typeof ActionRequest>;

export const ActionQuery = Type.Object(
  { dryRun: Type.Optional(Type.Boolean({ description: 'Same as `dryRun` in the body' })) },
  { additionalProperties: false },
);

export const ActionResult = Type.Object({
  matched: Type.Integer({ description: 'Jobs the ids or the filter named' }),
  changed: Type.Integer({
    description: 'Jobs the action changed (with dryRun: would change)',
  }),
  dryRun: Type.Boolean(),
});
export type ActionResult = Static<typeof ActionResult>;

export const failedGroupings = ['queue', 'type', 'error'] as const;
export type FailedGrouping = (typeof failedGroupings)[number];

export const FailedGroupsQuery = Type.Object(
  {
    by: Type.Optional(StringEnum(failedGroupings, { default: 'error' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export const FailedGroups = Type.Object({
  by: StringEnum(failedGroupings),
  total: Type.Integer({ description: 'Failed jobs in all' }),
  groups: Type.Array(
    Type.Object({
      key: Type.String({
        description:
          'The queue, the type, or the error group (use as `group` in a filter); largest first',
      }),
      label: Type.String({
        description:
          'For people: the queue, the type, or the error with numbers, ids and paths replaced',
      }),
      count: Type.Integer(),
      newest: Type.Ref(JobBody),
    }),
  ),
});
export type FailedGroups = Static<typeof FailedGroups>;

export const FreezeBody = Type.Object({ frozen: Type.Boolean() });
export type FreezeBody = Static<typeof FreezeBody>;
