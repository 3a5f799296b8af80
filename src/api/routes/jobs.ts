/** `/api/v1/jobs`: submit, list, get, logs (actions on jobs: ./actions.ts). */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { notFound } from '../../domain/errors.js';
import {
  API_PREFIX,
  JobGetQuery,
  JobIdParams,
  JobList,
  JobListQuery,
  LogList,
  LogQuery,
  MessageList,
  MessageQuery,
  SubmitBatch,
  type SubmitJob,
} from '../../protocol/api.js';
import { blockedWorkersOf } from './workers.js';
import type { ApiContext } from '../context.js';
import { selectorOf } from '../filters.js';
import { logText, readLogPage } from '../logs.js';
import { errorResponses, responseBody } from '../openapi.js';
import { jobView, messageListJson } from '../views.js';

/** What a submission's 503 means: frozen, or the store could not write the jobs. */
const submitUnavailable =
  '`frozen`: the broker is frozen and takes no jobs; or `store_unavailable`: the store cannot ' +
  'write them (a full disk, a database that is down), `details.fault` names the fault and ' +
  'Retry-After says when to try again';

export function jobRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: SubmitJob }>(
      `${API_PREFIX}/jobs`,
      {
        schema: {
          summary: 'Submit a job',
          description:
            'Answers 201 once the job is committed to disk; 503 `store_unavailable` (with ' +
            'Retry-After) when the store cannot write it (a full disk, say).',
          tags: ['jobs'],
          operationId: 'submitJob',
          body: Type.Ref('SubmitJob'),
          response: {
            201: Type.Ref('Job', { description: 'The job, committed' }),
            200: Type.Ref('Job', {
              description:
                'A duplicate (`unique`): the existing job, with `deduplicated: true`; nothing was added',
            }),
            ...errorResponses([422, 503], { 503: submitUnavailable }),
          },
        },
      },
      async (request, reply) => {
        const [answer] = await ctx.jobs.submit([request.body], false);
        const { job, deduplicated } = answer!;
        if (deduplicated) return reply.status(200).send(jobView(job, { deduplicated }));
        return reply.status(201).send(jobView(job));
      },
    );

    app.post<{ Body: Static<typeof SubmitBatch> }>(
      `${API_PREFIX}/jobs/batch`,
      {
        schema: {
          summary: 'Submit many jobs in one commit',
          description:
            'All or none: a 4xx or 503 about one job (named as `jobs[i]`) refuses the whole batch.',
          tags: ['jobs'],
          operationId: 'submitJobs',
          body: SubmitBatch,
          response: {
            201: Type.Object(
              { jobs: Type.Array(Type.Ref('Job')) },
              { description: 'The jobs, committed, in the order given' },
            ),
            ...errorResponses([422, 503], { 503: submitUnavailable }),
          },
        },
      },
      async (request, reply) => {
        const jobs = await ctx.jobs.submit(request.body.jobs, true);
        // Serialized here: for thousands of jobs, JSON.stringify is cheaper than the schema's
        // serializer (the views are built to the schema by jobView all the same).
        return reply
          .status(201)
          .type('application/json; charset=utf-8')
          .send(
            JSON.stringify({
              jobs: jobs.map((a) => jobView(a.job, a.deduplicated ? { deduplicated: true } : {})),
            }),
          );
      },
    );

    app.get<{ Querystring: JobListQuery }>(
      `${API_PREFIX}/jobs`,
      {
        schema: {
          summary: 'List jobs',
          description:
            'Newest first by default; pass `nextCursor` back as `cursor` for the next page.',
          tags: ['jobs'],
          operationId: 'listJobs',
          querystring: JobListQuery,
          response: {
            200: responseBody('A page of jobs', JobList),
            ...errorResponses([503]),
          },
        },
      },
      async (request) => {
        const q = request.query;
        const limit = q.limit ?? 100;
        const jobs = await ctx.store.jobList({
          ...selectorOf(q),
          ...(q.cursor ? { cursor: Number(q.cursor) } : {}),
          order: q.order ?? 'desc',
          limit,
        });
        const last = jobs[jobs.length - 1];
        const blocked = await blockedWorkersOf(ctx, jobs);
        return {
          jobs: jobs.map((j) =>
            jobView(j, { ...listReasonOf(ctx, j), blockedWorkers: blocked.get(j) ?? [] }),
          ),
          nextCursor: jobs.length === limit && last ? String(last.id) : null,
        };
      },
    );

    app.get<{ Params: Static<typeof JobIdParams>; Querystring: Static<typeof JobGetQuery> }>(
      `${API_PREFIX}/jobs/:id`,
      {
        schema: {
          summary: 'Get one job with its attempts, progress, attributes, result or error',
          description:
            'With `wait`, a long poll: answers when the job ends or the time is up, whichever ' +
            'comes first.',
          tags: ['jobs'],
          operationId: 'getJob',
          params: JobIdParams,
          querystring: JobGetQuery,
          response: {
            200: Type.Ref('Job', { description: 'The job (with `wait`: once ended, or as it is)' }),
            ...errorResponses([404, 503]),
          },
        },
      },
      async (request, reply) => {
        const id = Number(request.params.id);
        const waitMs = Math.round((request.query.wait ?? 0) * 1000);
        let job;
        if (waitMs > 0) {
          // A client that goes away stops the wait.
          const gone = new AbortController();
          reply.raw.once('close', () => gone.abort());
          job = await ctx.jobs.getEnded(id, waitMs, gone.signal);
        } else {
          job = await ctx.jobs.get(id);
        }
        const links = await ctx.store.jobDependencyView(job.id);
        const pending = links.dependencies.filter((d) => d.state !== 'succeeded');
        const reason =
          job.state === 'waiting' && pending.length > 0
            ? {
                reason: `waiting for ${pending.map((d) => `job ${d.id} (${d.state})`).join(', ')}`,
              }
            : await reasonOf(ctx, job);
        const eta = await ctx.queueViews.eta(job);
        const blocked = await blockedWorkersOf(ctx, [job]);
        return jobView(job, {
          ...reason,
          links,
          ...(eta === undefined ? {} : { eta }),
          blockedWorkers: blocked.get(job) ?? [],
        });
      },
    );

    app.get<{ Params: Static<typeof JobIdParams>; Querystring: Static<typeof LogQuery> }>(
      `${API_PREFIX}/jobs/:id/logs`,
      {
        schema: {
          summary: "A job's output (stdout and stderr of every attempt), oldest first",
          description:
            'A job keeps the head and the tail of its output (config job_output); `dropped` says ' +
            'how much was dropped and after which entry. Pages hold at most `limit` entries and ' +
            'about 1 MiB; `format=text` streams all of it as plain text instead.',
          tags: ['jobs'],
          operationId: 'getJobLogs',
          params: JobIdParams,
          querystring: LogQuery,
          response: {
            200: {
              description: 'A page of output, or with `format=text` all of it as plain text',
              content: {
                'application/json': { schema: LogList },
                'text/plain': {
                  schema: Type.String({
                    description: 'The output kept, in order, with a line where output was dropped',
                  }),
                },
              },
            },
            ...errorResponses([404, 503]),
          },
        },
      },
      async (request, reply) => {
        const id = Number(request.params.id);
        const job = await ctx.store.jobGet(id);
        if (!job) throw notFound('job', String(id));
        if (request.query.format === 'text') {
          // Streamed, read a little at a time as the client takes it (backpressure).
          return reply
            .type('text/plain; charset=utf-8')
            .send(Readable.from(logText(ctx.store, job)));
        }
        return readLogPage(
          ctx.store,
          job,
          Number(request.query.after ?? 0),
          request.query.limit ?? 1000,
        );
      },
    );

    app.get<{ Params: Static<typeof JobIdParams>; Querystring: Static<typeof MessageQuery> }>(
      `${API_PREFIX}/jobs/:id/messages`,
      {
        schema: {
          summary: "A job's messages, oldest first",
          description:
            'Every change of state (with the state before), progress (with named steps), ' +
            'attribute and piece of output the job had, in order, as the monitor replays them. ' +
            'Page on with `since` set to `next`. Output pushed out of the tail (config ' +
            'job_output) is no longer among them.',
          tags: ['jobs'],
          operationId: 'getJobMessages',
          params: JobIdParams,
          querystring: MessageQuery,
          response: { 200: MessageList, ...errorResponses([404, 503]) },
        },
      },
      async (request, reply) => {
        const id = Number(request.params.id);
        const limit = request.query.limit ?? 500;
        const messages = await ctx.store.jobMessages(id, Number(request.query.since ?? 0), limit);
        // A job with no message yet exists all the same (submitted before messages were kept).
        if (messages.length === 0 && !(await ctx.store.jobGet(id)))
          throw notFound('job', String(id));
        return reply
          .type('application/json; charset=utf-8')
          .send(messageListJson(messages, messages.length === limit));
      },
    );
  };
}

/** In a list, what is known without reading more: a paused queue, then its workers. */
function listReasonOf(
  ctx: ApiContext,
  job: Parameters<ApiContext['jobs']['reason']>[0],
): { reason?: string } {
  if (job.state === 'queued' && ctx.queues.paused(job.queue))
    return { reason: `queue ${job.queue} is paused` };
  const reason = ctx.jobs.reason(job);
  return reason === undefined ? {} : { reason };
}

/** Why a queued job waits: its queue's state and gates first, then its workers. */
async function reasonOf(
  ctx: ApiContext,
  job: Parameters<ApiContext['jobs']['reason']>[0],
): Promise<{ reason?: string }> {
  const reason = (await ctx.queueViews.reason(job)) ?? ctx.jobs.reason(job);
  return reason === undefined ? {} : { reason };
}
