/**
 * The wire contract of the event streams (`GET /api/v1/events`, Server-Sent Events or
 * WebSocket): each event's payload, the WebSocket messages and the stream's query. One source
 * for the route's validation, its OpenAPI description, and the SDK's types.
 *
 * Job ids travel as strings (as everywhere in the API); times in events are ms since the epoch.
 * Every event has a node-local, increasing `id` (see src/broker/event-log.ts): resume with it.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { JobErrorBody, JobStateSchema, SleepScheduleBody, StringEnum } from './api.js';
import { ID_MESSAGE, ID_PATTERN } from './ids.js';
import { LimitChangedEvent, QueueChangedEvent } from './queues.js';
import { stepStatuses } from '../domain/job.js';

const JobId = Type.String({ description: 'The job id' });
const Queue = Type.Optional(
  Type.String({ description: "The job's queue, when the node knows it (see the events docs)" }),
);
const Seq = Type.Optional(
  Type.Integer({ description: "The message's place in the job's own sequence of messages" }),
);

export const JobCreatedEvent = Type.Object({
  id: JobId,
  type: Type.String(),
  queue: Type.String(),
  state: JobStateSchema,
});

export const JobStateEvent = Type.Object({
  id: JobId,
  queue: Queue,
  seq: Seq,
  at: Type.Optional(Type.Number({ description: 'When the change was made (ms)' })),
  from: Type.Union([JobStateSchema, Type.Null()]),
  to: JobStateSchema,
  attempt: Type.Integer(),
  workerId: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([JobErrorBody, Type.Null()]),
  result: Type.Optional(Type.Unknown({ description: 'With a terminal state: the result' })),
  hold: Type.Optional(
    Type.Object(
      { reason: Type.String(), by: Type.String(), at: Type.Number() },
      {
        description: 'With `held`: why and by whom',
      },
    ),
  ),
});

export const JobProgressEvent = Type.Object({
  id: JobId,
  queue: Queue,
  seq: Seq,
  attempt: Type.Integer(),
  progress: Type.Object({
    percent: Type.Union([Type.Number(), Type.Null()]),
    message: Type.Union([Type.String(), Type.Null()]),
    at: Type.Number(),
    step: Type.Optional(
      Type.Object(
        { id: Type.String(), status: StringEnum(stepStatuses) },
        {
          description: 'A named step the report is about',
        },
      ),
    ),
  }),
});

export const JobLogEvent = Type.Object({
  id: JobId,
  queue: Queue,
  seq: Seq,
  attempt: Type.Integer(),
  at: Type.Optional(Type.Number({ description: 'When the output arrived (ms)' })),
  stream: StringEnum(['stdout', 'stderr'] as const),
  data: Type.String(),
});

export const JobAttributeEvent = Type.Object({
  id: JobId,
  queue: Queue,
  seq: Seq,
  attempt: Type.Integer(),
  key: Type.String(),
  value: Type.String(),
});

export const JobDeletedEvent = Type.Object({ id: JobId });

export const WorkerUpEvent = Type.Object({ id: Type.String(), name: Type.String() });
export const WorkerDownEvent = Type.Object({
  id: Type.String(),
  name: Type.String(),
  reason: Type.String(),
});
const WorkerId = Type.String({ description: 'The worker id' });
export const WorkerStatusEvent = Type.Object({
  id: WorkerId,
  status: StringEnum(['awake', 'asleep', 'drain'] as const),
  when: StringEnum(['now', 'after'] as const),
  by: StringEnum(['operator', 'schedule'] as const),
});
export const WorkerScheduleEvent = Type.Object({
  id: WorkerId,
  schedule: Type.Union([SleepScheduleBody, Type.Null()]),
});
export const WorkerQueuesEvent = Type.Object({
  id: WorkerId,
  queues: Type.Array(Type.String()),
  types: Type.Array(Type.String()),
});
export const WorkerBlocklistedEvent = Type.Object({
  id: WorkerId,
  queue: Type.String(),
  type: Type.String(),
  failures: Type.Integer(),
});
export const WorkerUnblockedEvent = Type.Object({
  id: WorkerId,
  queue: Type.String(),
  type: Type.String(),
});
export const WorkerDisconnectedEvent = Type.Object({
  id: WorkerId,
  by: StringEnum(['operator'] as const),
});
export const BrokerFrozenEvent = Type.Object({ frozen: Type.Boolean() });
export const BackendErrorEvent = Type.Object({
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});

const ScheduleName = Type.String({ description: 'The schedule' });
const TickAt = Type.Number({ description: 'The due time of the tick (ms)' });

export const ScheduleFiredEvent = Type.Object({
  name: ScheduleName,
  tickAt: TickAt,
  jobId: Type.String({ description: 'The job the tick submitted' }),
  missed: Type.Integer({
    description: 'Missed ticks this job stands for besides its own (`missed: once`)',
  }),
});
export const ScheduleSkippedEvent = Type.Object({
  name: ScheduleName,
  tickAt: TickAt,
  reason: StringEnum(['overlap', 'missed', 'invalid'] as const, {
    description:
      "overlap: the previous tick's job has not ended; missed: ticks that came due while no " +
      'broker ran (`missed: skip`); invalid: the job could not be made from the template',
  }),
  ticks: Type.Integer({ description: 'How many ticks passed without a job' }),
});
export const ScheduleChangedEvent = Type.Object({
  name: ScheduleName,
  change: StringEnum(['created', 'updated', 'paused', 'resumed', 'deleted'] as const),
});

/** Each event's name and the schema of its data. */
export const eventPayloads = {
  'job:created': JobCreatedEvent,
  'job:state': JobStateEvent,
  'job:progress': JobProgressEvent,
  'job:log': JobLogEvent,
  'job:attribute': JobAttributeEvent,
  'job:deleted': JobDeletedEvent,
  'worker:up': WorkerUpEvent,
  'worker:down': WorkerDownEvent,
  'worker:status': WorkerStatusEvent,
  'worker:schedule': WorkerScheduleEvent,
  'worker:queues': WorkerQueuesEvent,
  'worker:blocklisted': WorkerBlocklistedEvent,
  'worker:unblocked': WorkerUnblockedEvent,
  'worker:disconnected': WorkerDisconnectedEvent,
  'queue:changed': QueueChangedEvent,
  'limit:changed': LimitChangedEvent,
  'broker:frozen': BrokerFrozenEvent,
  'backend:error': BackendErrorEvent,
  'schedule:fired': ScheduleFiredEvent,
  'schedule:skipped': ScheduleSkippedEvent,
  'schedule:changed': ScheduleChangedEvent,
} as const satisfies Record<string, TSchema>;

export type EventName = keyof typeof eventPayloads;

/** `job:state` → `JobStateEvent`: the name of an event's data schema in the OpenAPI document. */
export function schemaNameOf(event: string): string {
  return `${event
    .split(':')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')}Event`;
}
export const eventNames = Object.keys(eventPayloads) as EventName[];
/** What `?kind=` accepts: an event's name, or the part before its colon (all of that kind). */
export const eventKinds: readonly string[] = [
  ...new Set(eventNames.map((n) => n.slice(0, n.indexOf(':')))),
  ...eventNames,
];

/** The data of each event, by name. */
export type EventPayloads = { [K in EventName]: Static<(typeof eventPayloads)[K]> };

/** One event of the stream: its id, its name and its data. */
export type StreamEvent = {
  [K in EventName]: { type: 'event'; id: number; name: K; data: EventPayloads[K] };
}[EventName];

/**
 * Events were missed: the ring of recent events no longer reaches back to the id resumed from,
 * or (`?overflow=skip`) the reader fell behind and events were dropped. `missed` counts them
 * when known; they are the ones after `after`, up to the next event sent.
 */
export const GapMessage = Type.Object({
  type: Type.Literal('gap'),
  missed: Type.Union([Type.Integer(), Type.Null()]),
  after: Type.Integer({ description: 'Resume from this id to have what the ring still keeps' }),
});
export type GapMessage = Static<typeof GapMessage>;

/** What a WebSocket reader receives: one JSON object per text message. */
export const EventMessage = Type.Object({
  type: Type.Literal('event'),
  id: Type.Integer(),
  name: StringEnum(eventNames),
  data: Type.Union(Object.values(eventPayloads)),
});
export type EventStreamMessage = StreamEvent | GapMessage;

const kindAlternatives = eventKinds.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

export const EventQuery = Type.Object(
  {
    kind: Type.Optional(
      Type.String({
        pattern: `^(?:${kindAlternatives})(?:,(?:${kindAlternatives}))*$`,
        description:
          'Only events of these kinds: names (job:state) or kinds (job), comma-separated',
        errorMessage: `kind: comma-separated event names or kinds, each one of ${eventKinds.join(', ')}`,
      }),
    ),
    queue: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Only the events of jobs of this queue',
      }),
    ),
    job: Type.Optional(
      Type.String({
        pattern: ID_PATTERN,
        description: 'Only the events of this job',
        errorMessage: `job id: ${ID_MESSAGE}`,
      }),
    ),
    since: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description:
          'Resume after this event id: what the node still keeps is sent first, or a gap ' +
          'message when it no longer reaches back (SSE: the Last-Event-ID header does the same)',
        errorMessage: 'since: an event id (an integer >= 0)',
      }),
    ),
    overflow: Type.Optional(
      StringEnum(['close', 'skip'] as const, {
        description:
          'WebSocket: what happens to a reader more than 8 MiB behind: close (4008, the ' +
          'default) or skip ahead (events dropped, then a gap message)',
      }),
    ),
    token: Type.Optional(
      Type.String({
        description:
          'The client token, for browsers (EventSource and WebSocket cannot send headers); ' +
          'the Authorization header is preferred',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EventQuery = Static<typeof EventQuery>;

/**
 * The schemas above by name, for `components.schemas` of the OpenAPI document (OpenAPI has no
 * words for a stream's messages; the stream's description points here).
 */
export const eventSchemas: Record<string, TSchema> = {
  ...Object.fromEntries(
    Object.entries(eventPayloads).map(([name, schema]) => [schemaNameOf(name), schema]),
  ),
  EventMessage,
  GapMessage,
};
