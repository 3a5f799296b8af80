import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { planAction, type ActionSpec } from '../../../src/cli/action-commands.js';
import type { CliContext, Input } from '../../../src/cli/context.js';
import { UsageError } from '../../../src/cli/errors.js';
import { run } from '../../../src/cli/run.js';
import type { FailedGroups, JobBody } from '../../../src/protocol/api.js';
import { jobBody } from '../../helpers/fixtures.js';

const NOW = Date.parse('2024-01-01T00:00:10.000Z');

/** A stand-in broker over real sockets, answering from `routes`, keeping every request. */
type Reply = { status?: number; json: unknown };
let routes: (method: string, url: URL, body: unknown) => Reply = () => ({
  status: 404,
  json: { error: { code: 'not_found', message: 'no route' } },
});
const requests: { method: string; url: string; body: unknown }[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = raw === '' ? undefined : (JSON.parse(raw) as unknown);
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      const reply = routes(req.method ?? '', new URL(req.url ?? '/', url), body);
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.json));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(() => {
  requests.length = 0;
});

function context(stdin?: Input): CliContext & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    env: { SWITCHYARD_URL: url },
    ...(stdin === undefined ? {} : { stdin }),
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    now: () => NOW,
    onStopSignal: () => () => undefined,
    out: () => out,
    err: () => err,
  };
}

/** A terminal on stdin that answers `answer` to the first question. */
function terminal(answer: string | null): Input {
  return { isTTY: true, readLine: () => Promise.resolve(answer) };
}

const job = (patch: Partial<JobBody> = {}): JobBody => jobBody({ id: '5', ...patch });

describe('planAction', () => {
  const retry: ActionSpec = { action: 'retry' };

  it('sends one id to the job route', () => {
    expect(planAction(retry, ['7'], {}, NOW)).toEqual({ kind: 'one', id: '7' });
    expect(planAction(retry, ['7', '7'], {}, NOW)).toEqual({ kind: 'one', id: '7' });
  });

  it('sends several ids, or one in a dry run, as ids to the actions route', () => {
    expect(planAction(retry, ['7', '8', '7'], {}, NOW)).toEqual({
      kind: 'many',
      request: { action: 'retry', ids: ['7', '8'] },
    });
    expect(planAction(retry, ['7'], { dryRun: true }, NOW)).toEqual({
      kind: 'many',
      request: { action: 'retry', ids: ['7'], dryRun: true },
    });
  });

  it('sends filter flags as the filter, with what the action needs', () => {
    expect(
      planAction(
        { action: 'move', queue: 'slow' },
        [],
        { state: 'queued', createdBefore: '10s' },
        NOW,
      ),
    ).toEqual({
      kind: 'many',
      request: {
        action: 'move',
        queue: 'slow',
        filter: { state: 'queued', createdBefore: '2024-01-01T00:00:00.000Z' },
      },
    });
    expect(
      planAction({ action: 'hold', reason: 'r' }, [], { queue: 'q', dryRun: true }, NOW),
    ).toEqual({
      kind: 'many',
      request: { action: 'hold', reason: 'r', filter: { queue: 'q' }, dryRun: true },
    });
  });

  it.each([
    [[], {}, /^retry: which jobs\? .*only cleanslate acts on every job$/],
    [[], { dryRun: true }, /^retry: which jobs\?/],
    [['7'], { queue: 'q' }, /^retry: give job ids or filter options, not both$/],
    [['7', 'x'], {}, /^job id: "x" is not a job id: must be an id from 1 to /],
    [['0'], {}, /^job id: "0" is not a job id/],
  ] as const)('refuses ids %j with flags %j', (ids, flags, message) => {
    expect(() => planAction(retry, ids, flags, NOW)).toThrow(UsageError);
    expect(() => planAction(retry, ids, flags, NOW)).toThrow(message);
  });
});

describe('the action verbs', () => {
  it.each([
    [['hold', '5', '--reason', 'disk full'], 'POST /api/v1/jobs/5/hold', { reason: 'disk full' }],
    [['hold', '5'], 'POST /api/v1/jobs/5/hold', {}],
    [['release', '5'], 'POST /api/v1/jobs/5/release', undefined],
    [['retry', '5'], 'POST /api/v1/jobs/5/retry', undefined],
    [['run-now', '5'], 'POST /api/v1/jobs/5/run-now', undefined],
    [['cancel', '5'], 'POST /api/v1/jobs/5/cancel', undefined],
    [['priority', '7', '5'], 'PATCH /api/v1/jobs/5', { priority: 7 }],
    [['priority', '-3', '5'], 'PATCH /api/v1/jobs/5', { priority: -3 }],
    [['move', 'slow', '5'], 'PATCH /api/v1/jobs/5', { queue: 'slow' }],
  ])('%j with one id calls the job route and prints its state', async (argv, route, body) => {
    routes = () => ({ json: job({ state: 'held' }) });
    const ctx = context();
    expect(await run(argv, ctx)).toBe(0);
    expect(requests.map((r) => [`${r.method} ${r.url}`, r.body])).toEqual([[route, body]]);
    expect(ctx.out()).toBe('job 5: held\n');
  });

  it('delete with one id says the job is deleted', async () => {
    routes = () => ({ json: job() });
    const ctx = context();
    expect(await run(['delete', '5'], ctx)).toBe(0);
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual(['DELETE /api/v1/jobs/5']);
    expect(ctx.out()).toBe('job 5: deleted\n');
  });

  it('with several ids POSTs them to /jobs/actions and prints the counts', async () => {
    routes = () => ({ json: { matched: 3, changed: 2, dryRun: false } });
    const ctx = context();
    expect(await run(['retry', '4', '5', '6'], ctx)).toBe(0);
    expect(requests).toEqual([
      {
        method: 'POST',
        url: '/api/v1/jobs/actions',
        body: { action: 'retry', ids: ['4', '5', '6'] },
      },
    ]);
    expect(ctx.out()).toBe('matched 3, changed 2\n');
  });

  it('with filter flags POSTs the filter, and a dry run says what it would change', async () => {
    routes = () => ({ json: { matched: 4, changed: 3, dryRun: true } });
    const ctx = context();
    expect(await run(['retry', '--state', 'failed', '--queue', 'emails', '--dry-run'], ctx)).toBe(
      0,
    );
    expect(requests).toEqual([
      {
        method: 'POST',
        url: '/api/v1/jobs/actions',
        body: { action: 'retry', filter: { state: 'failed', queue: 'emails' }, dryRun: true },
      },
    ]);
    expect(ctx.out()).toBe('matched 4, would change 3 (dry run)\n');
  });

  it('priority with filter flags sends the priority and the filter', async () => {
    routes = () => ({ json: { matched: 1, changed: 1, dryRun: false } });
    const ctx = context();
    expect(await run(['priority', '10', '--type', 'render', '--group', 'abcdef012345'], ctx)).toBe(
      0,
    );
    expect(requests[0]?.body).toEqual({
      action: 'priority',
      priority: 10,
      filter: { type: 'render', group: 'abcdef012345' },
    });
  });

  it.each([
    [['retry'], /^switchyard: retry: which jobs\?/],
    [['delete'], /^switchyard: delete: which jobs\?/],
    [['cancel', '--dry-run'], /^switchyard: cancel: which jobs\?/],
    [['priority', '5'], /^switchyard: priority: which jobs\?/],
    [['move', 'slow'], /^switchyard: move: which jobs\?/],
    [['hold', '5', '--state', 'queued'], /^switchyard: hold: give job ids or filter options/],
    [['priority', 'high', '5'], /^switchyard: priority: must be an integer from -1000000 to /],
    [['hold', '5', '--reason', ' '], /^switchyard: --reason: must not be empty/],
    [['retry', '--state', 'broken'], /^switchyard: --state: "broken" is not a job state/],
  ])('%j exits 2 without sending anything', async (argv, message) => {
    const ctx = context();
    expect(await run(argv, ctx)).toBe(2);
    expect(ctx.err()).toMatch(message);
    expect(requests).toHaveLength(0);
  });

  it('a state that does not allow the action exits 6 with the broker message', async () => {
    routes = () => ({
      status: 409,
      json: { error: { code: 'conflict', message: 'job 5 is succeeded: it cannot be held' } },
    });
    const ctx = context();
    expect(await run(['hold', '5'], ctx)).toBe(6);
    expect(ctx.err()).toBe('switchyard: job 5 is succeeded: it cannot be held\n');
  });
});

describe('cleanslate', () => {
  it.each([
    ['no stdin', undefined],
    ['a stdin that is not a terminal', { isTTY: false, readLine: () => Promise.resolve('yes') }],
  ])('refuses with %s and no --yes, sending nothing', async (_, stdin) => {
    const ctx = context(stdin);
    expect(await run(['cleanslate'], ctx)).toBe(2);
    expect(ctx.err()).toBe(
      'switchyard: cleanslate erases every job: without a terminal to confirm it on, add --yes\n',
    );
    expect(requests).toHaveLength(0);
  });

  it('with --yes deletes every job and says how many', async () => {
    routes = () => ({ json: { matched: 12, changed: 12, dryRun: false } });
    const ctx = context();
    expect(await run(['cleanslate', '--yes'], ctx)).toBe(0);
    expect(requests.map((r) => r.body)).toEqual([{ action: 'delete', filter: {} }]);
    expect(ctx.out()).toBe('erased 12 jobs\n');
  });

  it('on a terminal asks, and erases when the answer is yes', async () => {
    routes = (_m, _u, body) => {
      const dryRun = (body as { dryRun?: boolean }).dryRun === true;
      return { json: { matched: 3, changed: dryRun ? 3 : 2, dryRun } };
    };
    const ctx = context(terminal('yes'));
    expect(await run(['cleanslate'], ctx)).toBe(0);
    expect(ctx.err()).toBe(
      `This erases every job of the broker at ${url} (now 3 jobs),\n` +
        'with their attempts and output. It cannot be undone. Type yes to erase them: ',
    );
    expect(requests.map((r) => r.body)).toEqual([
      { action: 'delete', filter: {}, dryRun: true },
      { action: 'delete', filter: {} },
    ]);
    expect(ctx.out()).toBe('erased 2 jobs\n');
  });

  it.each(['no', 'y', null])(
    'on a terminal erases nothing when the answer is %j',
    async (answer) => {
      routes = () => ({ json: { matched: 3, changed: 3, dryRun: true } });
      const ctx = context(terminal(answer));
      expect(await run(['cleanslate'], ctx)).toBe(2);
      expect(ctx.err()).toMatch(
        answer === null
          ? /them: \nswitchyard: not confirmed: nothing was erased\n$/
          : /them: switchyard: not confirmed: nothing was erased\n$/,
      );
      expect(requests.map((r) => r.body)).toEqual([{ action: 'delete', filter: {}, dryRun: true }]);
      expect(ctx.out()).toBe('');
    },
  );

  it('--dry-run counts without asking', async () => {
    routes = () => ({ json: { matched: 1, changed: 1, dryRun: true } });
    const ctx = context();
    expect(await run(['cleanslate', '--dry-run'], ctx)).toBe(0);
    expect(requests.map((r) => r.body)).toEqual([{ action: 'delete', filter: {}, dryRun: true }]);
    expect(ctx.out()).toBe('would erase 1 job (dry run)\n');
  });
});

describe('failed', () => {
  const groups: FailedGroups = {
    by: 'queue',
    total: 5,
    groups: [
      {
        key: 'emails',
        label: 'emails',
        count: 4,
        newest: job({
          id: '41',
          state: 'failed',
          finishedAt: '2024-01-01T00:00:05.000Z',
          error: { code: 'exit_code', message: 'exited with 1' },
        }),
      },
      {
        key: 'default',
        label: 'default',
        count: 1,
        newest: job({ id: '7', state: 'failed', finishedAt: '2024-01-01T00:00:00.000Z' }),
      },
    ],
  };

  it('prints the groups as a table with the total', async () => {
    routes = () => ({ json: groups });
    const ctx = context();
    expect(await run(['failed', '--by', 'queue', '--limit', '2'], ctx)).toBe(0);
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v1/failed/groups?by=queue&limit=2',
    ]);
    expect(ctx.out()).toBe(
      'COUNT  QUEUE    NEWEST  AGE  ERROR\n' +
        '4      emails   41      5s   exited with 1\n' +
        '1      default  7       10s  -\n' +
        '5 failed jobs in all\n',
    );
  });

  it('--json prints the answer', async () => {
    routes = () => ({ json: groups });
    const ctx = context();
    expect(await run(['failed', '--json'], ctx)).toBe(0);
    expect(requests[0]?.url).toBe('/api/v1/failed/groups');
    expect(JSON.parse(ctx.out())).toEqual(groups);
  });

  it('refuses a grouping it does not know', async () => {
    const ctx = context();
    expect(await run(['failed', '--by', 'host'], ctx)).toBe(2);
    expect(ctx.err()).toBe('switchyard: --by: must be one of queue, type, error, got "host"\n');
    expect(requests).toHaveLength(0);
  });
});

describe('freeze and unfreeze', () => {
  it('POST to their routes and say what the broker now does', async () => {
    routes = (_m, u) => ({ json: { frozen: u.pathname.endsWith('/freeze') } });
    let ctx = context();
    expect(await run(['freeze'], ctx)).toBe(0);
    expect(ctx.out()).toBe('frozen: the broker refuses submissions until switchyard unfreeze\n');
    ctx = context();
    expect(await run(['unfreeze'], ctx)).toBe(0);
    expect(ctx.out()).toBe('not frozen: the broker accepts submissions\n');
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /api/v1/freeze',
      'POST /api/v1/unfreeze',
    ]);
  });
});
