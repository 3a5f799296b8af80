/**
 * Workers under an operator's hand: one worker, its status, sleep schedule, queues and types,
 * disconnect, blocklist and usage (src/broker/worker-control.ts; wire contract in
 * src/protocol/workers.ts). Every change is committed before it is answered, and reaches the
 * worker on whichever node it is connected to.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { JobRecord } from '../../domain/job.js';
import { invalid, notFound } from '../../domain/errors.js';
import type { SleepSchedule } from '../../domain/sleep-schedule.js';
import { resolutionFor, FINE_KEEP_MS, COARSE_KEEP_MS } from '../../domain/usage.js';
import { effectiveStatus, defaultControl } from '../../domain/worker-control.js';
import { API_PREFIX, SleepScheduleBody, WorkerBody } from '../../protocol/api.js';
import {
  BlocklistCleared,
  BlocklistParams,
  BlocklistQuery,
  Ok,
  UsageBody,
  UsageQuery,
  WorkerIdParams,
  WorkerServedRequest,
  WorkerStatusRequest,
} from '../../protocol/workers.js';
import { servedCapabilities } from '../../broker/worker-control.js';
import type { ApiContext } from '../context.js';
import { errorResponses, responseBody } from '../openapi.js';
import { blockView, workerView } from '../views.js';

/** Most samples one usage answer holds (an hour of 5 s samples, or a day of minutes). */
const MAX_USAGE_SAMPLES = 1_440;

const tags = ['workers'];

/**
 * The workers blocklisted for each queued job's queue and type: one read for a page of jobs,
 * none when the page has no queued job.
 */
export async function blockedWorkersOf(
  ctx: ApiContext,
  jobs: readonly JobRecord[],
): Promise<Map<JobRecord, string[]>> {
  const out = new Map<JobRecord, string[]>();
  const queued = jobs.filter((j) => j.state === 'queued');
  if (queued.length === 0) return out;
  const pairs = new Map<string, { queue: string; type: string }>();
  for (const j of queued) pairs.set(`${j.queue}\u0000${j.type}`, { queue: j.queue, type: j.type });
  const blocks = await ctx.store.blocklistList({ pairs: [...pairs.values()] });
  if (blocks.length === 0) return out;
  const byPair = new Map<string, string[]>();
  for (const b of blocks) {
    const key = `${b.queue}\u0000${b.type}`;
    byPair.set(key, [...(byPair.get(key) ?? []), b.workerId]);
  }
  for (const j of queued) {
    const workers = byPair.get(`${j.queue}\u0000${j.type}`);
    if (workers !== undefined) out.set(j, workers);
  }
  return out;
}

/** One worker as the API shows it: from this node's session, or from the store. */
async function oneWorker(ctx: ApiContext, id: string): Promise<WorkerBody> {
  const session = ctx.sessions.get(id);
  if (session !== undefined) return workerView(session);
  const record = await ctx.store.workerGet(id);
  if (record === undefined) throw notFound('worker', id);
  const [control, blocks, running] = await Promise.all([
    ctx.store.workerControlGet(id),
    ctx.store.blocklistList({ workerId: id }),
    ctx.store.jobListRunningByWorker(id),
  ]);
  const c = control ?? defaultControl();
  const status = effectiveStatus(c, ctx.clock.now());
  const served = servedCapabilities(
    { labels: record.labels, types: record.types, queues: record.queues },
    c,
  );
  const state = !record.online
    ? ('disconnected' as const)
    : status === 'asleep'
      ? ('asleep' as const)
      : status === 'drain'
        ? ('draining' as const)
        : running.length > 0
          ? ('busy' as const)
          : ('idle' as const);
  return {
    id: record.id,
    name: record.name,
    labels: record.labels,
    types: [...served.types],
    queues: [...served.queues],
    slots: record.slots,
    running: running.map((j) => String(j.id)),
    state,
    status,
    schedule: c.schedule,
    announced: { types: record.types, queues: record.queues },
    blocklist: blocks.map(blockView),
    connectedAt: new Date(record.connectedAt).toISOString(),
    lastSeenAt: new Date(record.lastSeenAt).toISOString(),
    address: record.address,
    cpu: null,
    memory: null,
  };
}

export function workerRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const answer = responseBody('The worker after the change', WorkerBody);

    app.get<{ Params: WorkerIdParams }>(
      `${API_PREFIX}/workers/:id`,
      {
        schema: {
          summary: 'One worker: status, schedule, queues, types, blocklist, running jobs',
          description:
            'A worker of any node (of another node, its live CPU and memory are not known here: ' +
            'see its usage).',
          tags,
          operationId: 'getWorker',
          params: WorkerIdParams,
          response: { 200: responseBody('The worker', WorkerBody), ...errorResponses([404, 503]) },
        },
      },
      async (request) => oneWorker(ctx, request.params.id),
    );

    app.post<{ Params: WorkerIdParams; Body: WorkerStatusRequest }>(
      `${API_PREFIX}/workers/:id/status`,
      {
        config: { admin: true },
        schema: {
          summary: 'Set a worker awake, asleep or draining, now or after its running jobs',
          description:
            'Kept per worker: it holds when the worker reconnects and when the broker restarts. ' +
            'With a sleep schedule, a status set by hand holds until the next boundary of the ' +
            'schedule. `asleep`/`drain` with `now` stops the running jobs and queues them ' +
            'again (not counted as failures); with `after` they finish. A draining worker ' +
            'exits once it runs nothing.',
          tags,
          operationId: 'setWorkerStatus',
          params: WorkerIdParams,
          body: WorkerStatusRequest,
          response: { 200: answer, ...errorResponses([404, 503]) },
        },
      },
      async (request) => {
        const { status, when } = request.body;
        await ctx.workers.setStatus(request.params.id, status, when ?? 'now');
        return oneWorker(ctx, request.params.id);
      },
    );

    app.put<{ Params: WorkerIdParams; Body: SleepScheduleBody }>(
      `${API_PREFIX}/workers/:id/sleep-schedule`,
      {
        config: { admin: true },
        schema: {
          summary: "Set a worker's sleep schedule",
          description:
            'Within the window (on the given days, from start to end, local time in the time ' +
            'zone) the worker is asleep, outside it awake. The schedule decides from now on; a ' +
            'status set by hand later holds until its next boundary.',
          tags,
          operationId: 'setWorkerSleepSchedule',
          params: WorkerIdParams,
          body: SleepScheduleBody,
          response: { 200: answer, ...errorResponses([404, 503]) },
        },
      },
      async (request) => {
        const b = request.body;
        const schedule: SleepSchedule = {
          active: b.active ?? true,
          days: [...new Set(b.days)],
          start: b.start,
          end: b.end,
          timeZone: b.timeZone,
        };
        await ctx.workers.setSchedule(request.params.id, schedule);
        return oneWorker(ctx, request.params.id);
      },
    );

    app.delete<{ Params: WorkerIdParams }>(
      `${API_PREFIX}/workers/:id/sleep-schedule`,
      {
        config: { admin: true },
        schema: {
          summary: "Remove a worker's sleep schedule",
          tags,
          operationId: 'deleteWorkerSleepSchedule',
          params: WorkerIdParams,
          response: { 200: answer, ...errorResponses([404, 503]) },
        },
      },
      async (request) => {
        await ctx.workers.setSchedule(request.params.id, null);
        return oneWorker(ctx, request.params.id);
      },
    );

    app.put<{ Params: WorkerIdParams; Body: WorkerServedRequest }>(
      `${API_PREFIX}/workers/:id/queues`,
      {
        config: { admin: true },
        schema: {
          summary: 'Set the queues and job types a worker serves, at run time',
          description:
            'A list replaces the current one; null goes back to what the worker announced; a ' +
            'field left out stays. Types must be among those the worker announced (it has no ' +
            'handler for others). The worker is told and dispatch follows at once; kept per ' +
            'worker across reconnects and restarts.',
          tags,
          operationId: 'setWorkerQueues',
          params: WorkerIdParams,
          body: WorkerServedRequest,
          response: { 200: answer, ...errorResponses([404, 503]) },
        },
      },
      async (request) => {
        const { queues, types } = request.body;
        await ctx.workers.setServed(request.params.id, {
          ...(queues === undefined ? {} : { queues }),
          ...(types === undefined ? {} : { types }),
        });
        return oneWorker(ctx, request.params.id);
      },
    );

    app.post<{ Params: WorkerIdParams }>(
      `${API_PREFIX}/workers/:id/disconnect`,
      {
        config: { admin: true },
        schema: {
          summary: "Close a worker's connection",
          description:
            'Its running jobs go the way of a lost worker (back to the queue, counted against ' +
            'max_request_failures). The worker process may connect again (as the same worker).',
          tags,
          operationId: 'disconnectWorker',
          params: WorkerIdParams,
          response: {
            200: responseBody('The disconnect was sent to its node', Ok),
            ...errorResponses([404, 503]),
          },
        },
      },
      async (request) => {
        await ctx.workers.disconnect(request.params.id);
        return { ok: true as const };
      },
    );

    app.delete<{ Params: BlocklistParams; Querystring: BlocklistQuery }>(
      `${API_PREFIX}/workers/:id/blocklist/:type`,
      {
        config: { admin: true },
        schema: {
          summary: "Clear a worker's blocklist for a job type",
          description:
            'In every queue, or only in `queue`. Its failure count starts again from zero.',
          tags,
          operationId: 'clearWorkerBlocklist',
          params: BlocklistParams,
          querystring: BlocklistQuery,
          response: {
            200: responseBody('The blocks cleared (none when there were none)', BlocklistCleared),
            ...errorResponses([404, 503]),
          },
        },
      },
      async (request) => {
        const { id, type } = request.params;
        const cleared = await ctx.workers.unblock(id, type, request.query.queue);
        return { cleared: cleared.map(blockView) };
      },
    );

    app.get<{ Params: WorkerIdParams; Querystring: UsageQuery }>(
      `${API_PREFIX}/workers/:id/usage`,
      {
        schema: {
          summary: "A worker's CPU and memory over time, and its jobs'",
          description:
            'From its heartbeats: within the last hour one sample per heartbeat (at most one ' +
            'per 5 s, `resolution: fine`), before that one average per minute for the last day ' +
            '(`minute`). Any node answers for any worker.',
          tags,
          operationId: 'getWorkerUsage',
          params: WorkerIdParams,
          querystring: UsageQuery,
          response: {
            200: responseBody('The samples, oldest first', UsageBody),
            ...errorResponses([404, 503]),
          },
        },
      },
      async (request) => {
        const id = request.params.id;
        if (ctx.sessions.get(id) === undefined && (await ctx.store.workerGet(id)) === undefined)
          throw notFound('worker', id);
        const now = ctx.clock.now();
        const asked =
          request.query.since === undefined ? now - FINE_KEEP_MS : Date.parse(request.query.since);
        if (Number.isNaN(asked)) throw invalid('since: must be an ISO 8601 date-time');
        const since = Math.max(now - COARSE_KEEP_MS, asked);
        const resolution = resolutionFor(since, now);
        const samples = await ctx.store.usageList({
          workerId: id,
          resolution,
          since,
          limit: MAX_USAGE_SAMPLES,
        });
        return {
          resolution,
          samples: samples.map((s) => ({ ...s, at: new Date(s.at).toISOString() })),
        };
      },
    );
  };
}
