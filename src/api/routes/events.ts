/**
 * The event stream: `GET /api/v1/events`, Server-Sent Events of everything the broker (every
 * node of the cluster) commits: job creations, state changes, progress, logs, attributes, and
 * workers coming and going. `?job=ID` narrows it to one job (the monitor's view of a job).
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { API_PREFIX } from '../../protocol/api.js';
import { ID_MESSAGE, ID_PATTERN } from '../../protocol/ids.js';
import { brokerEventNames, type BrokerEvent, type EventBus } from '../../broker/events.js';
import type { ApiContext } from '../context.js';

const EventQuery = Type.Object(
  {
    job: Type.Optional(
      Type.String({
        pattern: ID_PATTERN,
        description: 'Only the events of this job',
        errorMessage: `job id: ${ID_MESSAGE}`,
      }),
    ),
  },
  { additionalProperties: false },
);

/** A comment line every so often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * What one subscriber may leave unread before it is cut off: the broker never holds more for a
 * reader that does not keep up (one that reads nothing would otherwise grow its memory without
 * limit, and slow everyone else down). It is told why, in a last event, and may reconnect.
 */
export const MAX_UNREAD_BYTES = 8 * 1024 * 1024;
/** How long a cut-off subscriber has to read its last event before its connection is closed. */
const CUT_OFF_GRACE_MS = 10_000;

const streamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

function subscribe(events: EventBus, fn: (event: BrokerEvent) => void): () => void {
  const handlers = brokerEventNames.map((name) => {
    const handler = (data: unknown) => fn({ name, data } as BrokerEvent);
    events.on(name, handler as never);
    return () => events.off(name, handler as never);
  });
  return () => handlers.forEach((off) => off());
}

function jobOf(event: BrokerEvent): number | null {
  return event.name.startsWith('job:') ? (event.data as { id: number }).id : null;
}

export function eventRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: Static<typeof EventQuery> }>(
      `${API_PREFIX}/events`,
      {
        schema: {
          summary: 'A live stream of events (Server-Sent Events)',
          description:
            'Each event has the name job:created, job:state, job:progress, job:log, job:attribute, worker:up, worker:down or backend:error, and JSON data (job ids as strings). With several nodes, the events of every node.',
          tags: ['events'],
          operationId: 'streamEvents',
          querystring: EventQuery,
          response: {
            200: {
              description: 'The stream, open until the client goes away (HEAD: its headers only)',
              content: {
                'text/event-stream': {
                  schema: Type.String({
                    description:
                      'Events as `event: <name>` and `data: <JSON>` lines, each ended by a blank ' +
                      'line; comment lines (`:`) keep the connection alive',
                  }),
                },
              },
            },
          },
        },
      },
      (request, reply) => {
        const only = request.query.job === undefined ? null : Number(request.query.job);
        reply.hijack();
        const out = reply.raw;
        out.writeHead(200, streamHeaders);
        // Fastify routes HEAD here too (a HEAD route for every GET): the stream's status and
        // headers, then the end, or HEAD would wait for the end of a stream that never ends.
        if (request.method === 'HEAD') {
          out.end();
          return;
        }
        out.write(': switchyard events\n\n');
        let stopped = false;
        const stop = () => {
          if (stopped) return;
          stopped = true;
          keepalive.cancel();
          unsubscribe();
        };
        const send = (text: string): void => {
          if (stopped) return;
          if (out.writableLength + text.length > MAX_UNREAD_BYTES) {
            stop();
            const reason = {
              code: 'slow_consumer',
              message:
                `this stream was closed: more than ${MAX_UNREAD_BYTES} bytes of events were ` +
                'waiting to be read; read faster, or narrow the stream (?job=ID), and reconnect',
            };
            // The connection ends with the stream (no keep-alive): once what is buffered is
            // read, or at the latest after a grace, so that nothing stays held for it.
            const socket = request.raw.socket;
            out.end(`event: error\ndata: ${JSON.stringify(reason)}\n\n`, () => socket.end());
            ctx.clock.setTimeout(() => socket.destroy(), CUT_OFF_GRACE_MS);
            ctx.logger.warn(
              { address: request.ip },
              'cut off an event-stream reader that did not keep up',
            );
            return;
          }
          out.write(text);
        };
        const unsubscribe = subscribe(ctx.events, (event) => {
          if (only !== null && jobOf(event) !== only) return;
          const data =
            jobOf(event) === null ? event.data : { ...event.data, id: String(jobOf(event)) };
          send(`event: ${event.name}\ndata: ${JSON.stringify(data)}\n\n`);
        });
        const keepalive = ctx.clock.setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
        request.raw.on('close', stop);
        out.on('close', stop);
      },
    );
  };
}
