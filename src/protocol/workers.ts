/**
 * The wire contract of the routes that put workers under an operator's hand
 * (src/api/routes/workers.ts): status, sleep schedule, queues and types, disconnect, blocklist,
 * usage. One source for the routes' validation, the OpenAPI document and the SDK's types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BlockBody, StringEnum } from './api.js';

const NamePattern = '^[A-Za-z0-9_.:/@+-]+$';
const Name = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: NamePattern,
    description,
    errorMessage: 'must be 1-200 letters, digits or _ . : / @ + -',
  });

export const WorkerIdParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 100,
    pattern: NamePattern,
    description: 'The worker id',
  }),
});
export type WorkerIdParams = Static<typeof WorkerIdParams>;

export const WorkerStatusRequest = Type.Object(
  {
    status: StringEnum(['awake', 'asleep', 'drain'] as const, {
      description:
        'awake: takes jobs. asleep: takes no new jobs. drain: takes none and the worker process ' +
        'exits once its jobs are done',
    }),
    when: Type.Optional(
      StringEnum(['now', 'after'] as const, {
        description:
          'now (default): running jobs are stopped and queued again, not counted as failures; ' +
          'after: they finish first',
        default: 'now',
      }),
    ),
  },
  { additionalProperties: false },
);
export type WorkerStatusRequest = Static<typeof WorkerStatusRequest>;

const NameList = (description: string) =>
  Type.Union([Type.Array(Name('A name'), { maxItems: 100 }), Type.Null()], { description });

export const WorkerServedRequest = Type.Object(
  {
    queues: Type.Optional(
      NameList('The queues it serves from now on (replacing the list); null: those it announced'),
    ),
    types: Type.Optional(
      NameList(
        'The job types it runs from now on, among those it announced; null: all it announced',
      ),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type WorkerServedRequest = Static<typeof WorkerServedRequest>;

export const BlocklistParams = Type.Object({
  id: WorkerIdParams.properties.id,
  type: Name('The job type to clear'),
});
export type BlocklistParams = Static<typeof BlocklistParams>;

export const BlocklistQuery = Type.Object(
  { queue: Type.Optional(Name('Only the block in this queue (default: in every queue)')) },
  { additionalProperties: false },
);
export type BlocklistQuery = Static<typeof BlocklistQuery>;

export const BlocklistCleared = Type.Object({ cleared: Type.Array(BlockBody) });
export type BlocklistCleared = Static<typeof BlocklistCleared>;

export const UsageQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'Samples from this time on (default: an hour ago). Within the last hour the samples ' +
          'are fine (one per heartbeat, at most one per 5 s); before, one average per minute ' +
          '(kept for a day)',
        errorMessage: 'must be an ISO 8601 date-time',
      }),
    ),
  },
  { additionalProperties: false },
);
export type UsageQuery = Static<typeof UsageQuery>;

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

export const UsageBody = Type.Object({
  resolution: StringEnum(['fine', 'minute'] as const),
  samples: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time' }),
      cpu: Nullable(Type.Number({ description: 'Host CPU use, 0..1 of all cores' })),
      memory: Type.Union([
        Type.Object({
          rss: Type.Number({ description: "The worker process's resident memory, bytes" }),
          total: Type.Number(),
          free: Type.Number(),
        }),
        Type.Null(),
      ]),
      jobs: Type.Array(
        Type.Object({
          jobId: Type.String(),
          cpu: Nullable(Type.Number({ description: "The job's processes' CPU, cores" })),
          rss: Nullable(
            Type.Number({ description: "The job's processes' resident memory, bytes" }),
          ),
        }),
      ),
    }),
  ),
});
export type UsageBody = Static<typeof UsageBody>;

export const Ok = Type.Object({ ok: Type.Literal(true) });
