/**
 * `GET /metrics`: this node's Prometheus metrics in the text exposition format (see
 * src/broker/metrics.ts for what they are). Behind the client token like the API when tokens
 * are on: Prometheus sends one with `authorization: { credentials: ... }` in its scrape config.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../openapi.js';

/** The media type of the exposition format, as documented (the answer adds its parameters). */
const TEXT_FORMAT = 'text/plain';

export function metricsRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics of this node',
          description:
            'Counters, histograms and gauges of jobs, workers, slots and commits, labelled ' +
            'with the node id, in the Prometheus text format (version 0.0.4).',
          tags: ['system'],
          operationId: 'getMetrics',
          response: {
            200: {
              description: 'The metrics',
              content: { [TEXT_FORMAT]: { schema: Type.String() } },
            },
            ...errorResponses([503]),
          },
        },
      },
      async (_request, reply) => {
        const text = await ctx.metrics.scrape();
        return reply.type(ctx.metrics.contentType).send(text);
      },
    );
  };
}
