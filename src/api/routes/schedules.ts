/** `/api/v1/schedules`: named cron schedules whose ticks submit a job from a template. */
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { nextTimes } from '../../domain/cron.js';
import { API_PREFIX, type SubmitJob } from '../../protocol/api.js';
import {
  NEXT_RUNS,
  ScheduleCreate,
  ScheduleList,
  ScheduleParams,
  SchedulePatch,
  type ScheduleBody,
} from '../../protocol/schedules.js';
import type { ScheduleService } from '../../broker/schedules.js';
import type { ScheduleRecord } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import { errorResponses, responseBody } from '../openapi.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** A schedule as the API shows it, with its next run times (none while paused). */
export function scheduleView(s: ScheduleRecord, schedules: ScheduleService): ScheduleBody {
  const spec = s.nextAt === null ? null : schedules.spec(s);
  const next =
    spec === null || s.nextAt === null
      ? []
      : [s.nextAt, ...nextTimes(spec, s.nextAt, NEXT_RUNS - 1)];
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    job: s.template as SubmitJob,
    overlap: s.overlap,
    missed: s.missed,
    paused: s.paused,
    nextRunAt: s.nextAt === null ? null : iso(s.nextAt),
    next: next.map(iso),
    lastRunAt: s.lastRunAt === null ? null : iso(s.lastRunAt),
    lastJobId: s.lastJobId === null ? null : String(s.lastJobId),
    fired: s.fired,
    skipped: s.skipped,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}

type Params = Static<typeof ScheduleParams>;
const one = Type.Ref('Schedule');
const unknownName = { 404: '`not_found`: no schedule of this name' };

export function scheduleRoutes(ctx: ApiContext): FastifyPluginAsync {
  const view = (s: ScheduleRecord): ScheduleBody => scheduleView(s, ctx.schedules);
  return async (app) => {
    app.get(
      `${API_PREFIX}/schedules`,
      {
        schema: {
          summary: 'Cron schedules, with their next run times',
          tags: ['schedules'],
          operationId: 'listSchedules',
          response: {
            200: responseBody('The schedules, by name', ScheduleList),
            ...errorResponses([503]),
          },
        },
      },
      async () => ({ schedules: (await ctx.schedules.list()).map(view) }),
    );

    app.post<{ Body: ScheduleCreate }>(
      `${API_PREFIX}/schedules`,
      {
        schema: {
          summary: 'Create a cron schedule',
          description:
            'The job template is checked as a submission would be; a bad expression, time ' +
            'zone or template is refused with 400 naming it.',
          tags: ['schedules'],
          operationId: 'createSchedule',
          body: ScheduleCreate,
          response: {
            201: Type.Ref('Schedule', { description: 'The schedule, committed' }),
            ...errorResponses([409, 503], { 409: '`conflict`: a schedule of this name exists' }),
          },
        },
      },
      async (request, reply) =>
        reply.status(201).send(view(await ctx.schedules.create(request.body))),
    );

    app.get<{ Params: Params }>(
      `${API_PREFIX}/schedules/:name`,
      {
        schema: {
          summary: 'One cron schedule',
          tags: ['schedules'],
          operationId: 'getSchedule',
          params: ScheduleParams,
          response: { 200: one, ...errorResponses([404, 503], unknownName) },
        },
      },
      async (request) => view(await ctx.schedules.get(request.params.name)),
    );

    app.patch<{ Params: Params; Body: SchedulePatch }>(
      `${API_PREFIX}/schedules/:name`,
      {
        schema: {
          summary: 'Change a cron schedule',
          description:
            'A new expression or time zone takes the next tick after now; other changes keep ' +
            'the due time.',
          tags: ['schedules'],
          operationId: 'updateSchedule',
          params: ScheduleParams,
          body: SchedulePatch,
          response: { 200: one, ...errorResponses([404, 503], unknownName) },
        },
      },
      async (request) => view(await ctx.schedules.update(request.params.name, request.body)),
    );

    app.delete<{ Params: Params }>(
      `${API_PREFIX}/schedules/:name`,
      {
        schema: {
          summary: 'Delete a cron schedule (the jobs it submitted stay)',
          tags: ['schedules'],
          operationId: 'deleteSchedule',
          params: ScheduleParams,
          response: {
            200: Type.Ref('Schedule', { description: 'The schedule as it was' }),
            ...errorResponses([404, 503], unknownName),
          },
        },
      },
      async (request) => view(await ctx.schedules.delete(request.params.name)),
    );

    for (const action of ['pause', 'resume'] as const) {
      app.post<{ Params: Params }>(
        `${API_PREFIX}/schedules/:name/${action}`,
        {
          schema: {
            summary:
              action === 'pause'
                ? 'Pause a cron schedule: no tick fires until it is resumed'
                : 'Resume a cron schedule: the next tick after now fires (none for the pause)',
            tags: ['schedules'],
            operationId: `${action}Schedule`,
            params: ScheduleParams,
            response: { 200: one, ...errorResponses([404, 503], unknownName) },
          },
        },
        async (request) => view(await ctx.schedules[action](request.params.name)),
      );
    }
  };
}
