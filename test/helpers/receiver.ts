/** A callback receiver for notifier tests: a real HTTP server on 127.0.0.1. */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Unix seconds when it arrived. */
  at: number;
}

/** A callback receiver: answers each request with what `answer` says (a status, or never). */
export class Receiver {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly requests: Received[],
  ) {}

  static async start(answer: (r: Received, n: number) => number | 'hang'): Promise<Receiver> {
    const requests: Received[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = {
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Math.floor(Date.now() / 1000),
        };
        requests.push(r);
        const status = answer(r, requests.length);
        if (status === 'hang') return;
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return new Receiver(server, `http://127.0.0.1:${port}`, requests);
  }

  keys(): string[] {
    return this.requests.map((r) => String(r.headers['idempotency-key']));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
