/**
 * `switchyard schedules` and `switchyard schedule ...`: their help, and runs against a real
 * broker (in this process, SQLite) through the SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliContext } from '../../../src/cli/context.js';
import { buildProgram } from '../../../src/cli/program.js';
import { run } from '../../../src/cli/run.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker.close();
});

function context(): CliContext & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    env: { SWITCHYARD_URL: broker.broker.clientsUrl },
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    now: () => Date.now(),
    onStopSignal: () => () => undefined,
    out: () => out,
    err: () => err,
  };
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const ctx = context();
  const code = await run(args, ctx);
  return { code, out: ctx.out(), err: ctx.err() };
}

function help(...path: string[]): string {
  let cmd = buildProgram(context());
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  cmd.configureHelp({ helpWidth: 80 });
  return cmd.helpInformation();
}

describe('switchyard schedule', () => {
  it('has this help', () => {
    expect(help('schedules')).toBe(`Usage: switchyard schedules [options]

List the cron schedules: expression, time zone, next run, state and counts.

Options:
  --json           one JSON object per schedule and line
  --url <url>      the broker's client API (env SWITCHYARD_URL; default
                   http://127.0.0.1:9658)
  --token <token>  bearer token for the client API (env SWITCHYARD_TOKEN)
  -h, --help       show help for a command
`);
    expect(help('schedule')).toBe(`Usage: switchyard schedule [options] [command]

Manage one cron schedule: each tick of its cron expression (in its time zone)
submits the job it was given.

Options:
  -h, --help               show help for a command

Commands:
  create [options] <name>  create a cron schedule
  set [options] <name>     change a cron schedule
  show [options] <name>    show a cron schedule with its next runs
  pause [options] <name>   pause a cron schedule: no tick fires until resumed
  resume [options] <name>  resume a cron schedule: the next tick after now fires
  delete [options] <name>  delete a cron schedule (the jobs it submitted stay)
  help [command]           show help for a command
`);
    expect(help('schedule', 'set')).toBe(`Usage: switchyard schedule set [options] <name>

Change a cron schedule. A new expression or time zone takes the next tick after
now.

Arguments:
  name                    the schedule name

Options:
  --cron <expression>     cron expression: 5 fields, or 6 with seconds first, or
                          @daily
  --timezone <zone>       IANA time zone the expression is read in (default UTC)
  --job <json>            the job each tick submits, as POST /api/v1/jobs takes
                          it
  --command <command>     shorthand for a shell job running this command
  --overlap <skip|allow>  skip a tick while the last tick's job runs (skip, the
                          default) or not
  --missed <once|skip>    after downtime: one job for the missed ticks (once,
                          the default) or none
  --json                  print the schedule as JSON
  --url <url>             the broker's client API (env SWITCHYARD_URL; default
                          http://127.0.0.1:9658)
  --token <token>         bearer token for the client API (env SWITCHYARD_TOKEN)
  -h, --help              show help for a command
`);
    expect(help('schedule', 'pause')).toBe(`Usage: switchyard schedule pause [options] <name>

Pause a cron schedule: no tick fires until resumed.

Arguments:
  name             the schedule name

Options:
  --json           print the schedule as JSON
  --url <url>      the broker's client API (env SWITCHYARD_URL; default
                   http://127.0.0.1:9658)
  --token <token>  bearer token for the client API (env SWITCHYARD_TOKEN)
  -h, --help       show help for a command
`);
  });

  it('creates, lists, shows, changes, pauses, resumes and deletes', async () => {
    const created = await cli([
      'schedule',
      'create',
      'backup',
      '--cron',
      '0 3 * * *',
      '--timezone',
      'Europe/Prague',
      '--command',
      './backup.sh',
      '--overlap',
      'allow',
    ]);
    expect(created).toMatchObject({ code: 0, err: '' });
    expect(created.out).toMatch(/^name: +backup\ncron: +0 3 \* \* \*\ntimezone: +Europe\/Prague\n/);
    expect(created.out).toContain('overlap:   allow');
    expect(created.out).toContain(
      'job:       {"type":"shell","payload":{"command":"./backup.sh"}}',
    );
    const listed = await cli(['schedules']);
    expect(listed.out.split('\n')[0]).toBe(
      'NAME    CRON       TIMEZONE       NEXT RUN                  STATE   FIRED  SKIPPED  LAST JOB',
    );
    expect(listed.out).toMatch(
      /^backup {2}0 3 \* \* \* {2}Europe\/Prague {2}\d{4}-\d\d-\d\dT0[12]:00:00\.000Z {2}active {2}0 {6}0 {8}-$/m,
    );
    const json = await cli(['schedules', '--json']);
    expect(JSON.parse(json.out.trim())).toMatchObject({ name: 'backup', next: expect.any(Array) });
    expect((await cli(['schedule', 'pause', 'backup'])).out).toBe('schedule backup paused\n');
    expect((await cli(['schedule', 'show', 'backup'])).out).toContain('state:     paused');
    expect((await cli(['schedule', 'resume', 'backup'])).out).toBe('schedule backup resumed\n');
    const set = await cli(['schedule', 'set', 'backup', '--cron', '*/5 * * * *', '--json']);
    expect(JSON.parse(set.out)).toMatchObject({ cron: '*/5 * * * *', timezone: 'Europe/Prague' });
    expect((await cli(['schedule', 'delete', 'backup'])).out).toBe('schedule backup deleted\n');
    expect((await cli(['schedules'])).out).toBe('no schedules\n');
  });

  it('says what is wrong: its own flags as usage errors, the broker refusing as such', async () => {
    expect(await cli(['schedule', 'create', 'x', '--command', 'true'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('--cron: give the cron expression'),
    });
    expect(
      await cli(['schedule', 'create', 'x', '--cron', '* * * * *', '--job', '{']),
    ).toMatchObject({
      code: 2,
      err: expect.stringContaining('--job: not JSON'),
    });
    expect(
      await cli([
        'schedule',
        'create',
        'x',
        '--cron',
        '* * * * *',
        '--command',
        'true',
        '--missed',
        'twice',
      ]),
    ).toMatchObject({
      code: 2,
      err: expect.stringContaining('--missed: must be once or skip, got "twice"'),
    });
    const bad = await cli(['schedule', 'create', 'x', '--cron', '99 * * * *', '--command', 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('cron: "99 * * * *" is not a cron expression');
    const missing = await cli(['schedule', 'show', 'nope']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('schedule nope does not exist');
    expect(await cli(['schedule', 'set', 'nope'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('give something to change'),
    });
  });
});
