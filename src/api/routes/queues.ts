/** Queues as objects and named concurrency limits (src/broker/queues.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { notFound } from '../../domain/errors.js';
import { API_PREFIX } from '../../protocol/api.js';
import type { QueueView } from '../../protocol/queues.js';
import {
  LimitName,
  LimitPut,
  type LimitView,
  QueueName,
  QueueSettingsPatchSchema,
} from '../../protocol/queues.js';
import type { QueueListing } from '../../broker/queue-views.js';
import type { ApiContext } from '../context.js';
import { errorResponses, responseBody } from '../openapi.js';

const NameParams = Type.Object({ name: QueueName });
const LimitParams = Type.Object({ name: LimitName });
const DeleteQuery = Type.Object(
  {
    force: Type.Optional(
      Type.Boolean({
        description: 'Cancel the jobs of the queue that have not ended, then delete it',
      }),
    ),
  },
  { additionalProperties: false },
);
const waiting = ['waiting', 'scheduled', 'queued', 'running', 'held'] as const;

function view(q: QueueListing): Static<typeof QueueView> {
  return { ...q, settings: q.settings };
}

export function queueRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const one = async (name: string): Promise<Static<typeof QueueView>> => {
      const q = await ctx.queueViews.one(name);
      if (q === undefined) throw notFound('queue', JSON.stringify(name));
      return view(q);
    };

    app.get(
      `${API_PREFIX}/queues`,
      {
        schema: {
          summary: 'Every queue: jobs per state, rates in and out, the oldest wait, settings',
          description:
            'A queue exists once a job used it or it was created with settings. Rates are jobs ' +
            'submitted (in) and started (out) per second, all nodes together.',
          tags: ['queues'],
          operationId: 'listQueues',
          response: {
            200: responseBody(
              'The queues, by name',
              Type.Object({ queues: Type.Array(Type.Ref('Queue')) }),
            ),
            ...errorResponses([503]),
          },
        },
      },
      async () => ({ queues: (await ctx.queueViews.list()).map(view) }),
    );

    app.get<{ Params: Static<typeof NameParams> }>(
      `${API_PREFIX}/queues/:name`,
      {
        schema: {
          summary: 'One queue',
          tags: ['queues'],
          operationId: 'getQueue',
          params: NameParams,
          response: { 200: Type.Ref('Queue'), ...errorResponses([404, 503]) },
        },
      },
      async (request) => one(request.params.name),
    );

    app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof QueueSettingsPatchSchema> }>(
      `${API_PREFIX}/queues/:name`,
      {
        schema: {
          summary: 'Create a queue with settings, or change its settings',
          description:
            'Settings left out keep their values (the defaults for a new queue). A change of ' +
            '`discipline` (or of fair `weights`) gives the waiting jobs of the queue their ' +
            'places under the new one. Every node follows at once.',
          tags: ['queues'],
          operationId: 'putQueue',
          params: NameParams,
          body: QueueSettingsPatchSchema,
          response: { 200: Type.Ref('Queue'), ...errorResponses([503]) },
        },
      },
      async (request) => {
        await ctx.queues.put(request.params.name, request.body);
        return one(request.params.name);
      },
    );

    for (const paused of [true, false]) {
      app.post<{ Params: Static<typeof NameParams> }>(
        `${API_PREFIX}/queues/:name/${paused ? 'pause' : 'resume'}`,
        {
          schema: {
            summary: paused
              ? 'Pause a queue: it keeps its jobs and starts none (running ones finish)'
              : 'Resume a paused queue',
            tags: ['queues'],
            operationId: paused ? 'pauseQueue' : 'resumeQueue',
            params: NameParams,
            response: { 200: Type.Ref('Queue'), ...errorResponses([503]) },
          },
        },
        async (request) => {
          await ctx.queues.setPaused(request.params.name, paused);
          return one(request.params.name);
        },
      );
    }

    app.delete<{ Params: Static<typeof NameParams>; Querystring: Static<typeof DeleteQuery> }>(
      `${API_PREFIX}/queues/:name`,
      {
        schema: {
          summary: 'Delete a queue (its settings), when it has no job that has not ended',
          description:
            'With `force=true` its jobs that have not ended are canceled first. Ended jobs ' +
            'stay (for their retention); a job submitted to the queue later uses it again.',
          tags: ['queues'],
          operationId: 'deleteQueue',
          params: NameParams,
          querystring: DeleteQuery,
          response: {
            200: responseBody(
              'Deleted',
              Type.Object({ deleted: Type.Boolean(), canceled: Type.Integer() }),
            ),
            ...errorResponses([404, 409, 503], {
              409: 'The queue has jobs that have not ended (use force)',
            }),
          },
        },
      },
      async (request) => {
        const name = request.params.name;
        const selector = { queue: name, states: waiting };
        const { canceled } = await ctx.queues.remove(
          name,
          request.query.force === true,
          async () => (await ctx.jobs.actOnAll(selector, { kind: 'cancel' }, false)).changed,
          () => ctx.store.jobCount(selector),
        );
        return { deleted: true, canceled };
      },
    );

    app.get(
      `${API_PREFIX}/limits`,
      {
        schema: {
          summary: 'Named concurrency limits: totals, units in use, queued jobs taking them',
          tags: ['queues'],
          operationId: 'listLimits',
          response: {
            200: responseBody(
              'The limits that have a total or that jobs take',
              Type.Object({ limits: Type.Array(Type.Ref('Limit')) }),
            ),
            ...errorResponses([503]),
          },
        },
      },
      async () => ({ limits: await limitViews(ctx) }),
    );

    app.put<{ Params: Static<typeof LimitParams>; Body: Static<typeof LimitPut> }>(
      `${API_PREFIX}/limits/:name`,
      {
        schema: {
          summary: "Set a named limit's total (null removes it)",
          description:
            'Jobs naming the limit (`limits: ["name"]` or `["name:N"]` for N units) start only ' +
            'while the units running jobs take, all nodes together, stay within the total.',
          tags: ['queues'],
          operationId: 'putLimit',
          params: LimitParams,
          body: LimitPut,
          response: { 200: Type.Ref('Limit'), ...errorResponses([503]) },
        },
      },
      async (request) => {
        await ctx.queues.putLimit(request.params.name, request.body.max);
        const all = await limitViews(ctx);
        return (
          all.find((l) => l.name === request.params.name) ?? {
            name: request.params.name,
            max: null,
            used: 0,
          }
        );
      },
    );
  };
}

/** Every limit with a total, taken by a needs' jobs or in use, with its use; by name. */
async function limitViews(ctx: ApiContext): Promise<Array<Static<typeof LimitView>>> {
  const { used } = await ctx.queueViews.usage();
  const names = new Set([
    ...ctx.queues.limits().map((l) => l.name),
    ...ctx.queueViews.limitNames(),
    ...used.keys(),
  ]);
  return [...names].sort().map((name) => ({
    name,
    max: ctx.queues.limitMax(name) ?? null,
    used: used.get(name) ?? 0,
  }));
}
