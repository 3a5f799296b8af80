/**
 * The wire contract of queues and named limits (`/api/v1/queues`, `/api/v1/limits`): one
 * source for the routes' validation, their OpenAPI description, the events and the SDK's types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { disciplines, queueBounds } from '../domain/queues.js';
import { StringEnum } from './api.js';

export const QueueName = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\u0000-\\u001f/]+$',
  errorMessage: 'must be 1 to 200 characters, without control characters or /',
  description: 'The queue',
});

const Rate = (description: string) =>
  Type.Union(
    [Type.Number({ minimum: queueBounds.minRate, maximum: queueBounds.maxRate }), Type.Null()],
    {
      description,
    },
  );

const settingsFields = {
  discipline: StringEnum(disciplines, {
    description:
      '`priority` (default: higher priority first, then older), `fifo` (older first, priority ' +
      "ignored) or `fair` (round robin between the jobs' `group`s, weighted by `weights`; " +
      'priority first)',
  }),
  rate: Rate('Jobs started per second at most (a token bucket), across nodes; null: no limit'),
  burst: Rate('How many may start at once after a quiet spell (the bucket); default max(1, rate)'),
  groupRate: Rate('The same per group of the jobs (`group`); null: no limit'),
  groupBurst: Rate('The per-group bucket; default max(1, groupRate)'),
  concurrency: Type.Union(
    [Type.Integer({ minimum: 0, maximum: queueBounds.maxConcurrency }), Type.Null()],
    { description: 'Jobs of the queue running at once at most, across nodes; null: no limit' },
  ),
  weights: Type.Record(
    Type.String({ maxLength: queueBounds.groupMaxLength }),
    Type.Number({ minimum: queueBounds.minRate, maximum: queueBounds.maxWeight }),
    {
      description: 'fair: weight per group (default 1); a group of weight 2 gets twice the starts',
    },
  ),
};

export const QueueSettingsSchema = Type.Object(settingsFields, {
  additionalProperties: false,
  $id: 'QueueSettings',
});

export const QueueSettingsPatchSchema = Type.Partial(Type.Object(settingsFields), {
  additionalProperties: false,
  description: 'Settings to change; those left out keep their values',
});
export type QueueSettingsPatchBody = Static<typeof QueueSettingsPatchSchema>;

const PerSecond = Type.Object(
  { '1m': Type.Number(), '5m': Type.Number(), '15m': Type.Number() },
  { description: 'Jobs per second over the last 1, 5 and 15 minutes' },
);

export const QueueView = Type.Object(
  {
    name: Type.String(),
    paused: Type.Boolean(),
    settings: Type.Ref('QueueSettings'),
    counts: Type.Object(
      {
        queued: Type.Integer(),
        running: Type.Integer(),
        scheduled: Type.Integer(),
        waiting: Type.Integer(),
        held: Type.Integer(),
        failed: Type.Integer(),
        succeeded: Type.Integer(),
        canceled: Type.Integer(),
      },
      { description: 'Jobs of the queue per state' },
    ),
    rates: Type.Object(
      { in: PerSecond, out: PerSecond },
      { description: 'Jobs submitted (in) and started (out), all nodes together' },
    ),
    oldestWait: Type.Union([Type.Number(), Type.Null()], {
      description: 'Seconds the longest-waiting queued job has been due; null: none queued',
    }),
    limits: Type.Array(Type.String(), {
      description: 'The named limits its queued jobs take',
    }),
  },
  { $id: 'Queue' },
);

export const LimitView = Type.Object(
  {
    name: Type.String(),
    max: Type.Union([Type.Integer(), Type.Null()], { description: 'The total; null: none set' }),
    used: Type.Integer({ description: 'Units taken by running jobs, all nodes' }),
  },
  { $id: 'Limit' },
);

export const LimitName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-/]{0,99}$',
  errorMessage:
    'must be letters, digits and _ . - / (at most 100), starting with a letter or digit',
});

export const LimitPut = Type.Object(
  {
    max: Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.Null()], {
      description: 'Units of the limit that running jobs may take at once; null removes it',
    }),
  },
  { additionalProperties: false },
);

export const QueueChangedEvent = Type.Object({
  name: Type.String(),
  paused: Type.Boolean(),
  settings: Type.Object(settingsFields),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  deleted: Type.Boolean(),
});
export const LimitChangedEvent = Type.Object({
  name: Type.String(),
  max: Type.Union([Type.Integer(), Type.Null()]),
});
