/**
 * `http` jobs end to end: a broker process, the `switchyard worker` agent process, and an HTTP
 * server of the test's on 127.0.0.1. A 2xx succeeds with the answer as the result, a 4xx fails
 * at once, a 5xx is retried with back-off until its attempts run out; a bad payload is refused
 * at submission. The agent announces both of its types, or those `--type` names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobBody } from '../../src/protocol/api.js';
import { api, submit, waitJob } from '../helpers/http.js';
import {
  brokerArgs,
  killAll,
  startAgent,
  startBrokerProcess,
  type BrokerProcess,
} from '../helpers/processes.js';

let dir: string;
let server: Server;
let target: string;
let b: BrokerProcess;
const hits = new Map<string, number[]>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-http-'));
  server = createServer((req, res) => {
    const path = req.url!;
    hits.set(path, [...(hits.get(path) ?? []), Date.now()]);
    if (path === '/ok') res.writeHead(200, { 'x-from': 'test' }).end('fine');
    else if (path === '/gone') res.writeHead(410).end('gone');
    else res.writeHead(502).end('bad gateway');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  b = await startBrokerProcess(brokerArgs(dir));
  await startAgent(b, 'agent');
}, 60_000);
afterAll(async () => {
  await killAll();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const request = (path: string, extra: Record<string, unknown> = {}) => ({
  type: 'http',
  payload: { method: 'GET', url: `${target}${path}` },
  ...extra,
});

describe('http jobs through a broker and the worker agent', () => {
  it('announces shell and http', async () => {
    const r = await api<{ workers: Array<{ name: string; types: string[] }> }>(
      b.clientsUrl,
      'GET',
      '/api/v1/workers',
    );
    expect(r.json.workers.find((w) => w.name === 'agent')!.types.sort()).toEqual(['http', 'shell']);
  });

  it('succeeds on a 2xx with the answer as the result', async () => {
    const job = await submit(b.clientsUrl, request('/ok'));
    const done = await waitJob(b.clientsUrl, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toMatchObject({ status: 200, body: 'fine', headers: { 'x-from': 'test' } });
  });

  it('fails a 4xx at once, without another attempt', async () => {
    const job = await submit(b.clientsUrl, request('/gone', { maxAttempts: 3 }));
    const done = await waitJob(b.clientsUrl, job.id);
    expect(done).toMatchObject({ state: 'failed', attempt: 1, error: { code: 'http_status' } });
    expect(hits.get('/gone')).toHaveLength(1);
  });

  it('retries a 5xx with back-off, then fails when the attempts run out', async () => {
    const job = await submit(
      b.clientsUrl,
      request('/flaky', { maxAttempts: 3, backoff: { type: 'fixed', delay: 0.3 } }),
    );
    const done: JobBody = await waitJob(b.clientsUrl, job.id, undefined, 30_000);
    expect(done).toMatchObject({ state: 'failed', attempt: 3, error: { code: 'http_status' } });
    const times = hits.get('/flaky')!;
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(250);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(250);
  });

  it('refuses a bad payload at submission, naming the field', async () => {
    const r = await api(b.clientsUrl, 'POST', '/api/v1/jobs', {
      type: 'http',
      payload: { method: 'GET', url: 'ftp://example.com/' },
    });
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toBe('payload.url: must be an http:// or https:// URL');
  });

  it('runs only the types --type names', async () => {
    await startAgent(b, 'http-only', ['--type', 'http']);
    const r = await api<{ workers: Array<{ name: string; types: string[] }> }>(
      b.clientsUrl,
      'GET',
      '/api/v1/workers',
    );
    expect(r.json.workers.find((w) => w.name === 'http-only')!.types).toEqual(['http']);
  });
});
