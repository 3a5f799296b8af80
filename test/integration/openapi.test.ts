/**
 * The OpenAPI document as a client's tools read it: valid OpenAPI by an independent validator,
 * describing every route the server has with every status it can answer, and agreeing with the
 * answers the broker really gives. Once for a broker without tokens, once with.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyContextConfig, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/main/index.js';
import { testConfig, testLogger, type ConfigOverrides } from '../helpers/broker.js';

const CLIENT_TOKEN = 'openapi-client-token';
const WORKER_TOKEN = 'openapi-worker-token';

interface Schema {
  [key: string]: unknown;
}
interface Response {
  description: string;
  content?: Record<string, { schema: Schema }>;
}
interface Operation {
  operationId?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses: Record<string, Response>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  security?: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, unknown> };
}

interface Started {
  broker: RunningBroker;
  /** The routes the server added, as `GET /api/v1/jobs/{id}` (but the HEAD twins of GETs). */
  routes: Map<string, RouteOptions>;
  doc: Document;
  authOn: boolean;
  close(): Promise<void>;
}

const tokensIn = (over: ConfigOverrides) => (over.auth?.clientTokens ?? []).length > 0;

/** A broker that records its routes, with its document. */
async function start(over: ConfigOverrides): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-test-'));
  const routes = new Map<string, RouteOptions>();
  const broker = await startBroker({
    config: testConfig(dir, over),
    logger: testLogger(),
    onApiRoute: (route) => {
      // Fastify adds a HEAD route for every GET (the events stream relies on it); OpenAPI
      // describes the GET.
      if (route.method === 'HEAD') return;
      for (const method of [route.method].flat()) {
        routes.set(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`, route);
      }
    },
  });
  const authOn = tokensIn(over);
  const headers: Record<string, string> = authOn ? { authorization: `Bearer ${CLIENT_TOKEN}` } : {};
  const res = await fetch(`${broker.clientsUrl}/api/v1/openapi.json`, { headers });
  expect(res.status).toBe(200);
  const doc = (await res.json()) as Document;
  return {
    broker,
    routes,
    doc,
    authOn,
    async close() {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The statuses each route's handler gives of itself. The ones every route of a kind gives are
 * added by `expectedErrors`. A route missing here fails the test: say what it answers.
 */
const handlerErrors: Record<string, number[]> = {
  'POST /api/v1/jobs': [422, 503],
  'POST /api/v1/jobs/batch': [422, 503],
  'GET /api/v1/jobs': [503],
  'GET /api/v1/jobs/{id}': [404, 503],
  'GET /api/v1/jobs/{id}/logs': [404, 503],
  'GET /api/v1/jobs/{id}/messages': [404, 503],
  'POST /api/v1/jobs/{id}/cancel': [404, 409, 503],
  'POST /api/v1/jobs/{id}/hold': [404, 409, 503],
  'POST /api/v1/jobs/{id}/release': [404, 409, 503],
  'POST /api/v1/jobs/{id}/retry': [404, 409, 503],
  'POST /api/v1/jobs/{id}/run-now': [404, 409, 503],
  'DELETE /api/v1/jobs/{id}': [404, 503],
  'PATCH /api/v1/jobs/{id}': [404, 409, 503],
  'POST /api/v1/jobs/actions': [503],
  'GET /api/v1/failed/groups': [503],
  'POST /api/v1/freeze': [503],
  'POST /api/v1/unfreeze': [503],
  'GET /api/v1/workers': [],
  'GET /api/v1/workers/{id}': [404, 503],
  'POST /api/v1/workers/{id}/status': [404, 503],
  'PUT /api/v1/workers/{id}/sleep-schedule': [404, 503],
  'DELETE /api/v1/workers/{id}/sleep-schedule': [404, 503],
  'PUT /api/v1/workers/{id}/queues': [404, 503],
  'POST /api/v1/workers/{id}/disconnect': [404, 503],
  'DELETE /api/v1/workers/{id}/blocklist/{type}': [404, 503],
  'GET /api/v1/workers/{id}/usage': [404, 503],
  'GET /api/v1/stats': [503],
  'GET /api/v1/cluster': [503],
  'GET /api/v1/events': [],
  'GET /api/v1/monitor': [401, 426],
  'POST /api/v1/jobs/{id}/monitor-token': [404, 503],
  'GET /metrics': [503],
  'GET /healthz': [],
  'GET /api/v1/queues': [503],
  'GET /api/v1/queues/{name}': [404, 503],
  'PUT /api/v1/queues/{name}': [503],
  'DELETE /api/v1/queues/{name}': [404, 409, 503],
  'POST /api/v1/queues/{name}/pause': [503],
  'POST /api/v1/queues/{name}/resume': [503],
  'GET /api/v1/limits': [503],
  'PUT /api/v1/limits/{name}': [503],
  'GET /api/v1/schedules': [503],
  'POST /api/v1/schedules': [409, 503],
  'GET /api/v1/schedules/{name}': [404, 503],
  'PATCH /api/v1/schedules/{name}': [404, 503],
  'DELETE /api/v1/schedules/{name}': [404, 503],
  'POST /api/v1/schedules/{name}/pause': [404, 503],
  'POST /api/v1/schedules/{name}/resume': [404, 503],
};

/** A route's error statuses: its handler's, its input's, its body's, and the token check's. */
function expectedErrors(key: string, route: RouteOptions, authOn: boolean): number[] {
  const statuses = new Set(handlerErrors[key]);
  const schema = route.schema ?? {};
  const post = [route.method].flat().some((m) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m));
  // Input that fails its schema, or a body that is no JSON.
  if (post || schema.params || schema.querystring || schema.body) statuses.add(400);
  if (post) {
    statuses.add(413);
    statuses.add(415);
  }
  const isPublic = (route.config as FastifyContextConfig | undefined)?.public === true;
  // Without tokens, a Host that is not a loopback name is refused on every route.
  if (!authOn) statuses.add(403);
  else if (!isPublic) {
    statuses.add(401);
    statuses.add(403);
  }
  return [...statuses].sort((a, b) => a - b);
}

function operation(doc: Document, key: string): Operation {
  const [method, path] = key.split(' ') as [string, string];
  const op = doc.paths[path]?.[method.toLowerCase()];
  if (op === undefined) throw new Error(`${key} is not in the document`);
  return op;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);

/** Checks a real body against the schema the document gives for this answer. */
function expectDocumented(
  doc: Document,
  key: string,
  reply: { status: number; type: string; body: string },
): void {
  const documented = operation(doc, key).responses[String(reply.status)];
  expect(documented, `${key} answered ${reply.status}, which it does not document`).toBeDefined();
  const mediaType = reply.type.split(';')[0]!.trim();
  const media = documented!.content?.[mediaType];
  expect(media, `${key} ${reply.status} answered ${mediaType}`).toBeDefined();
  if (mediaType !== 'application/json') return;
  // The document's own `#/components/...` references resolve against the wrapper.
  const validate = ajv.compile({ components: doc.components, allOf: [media!.schema] });
  const body: unknown = JSON.parse(reply.body);
  expect(validate(body), `${key} ${reply.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

interface Probe {
  /** The operation, as `METHOD /path/{param}`. */
  key: string;
  params?: Record<string, string>;
  query?: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
}

/** One request as given (any Host, any body); a stream is cut once its headers are in. */
function send(base: string, probe: Probe): Promise<{ status: number; type: string; body: string }> {
  const [method, template] = probe.key.split(' ') as [string, string];
  const path =
    template.replace(/\{(\w+)\}/g, (_, name: string) => probe.params?.[name] ?? '') +
    (probe.query ?? '');
  const url = new URL(base);
  const headers = { ...probe.headers };
  if (probe.body !== undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const type = res.headers['content-type'] ?? '';
      if (type.startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, type, body: '' });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body }));
    });
    req.on('error', reject);
    if (probe.body !== undefined) req.write(probe.body);
    req.end();
  });
}

async function expectAnswers(s: Started, probes: Probe[]): Promise<void> {
  for (const probe of probes) {
    const reply = await send(s.broker.clientsUrl, probe);
    expect(reply.status, `${probe.key} ${probe.query ?? ''}: ${reply.body}`).toBe(probe.status);
    expectDocumented(s.doc, probe.key, reply);
  }
}

function describeDocument(name: string, over: ConfigOverrides, answers: () => Probe[]) {
  describe(name, () => {
    let s: Started;
    beforeAll(async () => {
      s = await start(over);
    });
    afterAll(async () => s.close());

    it('is valid OpenAPI 3.0 with references that resolve', async () => {
      const spec = structuredClone(s.doc) as unknown as Record<string, unknown>;
      const result = await new Validator().validate(spec);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(s.doc.openapi).toBe('3.0.3');
      expect(JSON.stringify(s.doc)).not.toContain('errorMessage');
    });

    it('names every operation once, and declares every path parameter', () => {
      const ids: string[] = [];
      for (const [path, item] of Object.entries(s.doc.paths)) {
        for (const op of Object.values(item)) {
          expect(op.operationId, path).toBeDefined();
          ids.push(op.operationId!);
          for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
            const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
            expect(param?.required, `${path}: {${name}}`).toBe(true);
          }
        }
      }
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('describes every route with its 2xx answer and each error status it can give', () => {
      const documented = Object.entries(s.doc.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      );
      const served = [...s.routes.keys()].filter((key) => s.routes.get(key)!.schema?.hide !== true);
      expect(documented.sort()).toEqual(served.sort());
      expect(served.sort()).toEqual(Object.keys(handlerErrors).sort());

      for (const [key, route] of s.routes) {
        if (route.schema?.hide === true) continue;
        const responses = operation(s.doc, key).responses;
        const statuses = Object.keys(responses).map(Number);
        // A WebSocket route answers 101 Switching Protocols instead.
        const websocket = (route as { wsHandler?: unknown }).wsHandler !== undefined;
        expect(
          statuses.some((st) => (st >= 200 && st < 300) || (websocket && st === 101)),
          key,
        ).toBe(true);
        expect(
          statuses.filter((st) => st >= 400),
          key,
        ).toEqual(expectedErrors(key, route, s.authOn));
        for (const status of statuses.filter((st) => st >= 400)) {
          expect(responses[status]!.content, `${key} ${status}`).toEqual({
            'application/json': { schema: { $ref: '#/components/schemas/Error' } },
          });
        }
      }
    });

    it('gives errors the one shape {error: {code, message, details?}}', () => {
      const error = s.doc.components.schemas.Error as {
        required: string[];
        properties: { error: { required: string[]; properties: Record<string, unknown> } };
      };
      expect(error.required).toEqual(['error']);
      expect(error.properties.error.required).toEqual(['code', 'message']);
      expect(Object.keys(error.properties.error.properties)).toEqual([
        'code',
        'message',
        'details',
      ]);
    });

    it('documents the answers the broker really gives, bodies and all', async () => {
      await expectAnswers(s, answers());
    });

    if (tokensIn(over)) {
      it('asks for a bearer token on every route but /healthz', () => {
        expect(s.doc.components.securitySchemes).toEqual({
          bearer: { type: 'http', scheme: 'bearer' },
        });
        expect(s.doc.security).toEqual([{ bearer: [] }]);
        expect(operation(s.doc, 'GET /healthz').security).toEqual([]);
        // The monitor takes a client token, or none with an access token for one job.
        expect(operation(s.doc, 'GET /api/v1/monitor').security).toEqual([{ bearer: [] }, {}]);
        const others = Object.keys(handlerErrors).filter(
          (key) => key !== 'GET /healthz' && key !== 'GET /api/v1/monitor',
        );
        for (const key of others) expect(operation(s.doc, key).security, key).toBeUndefined();
      });
    } else {
      it('asks for no token', () => {
        expect(s.doc.security ?? []).toEqual([]);
      });
    }
  });
}

const shellJob = JSON.stringify({ type: 'shell', payload: { command: 'true' } });

describeDocument('the document of a broker without tokens', { bodyLimit: 4096 }, (): Probe[] => [
  { key: 'POST /api/v1/jobs', body: shellJob, status: 201 },
  { key: 'POST /api/v1/jobs', body: '{}', status: 400 },
  { key: 'POST /api/v1/jobs', body: '{"type":', status: 400 },
  {
    key: 'POST /api/v1/jobs',
    body: 'type=shell',
    headers: { 'content-type': 'text/plain' },
    status: 415,
  },
  {
    key: 'POST /api/v1/jobs',
    body: JSON.stringify({ type: 'shell', meta: { pad: 'x'.repeat(8192) } }),
    status: 413,
  },
  {
    key: 'POST /api/v1/jobs/batch',
    body: JSON.stringify({ jobs: [JSON.parse(shellJob)] }),
    status: 201,
  },
  { key: 'POST /api/v1/jobs/batch', body: '{"jobs": []}', status: 400 },
  {
    key: 'POST /api/v1/jobs',
    body: JSON.stringify({
      type: 'shell',
      payload: { command: 'true' },
      notify: { url: 'http://127.0.0.1:9/hook', events: ['failed'] },
    }),
    status: 201,
  },
  {
    key: 'POST /api/v1/jobs',
    body: JSON.stringify({ type: 'shell', notify: { url: 'ftp://127.0.0.1/hook' } }),
    status: 400,
  },
  { key: 'GET /api/v1/jobs/{id}', params: { id: '3' }, status: 200 },
  { key: 'GET /api/v1/jobs', status: 200 },
  { key: 'GET /api/v1/jobs', query: '?limit=0', status: 400 },
  { key: 'GET /api/v1/jobs/{id}', params: { id: '1' }, status: 200 },
  { key: 'GET /api/v1/jobs/{id}', params: { id: '999999' }, status: 404 },
  { key: 'GET /api/v1/jobs/{id}', params: { id: 'one' }, status: 400 },
  { key: 'GET /api/v1/jobs/{id}/logs', params: { id: '1' }, status: 200 },
  { key: 'GET /api/v1/jobs/{id}/logs', params: { id: '999999' }, status: 404 },
  { key: 'GET /api/v1/jobs/{id}/messages', params: { id: '1' }, status: 200 },
  { key: 'GET /api/v1/jobs/{id}/messages', params: { id: '999999' }, status: 404 },
  { key: 'POST /api/v1/jobs/{id}/cancel', params: { id: '1' }, status: 200 },
  { key: 'POST /api/v1/jobs/{id}/cancel', params: { id: '1' }, status: 409 },
  {
    key: 'POST /api/v1/jobs/{id}/cancel',
    params: { id: '2' },
    body: 'x',
    headers: { 'content-type': 'text/plain' },
    status: 415,
  },
  { key: 'POST /api/v1/jobs/{id}/hold', params: { id: '2' }, body: '{"reason":"r"}', status: 200 },
  { key: 'POST /api/v1/jobs/{id}/hold', params: { id: '2' }, status: 409 },
  { key: 'POST /api/v1/jobs/{id}/hold', params: { id: '999999' }, status: 404 },
  { key: 'POST /api/v1/jobs/{id}/release', params: { id: '2' }, status: 200 },
  { key: 'POST /api/v1/jobs/{id}/release', params: { id: '2' }, status: 409 },
  { key: 'POST /api/v1/jobs/{id}/retry', params: { id: '1' }, status: 200 },
  { key: 'POST /api/v1/jobs/{id}/retry', params: { id: '1' }, status: 409 },
  { key: 'POST /api/v1/jobs/{id}/run-now', params: { id: '1' }, status: 409 },
  { key: 'PATCH /api/v1/jobs/{id}', params: { id: '1' }, body: '{"priority":3}', status: 200 },
  { key: 'PATCH /api/v1/jobs/{id}', params: { id: '1' }, body: '{}', status: 400 },
  { key: 'PATCH /api/v1/jobs/{id}', params: { id: '999999' }, body: '{"priority":3}', status: 404 },
  {
    key: 'POST /api/v1/jobs/actions',
    body: JSON.stringify({ action: 'hold', filter: { state: 'queued' }, dryRun: true }),
    status: 200,
  },
  { key: 'POST /api/v1/jobs/actions', body: '{"action":"explode","ids":["1"]}', status: 400 },
  { key: 'GET /api/v1/failed/groups', status: 200 },
  { key: 'GET /api/v1/failed/groups', query: '?by=color', status: 400 },
  { key: 'DELETE /api/v1/jobs/{id}', params: { id: '2' }, status: 200 },
  { key: 'DELETE /api/v1/jobs/{id}', params: { id: '2' }, status: 404 },
  { key: 'POST /api/v1/freeze', status: 200 },
  { key: 'POST /api/v1/unfreeze', status: 200 },
  { key: 'GET /api/v1/workers', status: 200 },
  { key: 'GET /api/v1/workers/{id}', params: { id: 'w_none' }, status: 404 },
  {
    key: 'POST /api/v1/workers/{id}/status',
    params: { id: 'w_none' },
    body: '{"status":"asleep"}',
    status: 404,
  },
  {
    key: 'POST /api/v1/workers/{id}/status',
    params: { id: 'w_none' },
    body: '{"status":"sleepy"}',
    status: 400,
  },
  {
    key: 'PUT /api/v1/workers/{id}/sleep-schedule',
    params: { id: 'w_none' },
    body: '{"days":["mon"],"start":"22:00","end":"06:00","timeZone":"UTC"}',
    status: 404,
  },
  { key: 'DELETE /api/v1/workers/{id}/sleep-schedule', params: { id: 'w_none' }, status: 404 },
  {
    key: 'PUT /api/v1/workers/{id}/queues',
    params: { id: 'w_none' },
    body: '{"queues":["a"]}',
    status: 404,
  },
  { key: 'POST /api/v1/workers/{id}/disconnect', params: { id: 'w_none' }, status: 404 },
  {
    key: 'DELETE /api/v1/workers/{id}/blocklist/{type}',
    params: { id: 'w_none', type: 't' },
    status: 404,
  },
  { key: 'GET /api/v1/workers/{id}/usage', params: { id: 'w_none' }, status: 404 },
  { key: 'GET /api/v1/stats', status: 200 },
  { key: 'GET /api/v1/cluster', status: 200 },
  { key: 'GET /api/v1/events', status: 200 },
  { key: 'GET /api/v1/events', query: '?job=0', status: 400 },
  { key: 'GET /api/v1/events', query: '?kind=job:nothing', status: 400 },
  { key: 'GET /api/v1/events', query: '?kind=job,worker:up&queue=q&since=0', status: 200 },
  { key: 'GET /metrics', status: 200 },
  { key: 'GET /healthz', status: 200 },
  { key: 'GET /healthz', headers: { host: 'switchyard.example' }, status: 403 },
  {
    key: 'PUT /api/v1/queues/{name}',
    params: { name: 'q1' },
    body: '{"discipline":"fair","rate":10,"weights":{"a":2}}',
    status: 200,
  },
  { key: 'PUT /api/v1/queues/{name}', params: { name: 'q1' }, body: '{"rate":-1}', status: 400 },
  { key: 'GET /api/v1/queues', status: 200 },
  { key: 'GET /api/v1/queues/{name}', params: { name: 'q1' }, status: 200 },
  { key: 'GET /api/v1/queues/{name}', params: { name: 'nowhere' }, status: 404 },
  { key: 'POST /api/v1/queues/{name}/pause', params: { name: 'q1' }, status: 200 },
  { key: 'POST /api/v1/queues/{name}/resume', params: { name: 'q1' }, status: 200 },
  { key: 'DELETE /api/v1/queues/{name}', params: { name: 'q1' }, status: 200 },
  { key: 'DELETE /api/v1/queues/{name}', params: { name: 'nowhere' }, status: 404 },
  { key: 'DELETE /api/v1/queues/{name}', params: { name: 'default' }, status: 409 },
  { key: 'PUT /api/v1/limits/{name}', params: { name: 'lic' }, body: '{"max":3}', status: 200 },
  {
    key: 'PUT /api/v1/limits/{name}',
    params: { name: 'bad%20name' },
    body: '{"max":3}',
    status: 400,
  },
  { key: 'GET /api/v1/limits', status: 200 },
]);

describeDocument(
  'the document of a broker with tokens',
  {
    auth: { clientTokens: [CLIENT_TOKEN], workerTokens: [WORKER_TOKEN] },
    rejectUnmatchable: true,
  },
  (): Probe[] => {
    const client = { authorization: `Bearer ${CLIENT_TOKEN}` };
    return [
      { key: 'GET /api/v1/jobs', status: 401 },
      {
        key: 'GET /api/v1/jobs',
        headers: { authorization: `Bearer ${WORKER_TOKEN}` },
        status: 403,
      },
      { key: 'GET /api/v1/jobs', headers: client, status: 200 },
      // No worker is connected: nothing could run it.
      { key: 'POST /api/v1/jobs', headers: client, body: shellJob, status: 422 },
      { key: 'GET /api/v1/events', status: 401 },
      { key: 'GET /api/v1/events', headers: client, status: 200 },
      { key: 'GET /api/v1/events', query: '?token=openapi-client-token', status: 200 },
      { key: 'GET /metrics', status: 401 },
      { key: 'GET /metrics', headers: client, status: 200 },
      { key: 'GET /healthz', status: 200 },
    ];
  },
);
