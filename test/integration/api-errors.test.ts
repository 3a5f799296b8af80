/**
 * Bad input on every route gets a 4xx with `{error:{code,message}}` naming what is wrong; never a
 * 500. Real HTTP against an in-process broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let tb: TestBroker;
let base: string;

beforeAll(async () => {
  tb = await startTestBroker({ bodyLimit: 64 * 1024 });
  base = tb.broker.clientsUrl;
});
afterAll(async () => tb.close());

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let json: { error?: { code: string; message: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json, headers: res.headers };
}

function expectError(
  r: { status: number; json: { error?: { code: string; message: string } } },
  status: number,
  code: string,
  mention?: string | RegExp,
) {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(r.json.error?.code).toBe(code);
  expect(typeof r.json.error?.message).toBe('string');
  if (mention !== undefined) expect(r.json.error?.message).toMatch(mention);
}

describe('POST /api/v1/jobs', () => {
  it('accepts a minimal shell job with 201 and its id and state', async () => {
    const r = await call('POST', '/api/v1/jobs', { type: 'shell', payload: { command: 'true' } });
    expect(r.status).toBe(201);
    expect(r.json.id).toMatch(/^\d+$/);
    expect(r.json.state).toBe('queued');
  });

  const cases: Array<[string, unknown, string | RegExp]> = [
    ['a missing type', { payload: {} }, /body\.type: is required/],
    ['an unknown field', { type: 'x', priorty: 3 }, /unknown field "priorty"/],
    ['a priority that is not an integer', { type: 'x', priority: 1.5 }, /body\.priority/],
    ['a priority given as a string', { type: 'x', priority: '5' }, /body\.priority/],
    ['maxAttempts of 0', { type: 'x', maxAttempts: 0 }, /body\.maxAttempts/],
    ['a negative timeout', { type: 'x', timeout: -1 }, /body\.timeout/],
    ['an unknown kill signal', { type: 'x', killSignal: 'SIGFOO' }, /body\.killSignal/],
    [
      'a requirement that is not a string',
      { type: 'x', requires: { env: 3 } },
      /body\.requires\.env/,
    ],
    [
      'threads that is not a whole number',
      { type: 'x', requires: { threads: 'four' } },
      /requires\.threads/,
    ],
    [
      'an empty hwgroup alternative',
      { type: 'x', requires: { hwgroup: 'a|' } },
      /requires\.hwgroup/,
    ],
    ['a shell job without command', { type: 'shell', payload: {} }, /payload\.command/],
    [
      'a shell command that is a number',
      { type: 'shell', payload: { command: 5 } },
      /payload\.command/,
    ],
    [
      'a shell argv with a non-string',
      { type: 'shell', payload: { command: ['ls', 3] } },
      /payload\.command\[1\]/,
    ],
    [
      'a shell env value that is not a string',
      { type: 'shell', payload: { command: 'true', env: { A: 1 } } },
      /payload\.env\.A/,
    ],
    ['a runAt that is not a date', { type: 'x', runAt: 'tomorrow' }, /body\.runAt/],
    ['a queue name with spaces', { type: 'x', queue: 'a b' }, /body\.queue/],
    ['a body that is an array', [{ type: 'x' }], /body/],
  ];
  for (const [what, body, mention] of cases) {
    it(`refuses ${what} with 400 naming the field`, async () => {
      expectError(await call('POST', '/api/v1/jobs', body), 400, 'invalid_request', mention);
    });
  }

  it('refuses malformed JSON with 400', async () => {
    expectError(
      await call('POST', '/api/v1/jobs', '{"type": "x",'),
      400,
      'invalid_request',
      /JSON/,
    );
  });

  it('refuses an empty body with 400', async () => {
    expectError(await call('POST', '/api/v1/jobs', ''), 400, 'invalid_request', /body/);
  });

  it('refuses a body that is not JSON with 415', async () => {
    expectError(
      await call('POST', '/api/v1/jobs', 'type=x', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      415,
      'unsupported_media_type',
    );
  });

  it('refuses an oversized body with 413', async () => {
    const big = { type: 'shell', payload: { command: 'true', stdin: 'x'.repeat(100 * 1024) } };
    expectError(await call('POST', '/api/v1/jobs', big), 413, 'payload_too_large');
  });
});

describe('deeply nested JSON', () => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
  it('refuses a payload or meta nested beyond 64 levels with a 400 naming where', async () => {
    expectError(
      await call('POST', '/api/v1/jobs', `{"type":"t","payload":${nest(5_000)}}`),
      400,
      'invalid_request',
      /^body\.payload(\[0\])+\.*: nested deeper than 64 levels$/,
    );
    expectError(
      await call('POST', '/api/v1/jobs', `{"type":"t","meta":{"m":${nest(100)}}}`),
      400,
      'invalid_request',
      /^body\.meta\.m(\[0\])+.*: nested deeper than 64 levels$/,
    );
    expectError(
      await call('POST', '/api/v1/jobs/batch', `{"jobs":[{"type":"t","payload":${nest(5_000)}}]}`),
      400,
      'invalid_request',
      /^body\.jobs\[0\]\.payload/,
    );
  });
  it('accepts nesting up to the limit, stored and answered as sent', async () => {
    const payload = JSON.parse(nest(60)) as unknown;
    const r = await call('POST', '/api/v1/jobs', { type: 'nested', payload });
    expect(r.status).toBe(201);
    const job = await call('GET', `/api/v1/jobs/${String(r.json.id)}`);
    expect(job.json.payload).toEqual(payload);
  });
});

describe('POST /api/v1/jobs/batch', () => {
  it('accepts several jobs in one call', async () => {
    const r = await call('POST', '/api/v1/jobs/batch', {
      jobs: [{ type: 'a' }, { type: 'b', payload: [1, 'two'], priority: 3, timeout: 1.5 }],
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const jobs = r.json.jobs as Array<Record<string, unknown>>;
    expect(jobs.map((j) => [j.type, j.payload, j.priority, j.timeout])).toEqual([
      ['a', {}, 0, null],
      ['b', [1, 'two'], 3, 1.5],
    ]);
    // Each answer is the job as it reads back (which adds why it waits, when it should start,
    // and its links): nothing ran it.
    for (const job of jobs) {
      const { reason, eta, dependencies, dependents, ...got } = (
        await call('GET', `/api/v1/jobs/${String(job.id)}`)
      ).json;
      expect(reason).toMatch(/^no worker matches/);
      // No start yet in its queue: no estimate.
      expect(eta).toEqual({ at: null, ahead: 0, rate: 0 });
      expect([dependencies, dependents]).toEqual([[], []]);
      expect(got).toEqual(job);
    }
  });
  it('refuses an empty list', async () => {
    expectError(
      await call('POST', '/api/v1/jobs/batch', { jobs: [] }),
      400,
      'invalid_request',
      /body\.jobs/,
    );
  });
  it('names the index of the bad job', async () => {
    expectError(
      await call('POST', '/api/v1/jobs/batch', {
        jobs: [{ type: 'a' }, { type: 'shell', payload: {} }],
      }),
      400,
      'invalid_request',
      /jobs\[1\]\.payload\.command/,
    );
  });
  it('names the index of a job that fails the schema', async () => {
    expectError(
      await call('POST', '/api/v1/jobs/batch', { jobs: [{ type: 'a' }, { typo: 1 }] }),
      400,
      'invalid_request',
      /body\.jobs\[1\]/,
    );
  });
  it('stores nothing when one job of the batch is bad', async () => {
    const before = await call('GET', '/api/v1/jobs?type=batchcheck');
    await call('POST', '/api/v1/jobs/batch', {
      jobs: [{ type: 'batchcheck' }, { type: 'shell', payload: {} }],
    });
    const after = await call('GET', '/api/v1/jobs?type=batchcheck');
    expect((after.json.jobs as unknown[]).length).toBe((before.json.jobs as unknown[]).length);
  });
});

describe('GET and POST on one job', () => {
  it('answers 404 for an unknown id', async () => {
    expectError(await call('GET', '/api/v1/jobs/999999'), 404, 'not_found', /999999/);
    expectError(await call('GET', '/api/v1/jobs/999999/logs'), 404, 'not_found', /999999/);
    expectError(await call('POST', '/api/v1/jobs/999999/cancel'), 404, 'not_found', /999999/);
  });
  it('answers 400 for an id that is not a number', async () => {
    expectError(await call('GET', '/api/v1/jobs/abc'), 400, 'invalid_request', /params\.id/);
    expectError(
      await call('POST', '/api/v1/jobs/abc/cancel'),
      400,
      'invalid_request',
      /params\.id/,
    );
    expectError(await call('GET', '/api/v1/jobs/abc/logs'), 400, 'invalid_request', /params\.id/);
  });
  it('refuses ids beyond the integers held exactly, rather than rounding them to another', async () => {
    for (const id of ['999999999999999999', '9007199254740992', '0', '007']) {
      expectError(
        await call('GET', `/api/v1/jobs/${id}`),
        400,
        'invalid_request',
        /params\.id: job id: must be an id from 1 to 9007199254740991/,
      );
    }
    expectError(await call('GET', '/api/v1/jobs/9007199254740991'), 404, 'not_found');
    expectError(
      await call('GET', '/api/v1/jobs?cursor=99999999999999999999'),
      400,
      'invalid_request',
      /querystring\.cursor/,
    );
    expectError(
      await call('GET', '/api/v1/events?job=9007199254740993'),
      400,
      'invalid_request',
      /querystring\.job/,
    );
  });
  it('answers 400 for bad log paging', async () => {
    const r = await call('POST', '/api/v1/jobs', { type: 'x' });
    expectError(
      await call('GET', `/api/v1/jobs/${String(r.json.id)}/logs?after=-1`),
      400,
      'invalid_request',
      /querystring\.after/,
    );
    expectError(
      await call('GET', `/api/v1/jobs/${String(r.json.id)}/logs?limit=0`),
      400,
      'invalid_request',
      /querystring\.limit/,
    );
  });
  it('cancels a queued job, then answers 409 naming its state', async () => {
    const r = await call('POST', '/api/v1/jobs', { type: 'nobody-runs-this' });
    const c = await call('POST', `/api/v1/jobs/${String(r.json.id)}/cancel`);
    expect(c.status).toBe(200);
    expect(c.json.state).toBe('canceled');
    expectError(
      await call('POST', `/api/v1/jobs/${String(r.json.id)}/cancel`),
      409,
      'conflict',
      /canceled/,
    );
  });
  it('accepts a cancel sent with a JSON content type and no body', async () => {
    const r = await call('POST', '/api/v1/jobs', { type: 'nobody-runs-this' });
    const res = await fetch(`${base}/api/v1/jobs/${String(r.json.id)}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
  });
});

describe('GET /api/v1/jobs', () => {
  it('refuses an unknown state', async () => {
    expectError(
      await call('GET', '/api/v1/jobs?state=finished'),
      400,
      'invalid_request',
      /querystring\.state/,
    );
  });
  it('refuses a limit out of range and a bad cursor', async () => {
    expectError(
      await call('GET', '/api/v1/jobs?limit=100000'),
      400,
      'invalid_request',
      /querystring\.limit/,
    );
    expectError(
      await call('GET', '/api/v1/jobs?cursor=x'),
      400,
      'invalid_request',
      /querystring\.cursor/,
    );
    expectError(
      await call('GET', '/api/v1/jobs?order=up'),
      400,
      'invalid_request',
      /querystring\.order/,
    );
  });
  it('refuses an unknown query parameter', async () => {
    expectError(await call('GET', '/api/v1/jobs?colour=red'), 400, 'invalid_request', /colour/);
  });
});

describe('everything else', () => {
  it('answers 404 with the error shape for an unknown route', async () => {
    expectError(await call('GET', '/api/v1/nothing'), 404, 'not_found', /GET \/api\/v1\/nothing/);
    expectError(await call('DELETE', '/api/v1/jobs'), 404, 'not_found');
  });
  it('serves health, stats, workers and the OpenAPI document', async () => {
    expect((await call('GET', '/healthz')).json.status).toBe('ok');
    const stats = await call('GET', '/api/v1/stats');
    expect(stats.status).toBe(200);
    expect(stats.json.jobs).toHaveProperty('queued');
    expect((await call('GET', '/api/v1/workers')).json.workers).toEqual([]);
    const doc = await call('GET', '/api/v1/openapi.json');
    expect(doc.json.openapi).toBe('3.0.3');
    const paths = Object.keys(doc.json.paths as object);
    for (const p of [
      '/api/v1/jobs',
      '/api/v1/jobs/batch',
      '/api/v1/jobs/{id}',
      '/api/v1/jobs/{id}/logs',
      '/api/v1/jobs/{id}/cancel',
      '/api/v1/workers',
      '/api/v1/stats',
      '/healthz',
    ]) {
      expect(paths).toContain(p);
    }
  });
});
