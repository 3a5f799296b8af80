/**
 * The standalone monitor (`switchyard monitor`): ReCodEx's split, where the monitor faces the
 * public and the broker stays private. Browsers connect here exactly as to the broker's own
 * `/api/v1/monitor` (`?job=ID` or a first message with the id, `?since=SEQ`, `?access=TOKEN`);
 * for each one the monitor opens a connection to the broker's monitor, authenticated with its
 * own client token, and relays what the broker sends: the broker is the only publisher, and
 * what a browser sends after naming its job closes its socket. The broker checks every access
 * token; by default a browser must bring one (a link for one job), so that the monitor's own
 * token never lets the public watch any job (`open` lifts that, for a private network).
 *
 * Memory per browser is bounded: when a browser reads slower than the broker sends, the relay
 * stops reading from the broker (TCP pushes back to it) until the browser catches up.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { ID_MESSAGE, ID_PATTERN, SEQ_PATTERN } from '../protocol/ids.js';
import { API_PREFIX } from '../protocol/api.js';
import { systemClock } from '../domain/clock.js';
import { MonitorClose, whenJobNamed } from '../api/monitor.js';

export interface MonitorOptions {
  /** The broker's client API, `http://host:port`. */
  broker: string;
  /** A client token for the broker (when it has tokens). */
  token?: string;
  address: string;
  port: number;
  /** Let browsers watch any job without an access token. */
  open?: boolean;
  logger: Logger;
}

export interface RunningMonitor {
  /** `http://host:port` browsers connect to. */
  readonly url: string;
  /** Browsers connected now. */
  readonly connections: number;
  close(): Promise<void>;
}

const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
const DRAIN_POLL_MS = 25;
const ID = new RegExp(ID_PATTERN);
const SEQ = new RegExp(SEQ_PATTERN);

/** A close code a browser may be given as it came (the broker's), else "the broker is gone". */
function relayable(code: number): number {
  return code === 1000 || code === 1001 || code === MonitorClose.policy || code >= 4000
    ? code
    : MonitorClose.failed;
}

export async function startMonitor(options: MonitorOptions): Promise<RunningMonitor> {
  const { logger } = options;
  const upstreamBase = `${options.broker.replace(/^http/, 'ws').replace(/\/+$/, '')}${API_PREFIX}/monitor`;
  const sockets = new Set<WebSocket>();
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(websocket, { options: { maxPayload: 4096 } });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get<{ Querystring: Record<string, string | undefined> }>(
    `${API_PREFIX}/monitor`,
    {
      websocket: true,
      preValidation: async (request, reply) => {
        const { job, since, access } = request.query;
        const problem =
          job !== undefined && !ID.test(job)
            ? `job id: ${ID_MESSAGE}`
            : since !== undefined && !SEQ.test(since)
              ? 'since: must be a message seq'
              : access !== undefined && (access.length === 0 || access.length > 200)
                ? 'access: must be an access token'
                : !options.open && access === undefined
                  ? 'this monitor needs an access token for the job (?access=)'
                  : null;
        if (problem !== null) {
          const code = problem.startsWith('this monitor') ? 401 : 400;
          await reply.status(code).send({
            error: { code: code === 401 ? 'unauthorized' : 'invalid_request', message: problem },
          });
        }
      },
    },
    (socket, request) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const { job, since, access } = request.query;
      whenJobNamed(socket, job, systemClock, (named) => relay(socket, named, since, access));
    },
  );

  function relay(browser: WebSocket, job: string, since?: string, access?: string): void {
    const query = new URLSearchParams({ job });
    if (since !== undefined) query.set('since', since);
    if (access !== undefined) query.set('access', access);
    const upstream = new WebSocket(`${upstreamBase}?${query.toString()}`, {
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      maxPayload: 16 * 1024 * 1024,
    });
    let paused = false;
    const resumeWhenDrained = () => {
      if (browser.readyState !== browser.OPEN) return;
      if (browser.bufferedAmount > LOW_WATER) {
        setTimeout(resumeWhenDrained, DRAIN_POLL_MS);
        return;
      }
      paused = false;
      upstream.resume();
    };
    upstream.on('message', (data, isBinary) => {
      if (browser.readyState !== browser.OPEN) return;
      browser.send(data, { binary: isBinary });
      if (!paused && browser.bufferedAmount > HIGH_WATER) {
        paused = true;
        upstream.pause();
        setTimeout(resumeWhenDrained, DRAIN_POLL_MS);
      }
    });
    upstream.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => {
        let message = `the broker refused (${res.statusCode ?? 0})`;
        try {
          message = (JSON.parse(body) as { error: { message: string } }).error.message;
        } catch {
          // Not the broker's JSON: the status says enough.
        }
        const code =
          res.statusCode === 401 || res.statusCode === 403
            ? MonitorClose.unauthorized
            : MonitorClose.failed;
        browser.close(code, message.slice(0, 120));
      });
    });
    upstream.on('error', (err) => {
      logger.warn({ err, job }, 'monitor: the connection to the broker failed');
      if (browser.readyState === browser.OPEN)
        browser.close(MonitorClose.failed, 'the broker cannot be reached');
    });
    upstream.on('close', (code, reason) => {
      if (browser.readyState === browser.OPEN) browser.close(relayable(code), reason.toString());
    });
    browser.on('close', () => upstream.terminate());
  }

  await app.listen({ host: options.address, port: options.port });
  const address = app.server.address() as { address: string; port: number };
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, broker: options.broker }, 'monitor started');
  return {
    url,
    get connections() {
      return sockets.size;
    },
    async close() {
      for (const s of sockets) s.close(1001, 'the monitor is shutting down');
      await app.close();
      logger.info('monitor stopped');
    },
  };
}
