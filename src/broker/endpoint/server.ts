/**
 * The workers' endpoint: the WebSocket server and its connections. It owns the wire: frames in
 * (decoded and validated, the first message must be `hello`), refusals, and the end of a
 * connection. What messages mean is registration's (hello) and the session's (everything
 * after); liveness is the sessions'.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { hostAllowed } from '../../config/exposure.js';
import type { Clock, Timer } from '../../domain/clock.js';
import { decodeWorkerFrame, encodeFrame, type WorkerMessage } from '../../protocol/worker.js';
import type { WorkerMessages } from './messages.js';
import type { Connection, Registration } from './registration.js';
import { CLOSE, type Sessions } from './sessions.js';

export interface EndpointSettings {
  /** A connection that sends no `hello` within this time is closed. */
  helloTimeoutMs: number;
  /** Largest frame a worker may send, in bytes. */
  maxFrameBytes: number;
  /** Whether workers must present a token (then any Host is served). */
  tokensRequired: boolean;
  /** Host names served besides loopback ones while no token is required. */
  allowedHosts: readonly string[];
}

/**
 * Why an upgrade request is refused before it becomes a connection, or null. Workers are
 * programs: a browser, which always sends an Origin, is never one, so no web page can register
 * as a worker and be handed jobs. Without tokens, a Host that is not this machine's is refused
 * too (DNS rebinding).
 */
export function upgradeRefusal(req: IncomingMessage, settings: EndpointSettings): string | null {
  if (req.headers.origin !== undefined) {
    return 'browsers may not connect as workers (the request has an Origin)';
  }
  if (!settings.tokensRequired && !hostAllowed(req.headers.host, settings.allowedHosts)) {
    return `Host "${req.headers.host ?? ''}" is not served without worker tokens`;
  }
  return null;
}

export interface EndpointDeps {
  registration: Registration;
  sessions: Sessions;
  messages: WorkerMessages;
  clock: Clock;
  logger: Logger;
  settings: EndpointSettings;
}

interface Link extends Connection {
  helloTimer: Timer | null;
}

export class WorkerEndpoint {
  private wss: WebSocketServer | null = null;
  private readonly links = new Set<Link>();

  constructor(private readonly deps: EndpointDeps) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const wss = new WebSocketServer({
      host,
      port,
      perMessageDeflate: false,
      maxPayload: this.deps.settings.maxFrameBytes,
      clientTracking: false,
      verifyClient: (info, done) => {
        const refusal = upgradeRefusal(info.req, this.deps.settings);
        if (refusal === null) {
          done(true);
          return;
        }
        this.deps.logger.warn(
          { address: info.req.socket.remoteAddress },
          `worker refused: ${refusal}`,
        );
        done(false, 403, refusal);
      },
    });
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    wss.on('error', (err) => this.deps.logger.error({ err }, 'workers endpoint error'));
    wss.on('connection', (socket, req) => this.onConnection(socket, req));
    this.deps.sessions.start();
    return wss.address() as AddressInfo;
  }

  /** Closes every worker connection without touching their jobs: they keep running and come back. */
  async close(): Promise<void> {
    this.deps.sessions.stop();
    for (const link of this.links) {
      link.helloTimer?.cancel();
      link.socket.close(CLOSE.goingAway, 'broker shutting down');
    }
    const wss = this.wss;
    this.wss = null;
    if (wss) {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // Sockets still closing after the handshake timeout are cut.
      for (const link of this.links) link.socket.terminate();
    }
  }

  private onConnection(socket: WebSocket, req: IncomingMessage): void {
    const { logger, clock, settings } = this.deps;
    const link: Link = {
      socket,
      address: req.socket.remoteAddress ?? null,
      session: null,
      helloTimer: null,
      refuse: (code, message) => {
        logger.warn({ address: link.address, code }, `worker refused: ${message}`);
        if (socket.readyState === socket.OPEN) {
          socket.send(encodeFrame([{ type: 'error', code, message, fatal: true }]));
          socket.close(CLOSE.policy, code);
        }
      },
    };
    this.links.add(link);
    link.helloTimer = clock.setTimeout(() => {
      link.refuse('hello_timeout', `no hello within ${settings.helloTimeoutMs} ms`);
    }, settings.helloTimeoutMs);
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        link.refuse('invalid_frame', 'frames must be text (JSON)');
        return;
      }
      this.onFrame(link, data.toString());
    });
    socket.on('close', () => this.onClose(link));
    socket.on('error', (err) =>
      logger.debug({ err, address: link.address }, 'worker socket error'),
    );
  }

  private onFrame(link: Link, raw: string): void {
    const decoded = decodeWorkerFrame(raw);
    if (!decoded.ok) {
      link.refuse('invalid_message', decoded.error);
      return;
    }
    const rest: WorkerMessage[] = [];
    for (const message of decoded.messages) {
      if (message.type === 'hello') {
        link.helloTimer?.cancel();
        link.helloTimer = null;
        void this.deps.registration.hello(link, message);
      } else if (link.session === null) {
        link.refuse('hello_required', `"${message.type}" before "hello"`);
        return;
      } else {
        rest.push(message);
      }
    }
    if (link.session && rest.length > 0) this.deps.messages.handle(link.session, rest);
    else if (link.session) link.session.lastSeen = this.deps.clock.now();
  }

  private onClose(link: Link): void {
    this.links.delete(link);
    link.helloTimer?.cancel();
    const session = link.session;
    if (!session || session.socket !== link.socket) return;
    session.socket = null;
    this.deps.logger.info({ worker: session.name, id: session.id }, 'worker disconnected');
    // A worker that went away holding nothing is gone; one holding jobs may come back for them.
    if (session.held.size === 0) this.deps.sessions.kill(session, 'disconnected');
  }
}
