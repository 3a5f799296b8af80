/** `/api/v1/jobs`: submit, list, get, logs, cancel. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { notFound } from '../../domain/errors.js';
import type { JobState } from '../../domain/job.js';
import {
  API_PREFIX,
  JobGetQuery,
  JobIdParams,
  JobList,
  JobListQuery,
  LogList,
  LogQuery,
  SubmitBatch,
  type SubmitJob,
} from '../../protocol/api.js';
import type { ApiContext } from '../context.js';
import { logText, readLogPage } from '../logs.js';
import { jobView } from '../views.js';

const errors = {
  400: Type.Ref('Error'),
  404: Type.Ref('Error'),
  /** `frozen` (submissions only) or `store_unavailable` (with Retry-After): every route here. */
  503: Type.Ref('Error'),
};
const JobRef = Type.Ref('Job');

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
          body: Type.Ref('SubmitJob'),
          response: {
            201: JobRef,
            400: errors[400],
            413: Type.Ref('Error'),
            422: Type.Ref('Error'),
            503: errors[503],
          },
        },
      },
      async (request, reply) => {
        const [job] = await ctx.jobs.submit([request.body], false);
        return reply.status(201).send(jobView(job!));
      },
    );

    app.post<{ Body: Static<typeof SubmitBatch> }>(
      `${API_PREFIX}/jobs/batch`,
      {
        schema: {
          summary: 'Submit many jobs in one commit',
          tags: ['jobs'],
          body: SubmitBatch,
          response: {
            201: Type.Object({ jobs: Type.Array(JobRef) }),
            400: errors[400],
            413: Type.Ref('Error'),
            422: Type.Ref('Error'),
            503: errors[503],
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
          .send(JSON.stringify({ jobs: jobs.map((j) => jobView(j)) }));
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
          querystring: JobListQuery,
          response: { 200: JobList, 400: errors[400], 503: errors[503] },
        },
      },
      async (request) => {
        const q = request.query;
        const limit = q.limit ?? 100;
        const jobs = await ctx.store.jobList({
          ...(q.state ? { states: q.state.split(',') as JobState[] } : {}),
          ...(q.queue ? { queue: q.queue } : {}),
          ...(q.type ? { type: q.type } : {}),
          ...(q.worker ? { workerId: q.worker } : {}),
          ...(q.cursor ? { cursor: Number(q.cursor) } : {}),
          order: q.order ?? 'desc',
          limit,
        });
        const last = jobs[jobs.length - 1];
        return {
          jobs: jobs.map((j) => jobView(j, { ...reasonOf(ctx, j) })),
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
          params: JobIdParams,
          querystring: JobGetQuery,
          response: { 200: JobRef, 400: errors[400], 404: errors[404], 503: errors[503] },
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
        return jobView(job, reasonOf(ctx, job));
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
          params: JobIdParams,
          querystring: LogQuery,
          response: { 200: LogList, 400: errors[400], 404: errors[404], 503: errors[503] },
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

    app.post<{ Params: Static<typeof JobIdParams> }>(
      `${API_PREFIX}/jobs/:id/cancel`,
      {
        schema: {
          summary: 'Cancel a job',
          description:
            'A queued or scheduled job ends at once; a running one ends and its worker gets the kill signal. 409 if the job already ended.',
          tags: ['jobs'],
          params: JobIdParams,
          response: {
            200: JobRef,
            400: errors[400],
            404: errors[404],
            409: Type.Ref('Error'),
            503: errors[503],
          },
        },
      },
      async (request) => jobView(await ctx.jobs.cancel(Number(request.params.id))),
    );
  };
}

function reasonOf(
  ctx: ApiContext,
  job: Parameters<ApiContext['jobs']['reason']>[0],
): { reason?: string } {
  const reason = ctx.jobs.reason(job);
  return reason === undefined ? {} : { reason };
}
