/** `switchyard events`: its help, its lines, its checks, and a run against a stand-in stream. */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliContext } from '../../../src/cli/context.js';
import { eventKindsOf, eventLine } from '../../../src/cli/events-command.js';
import { buildProgram } from '../../../src/cli/program.js';
import { run } from '../../../src/cli/run.js';

let server: Server;
let url: string;
const queries: string[] = [];
let open: ServerResponse | null = null;

beforeAll(async () => {
  server = createServer((req, res) => {
    queries.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(
      'id: 5\nevent: job:state\ndata: {"id":"3","queue":"q","from":"queued","to":"running",' +
        '"attempt":1,"workerId":"w_1","error":null}\n\n',
    );
    open = res;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function context(): CliContext & { out: () => string; err: () => string; stop: () => void } {
  let out = '';
  let err = '';
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  return {
    env: { SWITCHYARD_URL: url },
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    now: () => 0,
    onStopSignal: (listener) => {
      stop = listener;
      return () => (stop = () => undefined);
    },
    out: () => out,
    err: () => err,
    stop: () => stop('SIGINT'),
  };
}

describe('switchyard events', () => {
  it('has this help', () => {
    const cmd = buildProgram(context()).commands.find((c) => c.name() === 'events')!;
    // As on an 80-column terminal, whatever runs the test.
    cmd.configureHelp({ helpWidth: 80 });
    expect(cmd.helpInformation()).toBe(HELP);
  });

  it('prints one line per event, terminal control characters escaped', () => {
    expect(
      eventLine({
        name: 'job:state',
        id: 9,
        data: {
          id: '3',
          from: 'running',
          to: 'failed',
          attempt: 2,
          workerId: 'w_1',
          error: { code: 'exit_code', message: 'exit 1' },
        },
      }),
    ).toBe('9 job:state job 3 running -> failed (attempt 2 on w_1): exit 1');
    expect(
      eventLine({
        name: 'job:log',
        id: 10,
        data: { id: '3', stream: 'stdout', data: 'a\u001b[2Jb\n' },
      }),
    ).toBe('10 job:log job 3 stdout: a\\u001b[2Jb\\n');
    expect(eventLine({ name: 'gap', data: { type: 'gap', missed: 4, after: 8 } })).toBe(
      '- gap 4 events missed after 8',
    );
    expect(
      eventLine({
        name: 'job:progress',
        id: 1,
        data: { id: '3', progress: { percent: 40, message: 'cc' } },
      }),
    ).toBe('1 job:progress job 3 progress 40% cc');
  });

  it('checks --kind', () => {
    expect(eventKindsOf(['job,worker:up', 'backend'])).toEqual(['job', 'worker:up', 'backend']);
    expect(() => eventKindsOf(['jobs'])).toThrow(/--kind: "jobs" is not an event kind/);
  });

  it('follows the stream with the filters until stopped', async () => {
    const ctx = context();
    const done = run(
      ['events', '--kind', 'job:state', '--queue', 'q', '--job', '3', '--json'],
      ctx,
    );
    for (let i = 0; i < 100 && !ctx.out().includes('\n'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(queries.at(-1)).toBe('/api/v1/events?kind=job%3Astate&queue=q&job=3');
    expect(JSON.parse(ctx.out().trim())).toEqual({
      id: 5,
      name: 'job:state',
      data: {
        id: '3',
        queue: 'q',
        from: 'queued',
        to: 'running',
        attempt: 1,
        workerId: 'w_1',
        error: null,
      },
    });
    ctx.stop();
    expect(await done).toBe(0);
    open?.end();
  });

  it('refuses a bad job id as a usage error', async () => {
    const ctx = context();
    expect(await run(['events', '--job', 'x'], ctx)).toBe(2);
    expect(ctx.err()).toContain('--job');
  });
});

const HELP = `Usage: switchyard events [options]

Follow the broker's events live, one line per event, until interrupted: jobs
created, changing state, progress, output, attributes, workers up and down,
schedules firing. Reconnects when the broker goes away and resumes after the
last event seen.

Options:
  --kind <kind>    only events of this kind: job, worker, broker, backend,
                   schedule, or a name such as job:state (repeatable, or
                   comma-separated)
  --queue <queue>  only events of jobs of this queue
  --job <id>       only events of this job
  --json           one JSON object per event and line: {"id", "name", "data"}
  --url <url>      the broker's client API (env SWITCHYARD_URL; default
                   http://127.0.0.1:9658)
  --token <token>  bearer token for the client API (env SWITCHYARD_TOKEN)
  -h, --help       show help for a command
`;
