/** Workers, stats and health. */
import type { FastifyPluginAsync } from 'fastify';
import { API_PREFIX, ClusterBody, HealthBody, StatsBody, WorkerList } from '../../protocol/api.js';
import type { ApiContext } from '../context.js';
import { errorResponses, responseBody } from '../openapi.js';
import { clusterView, workerView } from '../views.js';

export function systemRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      `${API_PREFIX}/workers`,
      {
        schema: {
          summary: 'Connected workers (and those disconnected but not yet dead)',
          tags: ['workers'],
          operationId: 'listWorkers',
          response: { 200: responseBody('The workers this node knows', WorkerList) },
        },
      },
      async () => ({ workers: ctx.sessions.list().map(workerView) }),
    );

    app.get(
      `${API_PREFIX}/stats`,
      {
        schema: {
          summary: 'Runtime statistics: workers, slots, jobs by state, frozen',
          tags: ['system'],
          operationId: 'getStats',
          response: {
            200: responseBody('The statistics of this node', StatsBody),
            ...errorResponses([503]),
          },
        },
      },
      async () => {
        const workers = ctx.sessions.list();
        const jobs = await ctx.store.jobCounts();
        return {
          workers: workers.length,
          idleWorkers: workers.filter((w) => w.state() === 'idle').length,
          slots: workers.reduce((n, w) => n + w.slots, 0),
          freeSlots: workers.reduce(
            (n, w) => n + (w.connected && w.accepting ? w.freeSlots : 0),
            0,
          ),
          jobs,
          frozen: ctx.isFrozen(),
          uptimeSeconds: Math.round((ctx.clock.now() - ctx.startedAt) / 1000),
          store: ctx.store.capabilities.name,
          queueManager: ctx.config.queueManager,
        };
      },
    );

    app.get(
      `${API_PREFIX}/cluster`,
      {
        schema: {
          summary: 'The broker nodes sharing this store, their workers, and the leader',
          tags: ['system'],
          operationId: 'getCluster',
          response: {
            200: responseBody('The nodes and the leader', ClusterBody),
            ...errorResponses([503]),
          },
        },
      },
      async () => clusterView(await ctx.cluster()),
    );

    app.get(
      '/healthz',
      {
        config: { public: true },
        schema: {
          summary: 'Liveness of the broker',
          tags: ['system'],
          operationId: 'getHealth',
          response: { 200: responseBody('The broker is up', HealthBody) },
        },
      },
      async () => ({ status: 'ok' as const, version: ctx.version }),
    );
  };
}
