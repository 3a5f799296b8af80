/**
 * The client API and the workers' endpoint as an attacker tries them: paths spelled to get past
 * the token check, a web page reaching the broker through the user's browser (DNS rebinding,
 * cross-site requests, a WebSocket from a page). Raw HTTP, so that paths go out as written.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestBroker, type ConfigOverrides, type TestBroker } from '../helpers/broker.js';

let tb: TestBroker | undefined;
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});

async function broker(over: ConfigOverrides = {}): Promise<TestBroker> {
  tb = await startTestBroker(over);
  return tb;
}

interface RawReply {
  status: number;
  body: string;
}

/** One request with the path and headers exactly as given. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawReply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    // A stream (the events route) answers at once with its headers: enough to judge.
    req.setTimeout(2_000, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Ways to spell a path that a router may treat as the same route. */
function spellings(path: string): string[] {
  const [first, ...rest] = path.split('/').slice(1);
  const tail = rest.join('/');
  const encode = (s: string, i: number) =>
    s.slice(0, i) + `%${s.charCodeAt(i).toString(16)}` + s.slice(i + 1);
  return [
    path,
    `/${encode(first!, 0)}/${tail}`,
    // A path of one segment (/metrics) has no tail to encode.
    ...(tail === '' ? [] : [`/${first}/${encode(tail, 0)}`]),
    `/${first}/${tail.toUpperCase()}`.replace('/API', '/api'),
    path.toUpperCase(),
    `/${first}%2F${tail}`,
    `/${first}%2f${tail}`,
    `//${first}//${tail}`,
    `/${first}/./${tail}`,
    `/${first}/x/../${tail}`,
    `/x/../${first}/${tail}`,
    `${path}/`,
    `${path}?`,
    `${path}#frag`,
    `/${first}/${tail.replace(/\//g, '%2F')}`,
  ];
}

describe('with tokens: the check is on the route the router matched', () => {
  it('refuses every spelling of every route without a token, and submits nothing', async () => {
    const b = await broker({ auth: { clientTokens: ['client'], adminTokens: ['admin'] } });
    const base = b.broker.clientsUrl;
    const admin = { authorization: 'Bearer admin' };
    const doc = JSON.parse((await raw(base, 'GET', '/api/v1/openapi.json', admin)).body) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => ({
        method: m.toUpperCase(),
        path: path.replace('{id}', '1'),
      })),
    );
    routes.push({ method: 'GET', path: '/api/v1/openapi.json' });
    expect(routes.length).toBeGreaterThanOrEqual(9);
    const open: string[] = [];
    for (const { method, path } of routes) {
      const publicRoute = path === '/healthz';
      for (const spelled of spellings(path)) {
        const body =
          method === 'POST'
            ? JSON.stringify({ type: 'shell', payload: { command: 'id' } })
            : undefined;
        const headers: Record<string, string> =
          body === undefined ? {} : { 'content-type': 'application/json' };
        const r = await raw(base, method, spelled, headers, body);
        if (r.status !== 401 && !(publicRoute && r.status < 500)) {
          open.push(`${method} ${spelled} → ${r.status}`);
        }
      }
    }
    expect(open).toEqual([]);
    const jobs = JSON.parse((await raw(base, 'GET', '/api/v1/jobs', admin)).body) as {
      jobs: unknown[];
    };
    expect(jobs.jobs).toEqual([]);
  });

  it('still serves the routes a token may use, and health without one', async () => {
    const b = await broker({ auth: { clientTokens: ['client'] } });
    const base = b.broker.clientsUrl;
    expect((await raw(base, 'GET', '/healthz')).status).toBe(200);
    expect(
      (await raw(base, 'GET', '/api/v1/stats', { authorization: 'Bearer client' })).status,
    ).toBe(200);
    // An unknown route, with a valid token, is a 404; without one, a 401 like any other.
    expect(
      (await raw(base, 'GET', '/api/v1/nope', { authorization: 'Bearer client' })).status,
    ).toBe(404);
    expect((await raw(base, 'GET', '/api/v1/nope')).status).toBe(401);
  });
});

describe('without tokens: only this machine, by a loopback name', () => {
  it('refuses a request whose Host is another name (DNS rebinding), on every kind of route', async () => {
    const b = await broker();
    const base = b.broker.clientsUrl;
    for (const [method, path] of [
      ['GET', '/api/v1/jobs'],
      ['GET', '/api/v1/events'],
      ['GET', '/healthz'],
      ['GET', '/api/v1/nothing'],
    ] as const) {
      const r = await raw(base, method, path, { host: 'evil.example' });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body).toContain('Host \\"evil.example\\" is not served');
    }
    const submitted = await raw(
      base,
      'POST',
      '/api/v1/jobs',
      { host: 'evil.example:9658', 'content-type': 'application/json' },
      JSON.stringify({ type: 'shell', payload: { command: 'id' } }),
    );
    expect(submitted.status).toBe(403);
    const port = new URL(base).port;
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'LOCALHOST',
      `[::1]:${port}`,
      'app.localhost',
    ]) {
      expect((await raw(base, 'GET', '/api/v1/stats', { host })).status, host).toBe(200);
    }
    for (const host of ['127.0.0.1.evil.example', 'localhost.evil.example', '[::1', '1.2.3.4']) {
      expect((await raw(base, 'GET', '/api/v1/stats', { host })).status, host).toBe(403);
    }
    const jobs = JSON.parse((await raw(base, 'GET', '/api/v1/jobs')).body) as { jobs: unknown[] };
    expect(jobs.jobs).toEqual([]);
  });

  it('serves the host names listed in clients.allowed_hosts', async () => {
    const b = await broker({ clients: { allowedHosts: ['broker.lan'] } });
    const base = b.broker.clientsUrl;
    expect((await raw(base, 'GET', '/api/v1/stats', { host: 'broker.lan:80' })).status).toBe(200);
    expect((await raw(base, 'GET', '/api/v1/stats', { host: 'other.lan' })).status).toBe(403);
  });

  it('refuses cross-site simple requests: a page can post a form, not JSON', async () => {
    const b = await broker();
    const base = b.broker.clientsUrl;
    const body = '{"type":"shell","payload":{"command":"id"}}';
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await raw(
        base,
        'POST',
        '/api/v1/jobs',
        { 'content-type': type, origin: 'https://evil.example' },
        body,
      );
      expect(r.status, type).toBe(415);
    }
    const jobs = JSON.parse((await raw(base, 'GET', '/api/v1/jobs')).body) as { jobs: unknown[] };
    expect(jobs.jobs).toEqual([]);
  });
});

describe('the workers endpoint', () => {
  function connect(url: string, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.on('error', () => undefined);
    });
  }

  it('refuses a browser (an Origin) even with tokens, and a foreign Host without them', async () => {
    const b = await broker();
    const url = b.broker.workersUrl;
    expect(await connect(url, {})).toBe(101);
    expect(await connect(url, { origin: 'https://evil.example' })).toBe(403);
    expect(await connect(url, { host: 'evil.example' })).toBe(403);
    await b.close();
    tb = undefined;
    const secured = await broker({ auth: { workerTokens: ['w'] } });
    expect(await connect(secured.broker.workersUrl, { host: 'broker.example' })).toBe(101);
    expect(await connect(secured.broker.workersUrl, { origin: 'http://127.0.0.1' })).toBe(403);
  });
});
