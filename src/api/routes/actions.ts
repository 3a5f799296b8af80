/**
 * Actions on jobs: on one (`/jobs/:id/cancel|hold|release|retry|run-now`, `DELETE`, `PATCH`),
 * on a list of ids or on every job a filter matches (`/jobs/actions`), the failed queue's
 * groups, and freezing the broker. Every change is committed before it is answered.
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { bearer } from '../../broker/auth.js';
import type { Action } from '../../broker/jobs.js';
import { invalid } from '../../domain/errors.js';
import {
  API_PREFIX,
  ActionQuery,
  ActionRequest,
  ActionResult,
  FailedGroups,
  FailedGroupsQuery,
  FreezeBody,
  HoldBody,
  JobIdParams,
  PatchJob,
} from '../../protocol/api.js';
import type { ApiContext } from '../context.js';
import { selectorOf } from '../filters.js';
import { errorResponses, responseBody } from '../openapi.js';
import { jobView } from '../views.js';

type IdParams = Static<typeof JobIdParams>;

/**
 * Who acts, as far as the broker can prove it: the token's fingerprint (never the token), or
 * `local` for a broker without tokens (which answers its own machine only).
 */
export function actorOf(request: FastifyRequest): string {
  const token = bearer(request.headers.authorization);
  if (token === undefined) return 'local';
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

/** The action a request names, with its arguments checked. */
function actionOf(body: Static<typeof ActionRequest>, actor: string): Action {
  switch (body.action) {
    case 'hold':
      return { kind: 'hold', hold: { reason: body.reason ?? 'held', by: actor } };
    case 'priority':
      if (body.priority === undefined) throw invalid('priority: required for action "priority"');
      return { kind: 'priority', priority: body.priority };
    case 'move':
      if (body.queue === undefined) throw invalid('queue: required for action "move"');
      return { kind: 'move', queue: body.queue };
    default:
      return { kind: body.action };
  }
}

const one = (summary: string, description: string, operationId: string, body?: unknown) => ({
  schema: {
    summary,
    description,
    tags: ['jobs'],
    operationId,
    params: JobIdParams,
    ...(body === undefined ? {} : { body }),
    response: {
      200: Type.Ref('Job', { description: 'The job after the change' }),
      ...errorResponses([404, 409, 503]),
    },
  },
});

export function actionRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const byId = (request: { params: IdParams }): number => Number(request.params.id);

    app.post<{ Params: IdParams }>(
      `${API_PREFIX}/jobs/:id/cancel`,
      one(
        'Cancel a job',
        'A waiting, scheduled, queued or held job ends at once; a running one ends and its ' +
          'worker gets the kill signal (SIGKILL after the grace time). Jobs depending on it are ' +
          'canceled too. 409 if the job already ended.',
        'cancelJob',
      ),
      async (request) => jobView(await ctx.jobs.cancel(byId(request))),
    );

    app.post<{ Params: IdParams; Body: Static<typeof HoldBody> | undefined }>(
      `${API_PREFIX}/jobs/:id/hold`,
      {
        // The body is optional: none is `{}`.
        preValidation: async (request) => {
          request.body ??= {};
        },
        ...one(
          'Hold a job (HTCondor condor_hold)',
          'Keeps a waiting, scheduled or queued job out of dispatch. A running one is stopped ' +
            '(kill signal, SIGKILL after the grace time) and its attempt recorded as held; held ' +
            'attempts do not count against maxAttempts. The job shows `hold` (reason, by, at). ' +
            '409 for a job already held or ended.',
          'holdJob',
          HoldBody,
        ),
      },
      async (request) => {
        const reason = request.body?.reason ?? 'held';
        return jobView(
          await ctx.jobs.actOnOne(byId(request), {
            kind: 'hold',
            hold: { reason, by: actorOf(request) },
          }),
        );
      },
    );

    app.post<{ Params: IdParams }>(
      `${API_PREFIX}/jobs/:id/release`,
      one(
        'Release a held job',
        'Back to `queued` (or `waiting`, while a dependency has not succeeded). 409 unless held.',
        'releaseJob',
      ),
      async (request) => jobView(await ctx.jobs.actOnOne(byId(request), { kind: 'release' })),
    );

    app.post<{ Params: IdParams }>(
      `${API_PREFIX}/jobs/:id/retry`,
      one(
        'Retry a failed or canceled job',
        'Back to `queued` with all its attempts again (earlier ones stop counting); its error ' +
          'is cleared, its attempts kept. 409 unless failed or canceled.',
        'retryJob',
      ),
      async (request) => jobView(await ctx.jobs.actOnOne(byId(request), { kind: 'retry' })),
    );

    app.post<{ Params: IdParams }>(
      `${API_PREFIX}/jobs/:id/run-now`,
      one(
        'Run a scheduled job now',
        'A delayed job, or one backing off before a retry, is queued at once. 409 unless scheduled.',
        'runJobNow',
      ),
      async (request) => jobView(await ctx.jobs.actOnOne(byId(request), { kind: 'run-now' })),
    );

    app.delete<{ Params: IdParams }>(
      `${API_PREFIX}/jobs/:id`,
      {
        schema: {
          summary: 'Delete a job with its attempts and output',
          description:
            'A running job is stopped first. Jobs waiting for it are canceled. Answers with the ' +
            'job as it was.',
          tags: ['jobs'],
          operationId: 'deleteJob',
          params: JobIdParams,
          response: {
            200: Type.Ref('Job', { description: 'The job as it was before it was deleted' }),
            ...errorResponses([404, 503]),
          },
        },
      },
      async (request) => jobView(await ctx.jobs.actOnOne(byId(request), { kind: 'delete' })),
    );

    app.patch<{ Params: IdParams; Body: Static<typeof PatchJob> }>(
      `${API_PREFIX}/jobs/:id`,
      one(
        'Change the priority or the queue of a job that waits',
        'For waiting, scheduled, queued and held jobs; 409 for a running or ended one.',
        'updateJob',
        PatchJob,
      ),
      async (request) => {
        const id = byId(request);
        const { priority, queue } = request.body;
        let job;
        if (priority !== undefined)
          job = await ctx.jobs.actOnOne(id, { kind: 'priority', priority });
        if (queue !== undefined) job = await ctx.jobs.actOnOne(id, { kind: 'move', queue });
        return jobView(job!);
      },
    );

    app.post<{ Body: Static<typeof ActionRequest>; Querystring: Static<typeof ActionQuery> }>(
      `${API_PREFIX}/jobs/actions`,
      {
        schema: {
          summary: 'An action on a list of jobs, or on every job a filter matches',
          description:
            'Exactly one of `ids` and `filter`. A filter is walked in chunks of 100 jobs, one ' +
            'commit each, so that dispatch goes on meanwhile; jobs the action does not apply to ' +
            '(a release of a queued job) are matched, not changed. `dryRun` (or `?dryRun=true`) ' +
            'counts and changes nothing. `filter: {}` is every job.',
          tags: ['jobs'],
          operationId: 'actOnJobs',
          body: ActionRequest,
          querystring: ActionQuery,
          response: {
            200: responseBody('What the action matched and changed', ActionResult),
            ...errorResponses([503]),
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        if ((body.ids === undefined) === (body.filter === undefined)) {
          throw invalid('give exactly one of "ids" and "filter"');
        }
        const action = actionOf(body, actorOf(request));
        const dryRun = body.dryRun === true || request.query.dryRun === true;
        if (body.ids !== undefined) {
          const ids = body.ids.map(Number);
          if (dryRun) return { ...(await ctx.jobs.dryRunIds(ids, action)), dryRun };
          const result = await ctx.jobs.actOn(ids, action);
          let changed = 0;
          for (const r of result.values()) if (r.changed) changed++;
          return { matched: result.size, changed, dryRun };
        }
        const gone = new AbortController();
        reply.raw.once('close', () => {
          if (!reply.sent) gone.abort();
        });
        const selector = selectorOf(body.filter!, 'filter.');
        return { ...(await ctx.jobs.actOnAll(selector, action, dryRun, gone.signal)), dryRun };
      },
    );

    app.get<{ Querystring: Static<typeof FailedGroupsQuery> }>(
      `${API_PREFIX}/failed/groups`,
      {
        schema: {
          summary: 'The failed queue, grouped by queue, type or error',
          description:
            'Errors that differ only in numbers, ids, paths, addresses or quoted values form one ' +
            'group; its key is the `group` of a filter (retry or delete a whole group). Largest ' +
            'groups first, each with its newest job.',
          tags: ['jobs'],
          operationId: 'failedGroups',
          querystring: FailedGroupsQuery,
          response: {
            200: responseBody('The groups', FailedGroups),
            ...errorResponses([503]),
          },
        },
      },
      async (request) => {
        const by = request.query.by ?? 'error';
        const { total, groups } = await ctx.jobs.failedGroups(by, request.query.limit ?? 100);
        return { by, total, groups: groups.map((g) => ({ ...g, newest: jobView(g.newest) })) };
      },
    );

    for (const frozen of [true, false]) {
      app.post(
        `${API_PREFIX}/${frozen ? 'freeze' : 'unfreeze'}`,
        {
          config: { admin: true },
          schema: {
            summary: frozen ? 'Freeze the broker: refuse submissions' : 'Unfreeze the broker',
            description: frozen
              ? 'While frozen, every node refuses submissions (503 `frozen`, "The broker is ' +
                'frozen."); queued and running jobs go on. Stored: it survives restarts. Admin token.'
              : 'Submissions are taken again, on every node. Admin token.',
            tags: ['system'],
            operationId: frozen ? 'freeze' : 'unfreeze',
            response: {
              200: responseBody('Whether the broker is frozen now', FreezeBody),
              ...errorResponses([503]),
            },
          },
        },
        async () => ({ frozen: await ctx.setFrozen(frozen) }),
      );
    }
  };
}
