import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, WaitTimeoutError } from '../../../src/client/index.js';
import { SwitchyardError } from '../../../src/domain/errors.js';
import type { JobBody } from '../../../src/protocol/api.js';
import { jobBody } from '../../helpers/fixtures.js';

/** A request the test double received. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}
type Reply = { status?: number; json?: unknown; text?: string };
type Handler = (req: Seen) => Reply;

/** A stand-in for the broker over real sockets: canned JSON per request, every request kept. */
let server: Server;
let base: string;
let handler: Handler = () => ({ status: 500, text: 'no handler' });
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const request: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: raw === '' ? undefined : (JSON.parse(raw) as unknown),
      };
      seen.push(request);
      const reply = handler(request);
      res.statusCode = reply.status ?? 200;
      if (reply.json !== undefined) res.setHeader('content-type', 'application/json');
      res.end(reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? ''));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(() => {
  seen.length = 0;
});

const job = (patch: Partial<JobBody> = {}): JobBody => jobBody({ ...patch });

describe('Client requests', () => {
  it('submit POSTs the job as JSON with the bearer token', async () => {
    handler = () => ({ status: 201, json: job({ id: '7' }) });
    const client = new Client({ url: `${base}/`, token: 'tok' });
    const answer = await client.submit({ type: 'shell', payload: { command: 'echo hi' } });
    expect(answer.id).toBe('7');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/api/v1/jobs',
      body: { type: 'shell', payload: { command: 'echo hi' } },
    });
    expect(seen[0]?.headers.authorization).toBe('Bearer tok');
    expect(seen[0]?.headers['content-type']).toBe('application/json');
  });

  it('sends concurrent submits as one batch, each caller getting its own job', async () => {
    handler = (req) => {
      const jobs = (req.body as { jobs: Array<{ payload: { n: number } }> }).jobs;
      return {
        status: 201,
        json: { jobs: jobs.map((j) => job({ id: String(100 + j.payload.n) })) },
      };
    };
    const client = new Client({ url: base });
    const answers = await Promise.all(
      [0, 1, 2].map((n) => client.submit({ type: 'shell', payload: { n } })),
    );
    expect(answers.map((a) => a.id)).toEqual(['100', '101', '102']);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /api/v1/jobs/batch']);
  });

  it('sends a refused batch again job by job, so that each caller gets its own answer', async () => {
    handler = (req) => {
      if (req.url === '/api/v1/jobs/batch')
        return {
          status: 400,
          json: { error: { code: 'invalid_request', message: 'jobs[1]: bad' } },
        };
      const n = (req.body as { payload: { n: number } }).payload.n;
      return n === 1
        ? { status: 400, json: { error: { code: 'invalid_request', message: 'payload: bad' } } }
        : { status: 201, json: job({ id: String(n) }) };
    };
    const client = new Client({ url: base });
    const answers = await Promise.allSettled(
      [0, 1, 2].map((n) => client.submit({ type: 'shell', payload: { n } })),
    );
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((answers[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'payload: bad' });
    expect(seen.filter((s) => s.url === '/api/v1/jobs')).toHaveLength(3);
  });

  it('fails every submit of a batch the store could not write, without sending each again', async () => {
    const refusal = {
      code: 'store_unavailable',
      message: 'the store cannot write: the disk is full (SQLITE_FULL)',
      details: { fault: 'disk_full' },
    };
    handler = () => ({ status: 503, json: { error: refusal } });
    const client = new Client({ url: base });
    const answers = await Promise.allSettled(
      [0, 1, 2].map((n) => client.submit({ type: 'shell', payload: { n } })),
    );
    for (const answer of answers) {
      expect(answer.status).toBe('rejected');
      const reason = (answer as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(SwitchyardError);
      expect(reason).toMatchObject(refusal);
    }
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/jobs/batch']);
  });

  it('sends every submit alone with coalesceSubmits: false', async () => {
    handler = () => ({ status: 201, json: job() });
    const client = new Client({ url: base, coalesceSubmits: false });
    await Promise.all([0, 1].map(() => client.submit({ type: 'shell', payload: {} })));
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/jobs', '/api/v1/jobs']);
  });

  it('goes through an injected fetch when one is given', async () => {
    handler = () => ({ status: 201, json: job({ id: '7' }) });
    const calls: string[] = [];
    const client = new Client({
      url: base,
      fetch: (input, init) => {
        calls.push(`${init?.method} ${String(input)}`);
        return fetch(input, init);
      },
    });
    expect((await client.submit({ type: 'shell', payload: { command: 'true' } })).id).toBe('7');
    expect(calls).toEqual([`POST ${base}/api/v1/jobs`]);
    expect(seen[0]?.body).toEqual({ type: 'shell', payload: { command: 'true' } });
  });

  it('sends no Authorization header without a token', async () => {
    handler = () => ({ json: { status: 'ok', version: '0.1.0' } });
    expect(await new Client({ url: base }).health()).toEqual({ status: 'ok', version: '0.1.0' });
    expect(seen[0]?.url).toBe('/healthz');
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('submitBatch wraps and unwraps the jobs', async () => {
    handler = () => ({ status: 201, json: { jobs: [job({ id: '1' }), job({ id: '2' })] } });
    const jobs = await new Client({ url: base }).submitBatch([{ type: 'a' }, { type: 'b' }]);
    expect(jobs.map((j) => j.id)).toEqual(['1', '2']);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/api/v1/jobs/batch',
      body: { jobs: [{ type: 'a' }, { type: 'b' }] },
    });
  });

  it('get, cancel, logs, workers and stats use their routes', async () => {
    handler = (req) => {
      if (req.url.startsWith('/api/v1/workers')) return { json: { workers: [{ id: 'w' }] } };
      if (req.url.startsWith('/api/v1/stats')) return { json: { workers: 1 } };
      if (req.url.includes('/logs')) return { json: { logs: [], nextCursor: null } };
      return { json: job() };
    };
    const client = new Client({ url: base });
    await client.get('12');
    await client.cancel('12');
    await client.logs('12', { after: '5', limit: 10 });
    await client.logs('12');
    expect(await client.workers()).toEqual([{ id: 'w' }]);
    expect(await client.stats()).toEqual({ workers: 1 });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /api/v1/jobs/12',
      'POST /api/v1/jobs/12/cancel',
      'GET /api/v1/jobs/12/logs?after=5&limit=10',
      'GET /api/v1/jobs/12/logs',
      'GET /api/v1/workers',
      'GET /api/v1/stats',
    ]);
  });

  it('submit resolves with the existing job when the broker answers 200 deduplicated', async () => {
    handler = () => ({ status: 200, json: job({ id: '3', deduplicated: true }) });
    const client = new Client({ url: base });
    const alone = await client.submit({ type: 'shell', unique: { key: 'nightly' } });
    expect(alone).toMatchObject({ id: '3', deduplicated: true });
    handler = () => ({
      status: 200,
      json: { jobs: [job({ id: '3', deduplicated: true }), job({ id: '4' })] },
    });
    const both = await Promise.all([
      client.submit({ type: 'shell', unique: { key: 'nightly' } }),
      client.submit({ type: 'shell' }),
    ]);
    expect(both.map((j) => [j.id, j.deduplicated ?? false])).toEqual([
      ['3', true],
      ['4', false],
    ]);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/jobs', '/api/v1/jobs/batch']);
  });

  it('the job actions use their routes, methods and bodies', async () => {
    handler = () => ({ json: job({ id: '12' }) });
    const client = new Client({ url: base });
    await client.hold('12', 'disk full');
    await client.hold('12');
    await client.release('12');
    await client.retry('12');
    await client.runNow('12');
    expect((await client.delete('12')).id).toBe('12');
    await client.update('12', { priority: 5, queue: 'emails' });
    expect(seen.map((s) => [`${s.method} ${s.url}`, s.body])).toEqual([
      ['POST /api/v1/jobs/12/hold', { reason: 'disk full' }],
      ['POST /api/v1/jobs/12/hold', {}],
      ['POST /api/v1/jobs/12/release', undefined],
      ['POST /api/v1/jobs/12/retry', undefined],
      ['POST /api/v1/jobs/12/run-now', undefined],
      ['DELETE /api/v1/jobs/12', undefined],
      ['PATCH /api/v1/jobs/12', { priority: 5, queue: 'emails' }],
    ]);
  });

  it('act POSTs the action request and gives back the counts', async () => {
    handler = () => ({ json: { matched: 4, changed: 3, dryRun: true } });
    const request = {
      action: 'retry',
      filter: { state: 'failed', queue: 'emails' },
      dryRun: true,
    } as const;
    expect(await new Client({ url: base }).act(request)).toEqual({
      matched: 4,
      changed: 3,
      dryRun: true,
    });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/jobs/actions', body: request });
  });

  it('failedGroups passes by and limit, and freeze and unfreeze POST to theirs', async () => {
    handler = (req) => {
      if (req.url.startsWith('/api/v1/failed/groups'))
        return { json: { by: 'queue', total: 0, groups: [] } };
      return { json: { frozen: req.url === '/api/v1/freeze' } };
    };
    const client = new Client({ url: base });
    expect(await client.failedGroups('queue', 5)).toEqual({ by: 'queue', total: 0, groups: [] });
    await client.failedGroups();
    expect(await client.freeze()).toEqual({ frozen: true });
    expect(await client.unfreeze()).toEqual({ frozen: false });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /api/v1/failed/groups?by=queue&limit=5',
      'GET /api/v1/failed/groups',
      'POST /api/v1/freeze',
      'POST /api/v1/unfreeze',
    ]);
  });

  it('list passes its filters as the query string', async () => {
    handler = () => ({ json: { jobs: [], nextCursor: null } });
    await new Client({ url: base }).list({
      state: 'queued,running',
      queue: 'q',
      type: 't',
      worker: 'w',
      limit: 5,
      cursor: '9',
      order: 'asc',
    });
    expect(seen[0]?.url).toBe(
      '/api/v1/jobs?state=queued%2Crunning&queue=q&type=t&worker=w&limit=5&cursor=9&order=asc',
    );
    await new Client({ url: base }).list({
      group: '0123456789ab',
      search: 'disk full',
      attr: 'host=a',
      createdAfter: '2024-01-01T00:00:00.000Z',
      finishedBefore: '2024-01-02T00:00:00.000Z',
    });
    expect(seen[1]?.url).toBe(
      '/api/v1/jobs?group=0123456789ab&search=disk+full&attr=host%3Da' +
        '&createdAfter=2024-01-01T00%3A00%3A00.000Z&finishedBefore=2024-01-02T00%3A00%3A00.000Z',
    );
  });

  it('listAll follows the cursor through every page', async () => {
    handler = (req) => {
      const cursor = new URL(req.url, base).searchParams.get('cursor');
      if (cursor === null)
        return { json: { jobs: [job({ id: '3' }), job({ id: '2' })], nextCursor: '2' } };
      if (cursor === '2') return { json: { jobs: [job({ id: '1' })], nextCursor: '1' } };
      return { json: { jobs: [], nextCursor: null } };
    };
    const ids: string[] = [];
    for await (const j of new Client({ url: base }).listAll({ queue: 'q', limit: 2 }))
      ids.push(j.id);
    expect(ids).toEqual(['3', '2', '1']);
    expect(seen.map((s) => s.url)).toEqual([
      '/api/v1/jobs?queue=q&limit=2',
      '/api/v1/jobs?queue=q&limit=2&cursor=2',
      '/api/v1/jobs?queue=q&limit=2&cursor=1',
    ]);
  });
});

describe('Client errors', () => {
  it('turn a JSON error body into a SwitchyardError with its code, message and details', async () => {
    handler = () => ({
      status: 400,
      json: {
        error: {
          code: 'invalid_request',
          message: 'priority: too big',
          details: { field: 'priority' },
        },
      },
    });
    const err = await new Client({ url: base }).submit({ type: 'shell' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(err).toMatchObject({
      code: 'invalid_request',
      message: 'priority: too big',
      details: { field: 'priority' },
    });
  });

  it.each([
    [404, 'not_found'],
    [409, 'conflict'],
    [401, 'unauthorized'],
    [503, 'unavailable'],
  ] as const)('keep the code of a %i error', async (status, code) => {
    handler = () => ({ status, json: { error: { code, message: 'nope' } } });
    await expect(new Client({ url: base }).get('1')).rejects.toMatchObject({
      code,
      message: 'nope',
    });
  });

  it('fall back to the HTTP status when the body is not a Switchyard error', async () => {
    handler = () => ({ status: 502, text: '<html>Bad Gateway</html>' });
    await expect(new Client({ url: base }).get('1')).rejects.toMatchObject({
      code: 'unavailable',
      message: `GET ${base}/api/v1/jobs/1 failed with HTTP 502`,
    });
    handler = () => ({ status: 418, json: { error: { code: 'teapot', message: 'x' } } });
    await expect(new Client({ url: base }).get('1')).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });

  it('report a success body that is not JSON as internal', async () => {
    handler = () => ({ status: 200, text: 'hello' });
    await expect(new Client({ url: base }).stats()).rejects.toMatchObject({ code: 'internal' });
  });

  it('turn a refused connection into unavailable, naming the URL', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const err = await new Client({ url }).stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(err).toMatchObject({ code: 'unavailable' });
    expect((err as Error).message).toMatch(
      new RegExp(`^cannot reach the broker at ${url}: connect ECONNREFUSED`),
    );
  });
});

describe('Client.wait', () => {
  it('polls until the job is terminal, reporting each change once', async () => {
    const states: Partial<JobBody>[] = [
      { state: 'queued' },
      { state: 'queued' },
      { state: 'running', attempt: 1 },
      {
        state: 'running',
        attempt: 1,
        progress: { percent: 40, message: 'compiling', at: '2024-01-01T00:00:01.000Z' },
      },
      {
        state: 'running',
        attempt: 1,
        progress: { percent: 40, message: 'compiling', at: '2024-01-01T00:00:02.000Z' },
      },
      { state: 'succeeded', attempt: 1, result: { exitCode: 0 } },
    ];
    let n = 0;
    // A broker without the event stream: wait falls back to polling.
    handler = (req) =>
      req.url.startsWith('/api/v1/events')
        ? { status: 404, json: { error: { code: 'not_found', message: 'no such route' } } }
        : { json: job({ id: '5', ...states[Math.min(n++, states.length - 1)] }) };
    const updates: string[] = [];
    const done = await new Client({ url: base }).wait('5', {
      intervalMs: 1,
      onUpdate: (j) => updates.push(`${j.state}/${j.attempt}/${j.progress?.percent ?? '-'}`),
    });
    expect(done.state).toBe('succeeded');
    expect(updates).toEqual(['queued/0/-', 'running/1/-', 'running/1/40', 'succeeded/1/-']);
    expect(seen.map((s) => s.url)).toEqual([
      '/api/v1/events?job=5',
      ...Array<string>(6).fill('/api/v1/jobs/5'),
    ]);
  });

  it.each(['failed', 'canceled'] as const)('resolves with a %s job', async (state) => {
    handler = () => ({ json: job({ state }) });
    expect((await new Client({ url: base }).wait('1', { intervalMs: 1 })).state).toBe(state);
  });

  it('gives up after timeoutMs with the job as last seen', async () => {
    handler = () => ({ json: job({ state: 'running' }) });
    const err = await new Client({ url: base })
      .wait('1', { intervalMs: 5, timeoutMs: 30 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as WaitTimeoutError).job.state).toBe('running');
  });

  it('stops when its signal aborts', async () => {
    handler = () => ({ json: job({ state: 'running' }) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(
      new Client({ url: base }).wait('1', { intervalMs: 5, signal: controller.signal }),
    ).rejects.toThrow('stop');
  });

  it('passes errors of the job lookup through', async () => {
    handler = () => ({
      status: 404,
      json: { error: { code: 'not_found', message: 'job 9 does not exist' } },
    });
    await expect(new Client({ url: base }).wait('9')).rejects.toMatchObject({ code: 'not_found' });
  });
});
