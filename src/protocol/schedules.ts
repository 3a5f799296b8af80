/**
 * The wire contract of cron schedules (`/api/v1/schedules`): a named cron expression in a time
 * zone and the job each tick submits (exactly what POST /jobs accepts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum, type SubmitJob } from './api.js';

export const MAX_SCHEDULE_NAME = 200;
/** Next run times a schedule's view lists. */
export const NEXT_RUNS = 5;

const ScheduleName = Type.String({
  minLength: 1,
  maxLength: MAX_SCHEDULE_NAME,
  pattern: '^[A-Za-z0-9_.:@+-]+$',
  description: 'The schedule name',
  errorMessage: `must be 1-${MAX_SCHEDULE_NAME} letters, digits or _ . : @ + -`,
});

const Cron = Type.String({
  minLength: 1,
  maxLength: 200,
  description:
    'Cron expression: 5 fields (minute hour day month weekday), 6 with seconds first, or a ' +
    'nickname such as @daily',
});
const Timezone = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'IANA time zone the expression is read in; default UTC',
});
const Overlap = StringEnum(['skip', 'allow'] as const, {
  description:
    "skip (default): a tick is skipped while the previous tick's job has not ended; allow: fires anyway",
});
const Missed = StringEnum(['once', 'skip'] as const, {
  description:
    'What ticks missed while no broker ran do: once (default) fires one job for them all; ' +
    'skip fires none, the next tick fires',
});

export const ScheduleCreate = Type.Object(
  {
    name: ScheduleName,
    cron: Cron,
    timezone: Type.Optional(Timezone),
    job: Type.Ref('SubmitJob', {
      description:
        'The job each tick submits, as POST /jobs takes it (checked now). Its `meta` gets ' +
        '`schedule` and `tick`; its `unique` is replaced by a key of the tick',
    }),
    overlap: Type.Optional(Overlap),
    missed: Type.Optional(Missed),
    paused: Type.Optional(Type.Boolean({ description: 'Created paused; default false' })),
  },
  { additionalProperties: false },
);
/** The job is a reference to SubmitJob in the schema; its type is spelled out here. */
export type ScheduleCreate = Omit<Static<typeof ScheduleCreate>, 'job'> & { job: SubmitJob };

export const SchedulePatch = Type.Object(
  {
    cron: Type.Optional(Cron),
    timezone: Type.Optional(Timezone),
    job: Type.Optional(Type.Ref('SubmitJob')),
    overlap: Type.Optional(Overlap),
    missed: Type.Optional(Missed),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type SchedulePatch = Omit<Static<typeof SchedulePatch>, 'job'> & { job?: SubmitJob };

export const ScheduleParams = Type.Object({ name: ScheduleName });

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const ScheduleBody = Type.Object(
  {
    name: Type.String(),
    cron: Type.String(),
    timezone: Type.String(),
    job: Type.Unknown({ description: 'The job template' }),
    overlap: Overlap,
    missed: Missed,
    paused: Type.Boolean(),
    nextRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the next tick is due (null: paused, or no more ticks)',
    }),
    next: Type.Array(Type.String({ format: 'date-time' }), {
      description: `The next run times, up to ${NEXT_RUNS} (none while paused)`,
    }),
    lastRunAt: Time,
    lastJobId: Type.Union([Type.String(), Type.Null()]),
    fired: Type.Integer({ description: 'Ticks that submitted a job' }),
    skipped: Type.Integer({ description: 'Ticks that did not (overlap, missed)' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Schedule' },
);
export type ScheduleBody = Omit<Static<typeof ScheduleBody>, 'job'> & { job: SubmitJob };

export const ScheduleList = Type.Object({ schedules: Type.Array(Type.Ref('Schedule')) });
export type ScheduleList = { schedules: ScheduleBody[] };
