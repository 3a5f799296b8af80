/**
 * The event stream, `GET /api/v1/events`: everything the broker (every node of the cluster)
 * commits: job creations, state changes, progress, logs, attributes, workers coming and going.
 * One path, two transports: Server-Sent Events for a plain GET, WebSocket for an upgrade (one
 * JSON message per event). Both filter (`?kind=`, `?queue=`, `?job=`), resume after an event id
 * (`?since=`, or SSE's `Last-Event-ID`), and bound what they hold for a reader that does not
 * keep up (src/api/event-feed.ts).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { Type } from '@sinclair/typebox';
import { API_PREFIX } from '../../protocol/api.js';
import { EventQuery } from '../../protocol/events.js';
import type { ApiContext } from '../context.js';
import { EventFeed, filterOf, sseFormat, wsFormat, type Overflow } from '../event-feed.js';

/** A comment line (SSE) or a ping (WebSocket) every so often keeps proxies from closing. */
const KEEPALIVE_MS = 15_000;
/** How long a cut-off reader has to read its last message before its connection is closed. */
const CUT_OFF_GRACE_MS = 10_000;
/** WebSocket close code of a reader cut off for not keeping up. */
export const CLOSE_SLOW_CONSUMER = 4008;

const streamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

type EventRequest = FastifyRequest<{ Querystring: EventQuery }>;

/** Where to resume: `?since=`, else (SSE) the Last-Event-ID header when it is an id. */
function resumeFrom(request: EventRequest): number | undefined {
  if (request.query.since !== undefined) return request.query.since;
  const header = request.headers['last-event-id'];
  if (typeof header !== 'string' || !/^\d{1,16}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

const description =
  'Server-Sent Events, or with a WebSocket upgrade one JSON message per event ' +
  '(`{"type":"event","id":N,"name":"job:state","data":{...}}`). Events are job:created, ' +
  'job:state, job:progress, job:log, job:attribute, worker:up, worker:down, worker:status, ' +
  'worker:schedule, worker:queues, worker:blocklisted, worker:unblocked, worker:disconnected, ' +
  'queue:changed, limit:changed, broker:frozen, backend:error, schedule:fired, ' +
  'schedule:skipped and schedule:changed, with JSON data (job ids as strings); with several nodes, those of every node. ' +
  'Every event has an id (SSE: an `id:` line); reconnecting with `?since=ID` or (SSE) ' +
  '`Last-Event-ID` sends what the node still keeps after it, or first a `gap` message ' +
  '(`{"type":"gap","missed":N|null,"after":ID}`) when it no longer reaches back. A reader more ' +
  'than 8 MiB behind is cut off (SSE: a last `error` event; WebSocket: close code 4008, reason ' +
  'slow_consumer), or with `?overflow=skip` (WebSocket) skipped ahead and sent a gap message. ' +
  'The data of each event is described in components.schemas, one schema per event named ' +
  'after it (job:state: JobStateEvent, queue:changed: QueueChangedEvent, ...), a WebSocket ' +
  'message by EventMessage and GapMessage. ' +
  'Browsers, which cannot send headers here, may pass the token as `?token=`.';

export function eventRoutes(ctx: ApiContext): FastifyPluginAsync {
  const sse = (request: EventRequest, reply: FastifyReply): void => {
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
    const feed = new EventFeed({
      log: ctx.eventLog,
      filter: filterOf(request.query),
      overflow: 'close',
      clock: ctx.clock,
      format: sseFormat,
      sink: {
        buffered: () => out.writableLength,
        write: (text) => out.write(text),
        cutOff: (message) => {
          keepalive.cancel();
          const reason = { code: 'slow_consumer', message };
          // The connection ends with the stream (no keep-alive): once what is buffered is
          // read, or at the latest after a grace, so that nothing stays held for it.
          const socket = request.raw.socket;
          out.end(`event: error\ndata: ${JSON.stringify(reason)}\n\n`, () => socket.end());
          ctx.clock.setTimeout(() => socket.destroy(), CUT_OFF_GRACE_MS);
        },
      },
      onCutOff: () =>
        ctx.logger.warn({ address: request.ip }, 'cut off an event-stream reader that lagged'),
    });
    const keepalive = ctx.clock.setInterval(() => {
      if (out.writableLength === 0) out.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    const stop = () => {
      keepalive.cancel();
      feed.stop();
    };
    request.raw.on('close', stop);
    out.on('close', stop);
    feed.start(resumeFrom(request));
  };

  const ws = (socket: WebSocket, request: EventRequest): void => {
    const overflow: Overflow = request.query.overflow ?? 'close';
    let terminate: { cancel(): void } | null = null;
    const feed = new EventFeed({
      log: ctx.eventLog,
      filter: filterOf(request.query),
      overflow,
      clock: ctx.clock,
      format: wsFormat,
      sink: {
        buffered: () => socket.bufferedAmount,
        write: (text) => socket.send(text),
        cutOff: (message) => {
          // A close reason is at most 123 bytes.
          socket.close(CLOSE_SLOW_CONSUMER, message.slice(0, 120));
          terminate = ctx.clock.setTimeout(() => socket.terminate(), CUT_OFF_GRACE_MS);
        },
      },
      onCutOff: () =>
        ctx.logger.warn({ address: request.ip }, 'cut off an event-socket reader that lagged'),
    });
    const keepalive = ctx.clock.setInterval(() => {
      if (socket.readyState === socket.OPEN && socket.bufferedAmount === 0) socket.ping();
    }, KEEPALIVE_MS);
    // Readers have nothing to say: what they send is ignored (its size is bounded by the
    // plugin's maxPayload).
    socket.on('message', () => undefined);
    socket.on('error', () => socket.terminate());
    socket.on('close', () => {
      keepalive.cancel();
      (terminate as { cancel(): void } | null)?.cancel();
      feed.stop();
    });
    feed.start(request.query.since);
  };

  return async (app) => {
    app.route<{ Querystring: EventQuery }>({
      method: 'GET',
      url: `${API_PREFIX}/events`,
      config: { tokenInQuery: true },
      schema: {
        summary: 'A live stream of events (Server-Sent Events or WebSocket)',
        description,
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
                    'Events as `id: <id>`, `event: <name>` and `data: <JSON>` lines, each ended ' +
                    'by a blank line; `event: gap` when events were missed; comment lines (`:`) ' +
                    'keep the connection alive',
                }),
              },
            },
          },
        },
      },
      handler: sse,
      wsHandler: ws,
    });
  };
}
