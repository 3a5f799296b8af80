/**
 * The http runner against a real HTTP server on 127.0.0.1: what succeeds, what is retryable and
 * what is not, timeouts, a closed port, redirects followed and not, a huge body capped, and
 * payloads refused before any request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JobAborted,
  PermanentError,
  RetryableError,
  createHttpHandler,
  type HandlerError,
  type HttpResult,
  type JobContext,
} from '../../../src/worker/index.js';

let server: Server;
let base: string;
const seen: Array<{
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}> = [];

function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = new URL(req.url!, base);
  switch (url.pathname) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'text/plain', 'x-answer': '42' }).end('hello');
      return;
    case '/echo':
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ method: req.method, type: req.headers['content-type'] ?? null, body }),
        );
      return;
    case '/missing':
      res.writeHead(404).end('no such thing');
      return;
    case '/broken':
      res.writeHead(503).end('try later');
      return;
    case '/slow':
      setTimeout(() => res.writeHead(200).end('late'), 2_000).unref();
      return;
    case '/redirect':
      res.writeHead(302, { location: '/ok' }).end();
      return;
    case '/see-other':
      res.writeHead(303, { location: '/echo' }).end();
      return;
    case '/loop':
      res.writeHead(302, { location: '/loop' }).end();
      return;
    case '/huge': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      for (let i = 0; i < 160; i++) res.write(chunk); // 10 MiB
      res.end();
      return;
    }
    default:
      res.writeHead(500).end();
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      route(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function context(payload: unknown, controller = new AbortController()): JobContext {
  return {
    id: '7',
    attempt: 1,
    type: 'http',
    queue: 'default',
    payload,
    requires: {},
    priority: 0,
    timeoutMs: null,
    killSignal: 'SIGTERM',
    killGraceMs: 1000,
    signal: controller.signal,
    progress: () => undefined,
    step: () => undefined,
    log: () => undefined,
    attr: () => undefined,
  };
}

const run = createHttpHandler();
const result = async (payload: unknown): Promise<HttpResult> =>
  (await run(context(payload))) as HttpResult;
const failure = async (payload: unknown, handler = run): Promise<HandlerError> => {
  const thrown = await handler(context(payload)).then(
    () => {
      throw new Error('the job succeeded');
    },
    (e: unknown) => e,
  );
  return thrown as HandlerError;
};

describe('the http runner', () => {
  it('succeeds on 2xx with the status, headers and body', async () => {
    const r = await result({ method: 'GET', url: `${base}/ok`, headers: { 'x-token': 'abc' } });
    expect(r).toMatchObject({
      status: 200,
      url: `${base}/ok`,
      redirects: 0,
      body: 'hello',
      bytes: 5,
      truncated: false,
    });
    expect(r.headers['x-answer']).toBe('42');
    expect(seen.at(-1)!.headers['x-token']).toBe('abc');
  });

  it('sends a string body as it is, and an object as JSON with its content type', async () => {
    const text = await result({ method: 'POST', url: `${base}/echo`, body: 'plain' });
    expect(JSON.parse(text.body)).toEqual({
      method: 'POST',
      type: 'text/plain;charset=UTF-8',
      body: 'plain',
    });
    const json = await result({ method: 'PUT', url: `${base}/echo`, body: { a: [1, 2] } });
    expect(JSON.parse(json.body)).toEqual({
      method: 'PUT',
      type: 'application/json',
      body: '{"a":[1,2]}',
    });
  });

  it('fails for good on 4xx, with the answer as the partial result', async () => {
    const e = await failure({ method: 'GET', url: `${base}/missing` });
    expect(e).toBeInstanceOf(PermanentError);
    expect(e).toMatchObject({ code: 'http_status', message: 'HTTP 404 Not Found' });
    expect(e.result).toMatchObject({ status: 404, body: 'no such thing' });
  });

  it('fails retryably on 5xx', async () => {
    const e = await failure({ method: 'GET', url: `${base}/broken` });
    expect(e).toBeInstanceOf(RetryableError);
    expect(e).toMatchObject({ code: 'http_status', result: { status: 503, body: 'try later' } });
  });

  it('fails retryably on a timeout', async () => {
    const started = Date.now();
    const e = await failure({ method: 'GET', url: `${base}/slow`, timeout: 200 });
    expect(e).toBeInstanceOf(RetryableError);
    expect(e).toMatchObject({ code: 'timeout', message: 'the request took longer than 200 ms' });
    expect(Date.now() - started).toBeLessThan(1_900);
  });

  it('fails retryably when the port is closed', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const e = await failure({ method: 'GET', url: `http://127.0.0.1:${port}/` });
    expect(e).toBeInstanceOf(RetryableError);
    expect(e).toMatchObject({ code: 'network_error', details: { cause: 'ECONNREFUSED' } });
  });

  it('follows redirects, a 303 as a GET, and gives up after too many', async () => {
    expect(await result({ method: 'GET', url: `${base}/redirect` })).toMatchObject({
      status: 200,
      url: `${base}/ok`,
      redirects: 1,
      body: 'hello',
    });
    const after303 = await result({ method: 'POST', url: `${base}/see-other`, body: { x: 1 } });
    expect(JSON.parse(after303.body)).toEqual({ method: 'GET', type: null, body: '' });
    const e = await failure({ method: 'GET', url: `${base}/loop` });
    expect(e).toBeInstanceOf(PermanentError);
    expect(e).toMatchObject({ code: 'too_many_redirects' });
  });

  it('does not follow redirects when told not to: a 3xx fails for good', async () => {
    const e = await failure({ method: 'GET', url: `${base}/redirect`, followRedirects: false });
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.result).toMatchObject({ status: 302, headers: { location: '/ok' } });
  });

  it('keeps only the start of a huge body, and counts it', async () => {
    const r = await result({ method: 'GET', url: `${base}/huge` });
    expect(r.body).toHaveLength(64 * 1024);
    expect(r).toMatchObject({ truncated: true, bytes: 10 * 1024 * 1024 });
    const counted = createHttpHandler({ maxBodyBytes: 10, countLimitBytes: 1024 * 1024 });
    const c = (await counted(context({ method: 'GET', url: `${base}/huge` }))) as HttpResult;
    expect(c.body).toBe('x'.repeat(10));
    expect(c.truncated).toBe(true);
    expect(c.bytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(c.bytes).toBeLessThan(10 * 1024 * 1024);
  });

  it('stops the request when the job is stopped', async () => {
    const controller = new AbortController();
    const running = run(context({ method: 'GET', url: `${base}/slow` }, controller));
    setTimeout(() => controller.abort(new JobAborted('canceled', 'SIGTERM', 0)), 100);
    await expect(running).rejects.toBeInstanceOf(JobAborted);
  });

  it('refuses a bad payload without a request', async () => {
    const before = seen.length;
    for (const [payload, message] of [
      [
        { url: `${base}/ok` },
        'payload.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      ],
      [
        { method: 'GET', url: 'file:///etc/passwd' },
        'payload.url: must be an http:// or https:// URL',
      ],
      [
        { method: 'GET', url: 'http://u:p@127.0.0.1/' },
        expect.stringContaining('must not carry credentials'),
      ],
      [{ method: 'GET', url: `${base}/ok`, body: 'x' }, 'payload.body: a GET request has no body'],
      [
        { method: 'GET', url: `${base}/ok`, timeout: 0 },
        expect.stringMatching(/^payload\.timeout/),
      ],
      [
        { method: 'GET', url: `${base}/ok`, headers: { 'x-a': 'b\r\nc: d' } },
        'payload.headers.x-a: must not contain CR, LF or NUL',
      ],
      [
        { method: 'GET', url: `${base}/ok`, retries: 3 },
        expect.stringMatching(/^payload\.retries: not a field/),
      ],
    ] as const) {
      const e = await failure(payload);
      expect(e).toBeInstanceOf(PermanentError);
      expect(e.message).toEqual(message);
    }
    expect(seen.length).toBe(before);
  });
});
