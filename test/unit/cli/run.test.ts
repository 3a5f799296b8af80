import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CliContext } from '../../../src/cli/context.js';
import { buildProgram } from '../../../src/cli/program.js';
import { run } from '../../../src/cli/run.js';
import { WebSocketServer } from 'ws';
import { droppedLine, type JobBody, type JobMessageBody } from '../../../src/protocol/api.js';
import { jobBody } from '../../helpers/fixtures.js';

/** A stand-in broker over real sockets, answering from `routes`. */
type Reply = { status?: number; json: unknown };
let routes: (method: string, url: URL, req: IncomingMessage) => Reply = () => ({
  status: 404,
  json: { error: { code: 'not_found', message: 'no route' } },
});
const requests: { method: string; url: string; auth: string | undefined; body: unknown }[] = [];
let server: Server;
let url: string;
/** What the stand-in's monitor sends a subscriber (then it closes, as after a job's end). */
let monitor: (url: URL) => JobMessageBody[] = () => [];
const monitorUrls: string[] = [];

let seq = 0;
const message = (
  id: string,
  kind: JobMessageBody['kind'],
  data: Record<string, unknown>,
): JobMessageBody =>
  ({
    seq: String(++seq),
    job: id,
    at: '2024-01-01T00:00:00.000Z',
    attempt: 1,
    kind,
    data,
  }) as never;
const moved = (id: string, from: string | null, to: string, extra: object = {}) =>
  message(id, 'state', {
    from,
    to,
    workerId: to === 'running' ? 'w' : null,
    error: null,
    ...extra,
  });
const output = (id: string, text: string, stream = 'stdout') =>
  message(id, 'log', { stream, text });

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        auth: req.headers.authorization,
        body: raw === '' ? undefined : (JSON.parse(raw) as unknown),
      });
      const reply = routes(req.method ?? '', new URL(req.url ?? '/', url), req);
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.json));
    });
  });
  const sockets = new WebSocketServer({ server });
  sockets.on('connection', (socket, req) => {
    monitorUrls.push(req.url ?? '');
    for (const m of monitor(new URL(req.url ?? '/', url))) socket.send(JSON.stringify(m));
    socket.close(1000, 'job ended');
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
  monitorUrls.length = 0;
  monitor = () => [];
});

function context(
  env: NodeJS.ProcessEnv = {},
): CliContext & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    env: { SWITCHYARD_URL: url, ...env },
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    now: () => Date.parse('2024-01-01T00:00:10.000Z'),
    onStopSignal: () => () => undefined,
    out: () => out,
    err: () => err,
  };
}

const job = (patch: Partial<JobBody> = {}): JobBody => jobBody({ ...patch });

describe('--help', () => {
  const program = buildProgram(context());
  const commands: Command[] = [program, ...program.commands];

  it.each(commands.map((c) => [c.name(), c]))(
    'of %s lists every option with a description',
    (_, cmd) => {
      const help = (cmd as Command).helpInformation();
      for (const option of (cmd as Command).options) {
        expect(help).toContain(option.flags);
        expect(option.description.length).toBeGreaterThan(5);
      }
      for (const arg of (cmd as Command).registeredArguments)
        expect(arg.description.length).toBeGreaterThan(1);
      // Defaults are written in the descriptions, in one style; commander's own would repeat them.
      expect(help).not.toContain('(default: ');
    },
  );

  it('of client commands documents --url and --token with their variables', () => {
    for (const name of [
      'submit',
      'jobs',
      'job',
      'hold',
      'release',
      'retry',
      'delete',
      'priority',
      'move',
      'run-now',
      'cancel',
      'cleanslate',
      'failed',
      'freeze',
      'unfreeze',
      'workers',
      'stats',
    ]) {
      const help = program.commands.find((c) => c.name() === name)?.helpInformation() ?? '';
      expect(help).toContain('SWITCHYARD_URL');
      expect(help).toContain('SWITCHYARD_TOKEN');
    }
  });

  it('of the root command shows the exit statuses, and exits 0', async () => {
    const ctx = context();
    expect(await run(['--help'], ctx)).toBe(0);
    expect(ctx.out()).toContain('Exit status:');
    expect(ctx.out()).toMatch(/^ {2}4 +the broker cannot be reached/m);
  });

  it('of submit has its examples', async () => {
    const ctx = context();
    expect(await run(['submit', '--help'], ctx)).toBe(0);
    expect(ctx.out()).toContain('Usage: switchyard submit [options] [--] COMMAND...');
    expect(ctx.out()).toContain('switchyard submit -- make -j4');
  });

  it('--version prints the version', async () => {
    const ctx = context();
    expect(await run(['--version'], ctx)).toBe(0);
    expect(ctx.out()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('usage errors', () => {
  it.each([
    [['nosuch'], /^switchyard: unknown command 'nosuch'/],
    [['jobs', '--bogus'], /^switchyard: unknown option '--bogus'/],
    [['job'], /^switchyard: missing required argument 'id'/],
    [['submit'], /^switchyard: missing COMMAND/],
    [['jobs', '--limit', '0'], /^switchyard: --limit: must be an integer from 1 to 1000/],
    [['jobs', '--format', '%s'], /^switchyard: --format takes a format and an attribute name/],
    [['jobs', '--state', 'done'], /^switchyard: --state: "done" is not a job state/],
    [['jobs', '--finished-after', 'later'], /^switchyard: --finished-after: must be a date/],
    [['cancel'], /^switchyard: cancel: which jobs\?/],
    [
      ['worker', '--broker', 'http://x'],
      /^switchyard: --broker: must be a ws:\/\/ or wss:\/\/ URL/,
    ],
    [['worker', '--slots', '0'], /^switchyard: --slots: must be a positive integer/],
    [
      ['worker', '--label', 'nolabel'],
      /^switchyard: --label: label "nolabel" must have the form key=value/,
    ],
    [
      ['broker', '--clients-port', 'abc', '--max-liveness', '0'],
      /^switchyard: clients\.port: .*\nswitchyard: max_liveness: /,
    ],
    [
      ['broker', '--clients-address', '0.0.0.0'],
      /^switchyard: clients\.address: "0\.0\.0\.0" is not a loopback address/,
    ],
  ])('%j exits 2: %s', async (argv, message) => {
    const ctx = context();
    expect(await run(argv, ctx)).toBe(2);
    expect(ctx.err()).toMatch(message);
    expect(requests).toHaveLength(0);
  });
});

describe('client commands', () => {
  it('submit prints the id, sending the token from SWITCHYARD_TOKEN', async () => {
    routes = () => ({ status: 201, json: job({ id: '17' }) });
    const ctx = context({ SWITCHYARD_TOKEN: 'tok' });
    expect(await run(['submit', '--priority', '3', '--', 'echo', 'hi'], ctx)).toBe(0);
    expect(ctx.out()).toBe('17\n');
    expect(requests).toEqual([
      {
        method: 'POST',
        url: '/api/v1/jobs',
        auth: 'Bearer tok',
        body: { type: 'shell', priority: 3, payload: { command: ['echo', 'hi'] } },
      },
    ]);
  });

  it('submit of a duplicate prints the existing id and says so on stderr, exit 0', async () => {
    routes = () => ({
      status: 200,
      json: job({ id: '17', deduplicated: true, unique: { key: 'nightly' } }),
    });
    const ctx = context();
    expect(await run(['submit', '--unique-key', 'nightly', '--', 'true'], ctx)).toBe(0);
    expect(ctx.out()).toBe('17\n');
    expect(ctx.err()).toBe(
      'duplicate of job 17 (unique key "nightly"): no new job was submitted\n',
    );
    expect(requests[0]?.body).toEqual({
      type: 'shell',
      unique: { key: 'nightly' },
      payload: { command: ['true'] },
    });
  });

  it('submit --wait of a duplicate follows the existing job', async () => {
    routes = (method) =>
      method === 'POST'
        ? { status: 200, json: job({ id: '17', deduplicated: true, unique: { key: 'k' } }) }
        : { json: job({ id: '17', state: 'succeeded', result: { exitCode: 0, stdout: 'ok\n' } }) };
    monitor = () => [
      moved('17', 'queued', 'running'),
      output('17', 'ok\n'),
      moved('17', 'running', 'succeeded'),
    ];
    const ctx = context();
    expect(await run(['submit', '--wait', '--unique-key', 'k', '--', 'true'], ctx)).toBe(0);
    expect(monitorUrls).toEqual(['/api/v1/monitor?job=17']);
    expect(ctx.out()).toBe('ok\n');
    expect(ctx.err()).toMatch(
      /^duplicate of job 17 \(unique key "k"\): no new job was submitted\n(?!job 17 submitted)/,
    );
  });

  it('--url and --token override the environment', async () => {
    routes = () => ({ json: { workers: [] } });
    const ctx = context({ SWITCHYARD_URL: 'http://127.0.0.1:1', SWITCHYARD_TOKEN: 'env' });
    expect(await run(['workers', '--json', '--url', url, '--token', 'flag'], ctx)).toBe(0);
    expect(requests[0]?.auth).toBe('Bearer flag');
  });

  it('submit --wait follows the job on the monitor: states on stderr, its output as it comes', async () => {
    routes = (method) =>
      method === 'POST'
        ? { status: 201, json: job({ id: '5' }) }
        : { json: job({ id: '5', state: 'succeeded', attempt: 1 }) };
    monitor = () => [
      moved('5', null, 'queued'),
      moved('5', 'queued', 'running'),
      output('5', 'hello\n::progress 50 half\nby'),
      message('5', 'progress', { percent: 50, message: 'half' }),
      output('5', 'e\n'),
      output('5', 'warn\n', 'stderr'),
      moved('5', 'running', 'succeeded'),
    ];
    const ctx = context();
    expect(await run(['submit', '--wait', 'echo hello'], ctx)).toBe(0);
    expect(ctx.out()).toBe('hello\nbye\n');
    expect(ctx.err()).toBe(
      'job 5 submitted\njob 5: queued\njob 5: running on w (attempt 1)\njob 5: 50% half\n' +
        'warn\njob 5: succeeded\n',
    );
  });

  it('job --follow watches a job to its end, and exits 1 when it failed', async () => {
    routes = () => ({
      json: job({ id: '9', state: 'failed', error: { code: 'exit_code', message: 'exit 2' } }),
    });
    monitor = () => [
      moved('9', 'queued', 'running'),
      message('9', 'progress', {
        percent: null,
        message: null,
        step: { id: 'lint', status: 'failed' },
      }),
      moved('9', 'running', 'failed', { error: { code: 'exit_code', message: 'exit 2' } }),
    ];
    const ctx = context();
    expect(await run(['job', '9', '--follow'], ctx)).toBe(1);
    expect(ctx.err()).toBe(
      'job 9: running on w (attempt 1)\njob 9: step lint failed\njob 9: failed: exit 2\n' +
        'switchyard: job 9 failed: exit 2\n',
    );
  });

  it.each([
    ['failed', 'job 5 failed: exited with 3'],
    ['canceled', 'job 5 was canceled: exited with 3'],
  ] as const)('submit --wait exits 1 when the job ended %s', async (state, message) => {
    routes = (method) =>
      method === 'POST'
        ? { status: 201, json: job({ id: '5' }) }
        : {
            json: job({
              id: '5',
              state,
              error: { code: 'exit_code', message: 'exited with 3' },
              result: { exitCode: 3, stdout: 'out\n', stderr: 'oops\n' },
            }),
          };
    monitor = () => [
      output('5', 'out\n'),
      output('5', 'oops\n', 'stderr'),
      moved('5', 'running', state, { error: { code: 'exit_code', message: 'exited with 3' } }),
    ];
    const ctx = context();
    expect(await run(['submit', '--wait', '--', 'false'], ctx)).toBe(1);
    expect(ctx.out()).toBe('out\n');
    expect(ctx.err()).toBe(
      `job 5 submitted\noops\njob 5: ${state}: exited with 3\nswitchyard: ${message}\n`,
    );
  });

  it('jobs prints a table, JSON lines, or --format lines', async () => {
    routes = () => ({
      json: {
        jobs: [job({ id: '2', attributes: { endpoint: 'h:1' } }), job({ id: '1' })],
        nextCursor: null,
      },
    });
    let ctx = context();
    expect(
      await run(['jobs', '--state', 'queued, running', '--queue', 'q', '--limit', '2'], ctx),
    ).toBe(0);
    expect(requests[0]?.url).toBe('/api/v1/jobs?state=queued%2Crunning&queue=q&limit=2');
    expect(ctx.out().split('\n')[0]).toMatch(
      /^ID +STATE +TYPE +QUEUE +PRI +ATTEMPT +WORKER +AGE +COMMAND$/,
    );
    expect(ctx.out().split('\n')[1]).toMatch(/^2 +queued +shell +default +0 +0\/5 +- +10s +true$/);

    requests.length = 0;
    ctx = context();
    expect(
      await run(
        [
          'jobs',
          '--group',
          '0123456789ab',
          '--search',
          'disk',
          '--attr',
          'host',
          '--created-after',
          '10s',
          '--finished-before',
          '2024-01-01',
        ],
        ctx,
      ),
    ).toBe(0);
    expect(requests[0]?.url).toBe(
      '/api/v1/jobs?group=0123456789ab&search=disk&attr=host' +
        '&createdAfter=2024-01-01T00%3A00%3A00.000Z&finishedBefore=2024-01-01T00%3A00%3A00.000Z',
    );

    ctx = context();
    expect(await run(['jobs', '--json'], ctx)).toBe(0);
    expect(
      ctx
        .out()
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as JobBody).id),
    ).toEqual(['2', '1']);

    ctx = context();
    expect(
      await run(['jobs', '--format', '%-3s', 'id', '--format', '%s\\n', 'endpoint'], ctx),
    ).toBe(0);
    expect(ctx.out()).toBe('2  h:1\n1  ');
  });

  it('jobs --all follows every page', async () => {
    routes = (_m, u) =>
      u.searchParams.get('cursor') === null
        ? { json: { jobs: [job({ id: '3' }), job({ id: '2' })], nextCursor: '2' } }
        : { json: { jobs: [job({ id: '1' })], nextCursor: null } };
    const ctx = context();
    expect(await run(['jobs', '--all', '--format', '%s\\n', 'id'], ctx)).toBe(0);
    expect(ctx.out()).toBe('3\n2\n1\n');
    expect(requests).toHaveLength(2);
  });

  it('job --logs prints the details and every page of output', async () => {
    routes = (_m, u) => {
      if (!u.pathname.endsWith('/logs')) return { json: job({ id: '4', state: 'succeeded' }) };
      return u.searchParams.get('after') === null
        ? {
            json: {
              logs: [{ seq: '1', attempt: 1, stream: 'stdout', at: '', data: 'a\n' }],
              nextCursor: '1',
            },
          }
        : {
            json: {
              logs: [{ seq: '2', attempt: 1, stream: 'stdout', at: '', data: 'b\n' }],
              nextCursor: null,
            },
          };
    };
    const ctx = context();
    expect(await run(['job', '4', '--logs'], ctx)).toBe(0);
    expect(ctx.out()).toMatch(/^id: +4\n/);
    expect(ctx.out().endsWith('\na\nb\n')).toBe(true);
  });

  it('job --logs says where output was dropped', async () => {
    const dropped = { bytes: 1234, after: '1' };
    routes = (_m, u) =>
      u.pathname.endsWith('/logs')
        ? {
            json: {
              logs: [
                { seq: '1', attempt: 1, stream: 'stdout', at: '', data: 'head\n' },
                { seq: '7', attempt: 1, stream: 'stdout', at: '', data: 'tail\n' },
              ],
              nextCursor: null,
              dropped,
            },
          }
        : { json: job({ id: '4', state: 'succeeded' }) };
    const ctx = context();
    expect(await run(['job', '4', '--logs'], ctx)).toBe(0);
    expect(ctx.out().endsWith(`\nhead\n${droppedLine(1234)}tail\n`)).toBe(true);
  });

  it.each([
    [['job', '9'], 404, 'not_found', 3],
    [['cancel', '9'], 409, 'conflict', 6],
    [['stats'], 401, 'unauthorized', 5],
    [['submit', 'x'], 503, 'frozen', 8],
    [['submit', 'x'], 422, 'unmatchable', 7],
    [['submit', 'x'], 400, 'invalid_request', 2],
    [['workers'], 500, 'internal', 70],
  ] as const)('%j answered %i %s exits %i with the message', async (argv, status, code, exit) => {
    routes = () => ({ status, json: { error: { code, message: `the ${code} message` } } });
    const ctx = context();
    expect(await run([...argv], ctx)).toBe(exit);
    expect(ctx.err()).toBe(`switchyard: the ${code} message\n`);
  });

  it('an unreachable broker exits 4, naming the URL', async () => {
    const ctx = context({ SWITCHYARD_URL: 'http://127.0.0.1:1' });
    expect(await run(['stats'], ctx)).toBe(4);
    expect(ctx.err()).toMatch(/^switchyard: cannot reach the broker at http:\/\/127\.0\.0\.1:1: /);
  });
});
