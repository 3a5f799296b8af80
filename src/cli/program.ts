/**
 * The `switchyard` command tree: every command, option and help text, declared with commander.
 * The action verbs on jobs are declared in ./action-verbs.ts. Actions live in ./submit.ts,
 * ./client-commands.ts, ./action-commands.ts and ./server-commands.ts; errors are thrown to the
 * one top-level catch in ./run.ts.
 */
import { workerSubcommands } from './worker-commands.js';
import { Command } from 'commander';
import { version } from '../version.js';
import {
  cleanslateCommand,
  failedCommand,
  freezeCommand,
  type CleanslateFlags,
  type FailedFlags,
} from './action-commands.js';
import { addActionVerbs } from './action-verbs.js';
import {
  jobCommand,
  jobsCommand,
  statsCommand,
  workersCommand,
  type JobFlags,
  type JobsFlags,
} from './client-commands.js';
import type { CliContext, ClientFlags } from './context.js';
import { exitStatusHelp } from './errors.js';
import { eventsCommand, type EventsFlags } from './events-command.js';
import { clientOptions, collect, filterOptions, TIME_HELP } from './options.js';
import {
  brokerCommand,
  DEFAULT_BROKER,
  DEFAULT_MONITOR_PORT,
  monitorCommand,
  upCommand,
  UP_DRAIN_SECONDS,
  workerCommand,
  type BrokerFlags,
  type MonitorFlags,
  type UpFlags,
  type WorkerFlags,
} from './server-commands.js';
import { DEFAULT_URL } from '../client/client.js';
import { submitCommand, type SubmitFlags } from './submit.js';
import { addQueueCommands } from './queue-commands.js';
import {
  scheduleActionCommand,
  scheduleCreateCommand,
  scheduleSetCommand,
  schedulesCommand,
  type ScheduleFlags,
} from './schedule-commands.js';

type ListFlags = ClientFlags & { json?: boolean };

function logOptions(cmd: Command, configured = true): Command {
  return cmd
    .option('--debug', 'log debug messages too')
    .option(
      '--verbose',
      configured
        ? 'log at info level (the default, unless the config sets logger.level)'
        : 'log at info level (the default)',
    )
    .option('--json', 'log JSON lines to stderr instead of human-readable lines');
}

/** Builds the command tree. Output and exits go through `ctx` and exceptions, never the process. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('switchyard')
    .description('Switchyard job broker: run it, submit jobs to it, and see what it is doing.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'switchyard: ')),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `\nClient commands read SWITCHYARD_URL and SWITCHYARD_TOKEN; the broker reads SWITCHYARD_*\n` +
        `settings and SWITCHYARD_CONFIG (see switchyard broker --help).\n\n${exitStatusHelp()}\n`,
    );
  program.helpCommand('help [command]', 'show help for a command');

  logOptions(
    program
      .command('up')
      .summary('run a broker and a local shell worker, zero configuration')
      .description(
        'Run a broker and one local worker for shell jobs in this process: loopback only, ' +
          'no configuration needed. Ctrl-C stops it: running jobs get ' +
          `${UP_DRAIN_SECONDS} s to finish; a second Ctrl-C stops at once.`,
      )
      .option('--data-dir <dir>', 'directory of the SQLite database (default ./.switchyard)')
      .option(
        '--clients-port <port>',
        'client API port on 127.0.0.1 (default 9658; 0: any free port)',
      )
      .option(
        '--workers-port <port>',
        'worker endpoint port on 127.0.0.1 (default 9657; 0: any free port)',
      )
      .option(
        '--config <file>',
        'YAML config file (env SWITCHYARD_CONFIG); its addresses are ignored',
      ),
  ).action((flags: UpFlags) => upCommand(ctx, flags));

  logOptions(
    program
      .command('broker')
      .summary('run the broker')
      .description(
        'Run the broker until SIGINT or SIGTERM, then close gracefully. Settings come from the ' +
          'config file, then SWITCHYARD_* variables (SWITCHYARD_CLIENTS_PORT, SWITCHYARD_LOG_LEVEL, ' +
          'SWITCHYARD_CLIENT_TOKENS, ...), then these options.',
      )
      .option('--config <file>', 'YAML config file, ReCodEx broker style (env SWITCHYARD_CONFIG)')
      .option(
        '--data-dir <dir>',
        'directory of the SQLite database (data_dir; default ./.switchyard)',
      )
      .option('--store <store>', '"sqlite" or a postgres:// URL (store; default sqlite)')
      .option(
        '--clients-address <address>',
        'address of the client API, "*" for all (clients.address; default 127.0.0.1)',
      )
      .option('--clients-port <port>', 'port of the client API (clients.port; default 9658)')
      .option(
        '--workers-address <address>',
        'address of the worker endpoint, "*" for all (workers.address; default 127.0.0.1)',
      )
      .option('--workers-port <port>', 'port of the worker endpoint (workers.port; default 9657)')
      .option('--queue-manager <kind>', 'single or multi (queue_manager; default single)')
      .option(
        '--reject-unmatchable',
        'refuse a job no connected worker could run (reject_unmatchable; default: queue it)',
      )
      .option(
        '--max-liveness <n>',
        'heartbeats a worker may miss before it is dead (max_liveness; default 10)',
      )
      .option(
        '--ping-interval <ms>',
        'milliseconds between heartbeats of a busy worker (ping_interval; default 1000)',
      )
      .option(
        '--max-request-failures <n>',
        'lost runs before a job fails (max_request_failures; default 3)',
      )
      .option(
        '--log-file <file>',
        'also log JSON lines to <file>.log, rotated to <file>.1.log... (logger.file)',
      ),
  ).action((flags: BrokerFlags) => brokerCommand(ctx, flags));

  logOptions(
    program
      .command('worker')
      .summary('run the worker agent for shell and http jobs')
      .description(
        'Run the worker agent for shell jobs (a command) and http jobs (one HTTP request). ' +
          'SIGINT or SIGTERM drains it: no new jobs, running ones finish within the drain ' +
          'timeout; a second signal stops at once.',
      )
      .option(
        '--broker <url>',
        `worker endpoint of a broker; repeat or comma-separate for several nodes (default ${DEFAULT_BROKER})`,
        collect,
      )
      .option('--name <name>', "this worker's name (default <host name>-<process id>)")
      .option(
        '--label <key=value>',
        'a label jobs can require, e.g. env=python, threads=8; repeatable',
        collect,
      )
      .option('--queue <queue>', 'a queue to serve; repeatable (default "default")', collect)
      .option('--slots <n>', 'jobs run at once (default 1)')
      .option(
        '--type <type>',
        'a job type to run: shell or http; repeatable (default both)',
        collect,
      )
      .option('--token <token>', 'worker token (env SWITCHYARD_WORKER_TOKEN)')
      .option(
        '--drain-timeout <seconds>',
        'how long running jobs may take to finish on stop (default 30)',
      ),
    false,
  ).action((flags: WorkerFlags) => workerCommand(ctx, flags));

  logOptions(
    program
      .command('monitor')
      .summary('run a standalone monitor for browsers, in front of a private broker')
      .description(
        "Run the monitor in its own process (ReCodEx's split): browsers watch jobs here " +
          '(WebSocket /api/v1/monitor, as on the broker) while the broker stays private. Each ' +
          "browser is relayed to the broker's monitor over a connection authenticated with the " +
          'token; a browser must bring an access token for its job (POST /api/v1/jobs/ID/' +
          'monitor-token) unless --open. Runs until SIGINT or SIGTERM.',
      )
      .option(
        '--broker <url>',
        `the broker's client API (env SWITCHYARD_URL; default ${DEFAULT_URL})`,
      )
      .option('--token <token>', 'client token for the broker (env SWITCHYARD_TOKEN)')
      .option('--address <address>', 'address browsers connect to (default 127.0.0.1)')
      .option('--port <port>', `port browsers connect to (default ${DEFAULT_MONITOR_PORT})`)
      .option('--open', 'let browsers watch any job without an access token'),
    false,
  ).action((flags: MonitorFlags) => monitorCommand(ctx, flags));

  clientOptions(
    program
      .command('submit')
      .summary('submit a job')
      .usage('[options] [--] COMMAND...')
      .description('Submit a job and print its id. Options go before COMMAND.')
      .argument(
        '[command...]',
        "a shell job's command: words after -- (several words run without a shell), or one quoted string (run by sh -c)",
      )
      .passThroughOptions()
      .option('--type <type>', 'job type (default shell)')
      .option('--queue <queue>', 'queue (default "default")')
      .option(
        '--require <label=value>',
        'a label the worker must have (threads=N: at least N; hwgroup=a|b: either); repeatable',
        collect,
      )
      .option('--priority <n>', 'higher runs first (default 0)')
      .option('--group <key>', 'the group (tenant) a fair queue shares its starts by')
      .option(
        '--limit <name[:N]>',
        'a named concurrency limit the job takes while it runs (N units, default 1); repeatable',
        collect,
      )
      .option('--max-attempts <n>', 'attempts before a failure is final (default 5)')
      .option(
        '--timeout <seconds>',
        'seconds an attempt may run before it is killed (or 90s, 5m, 2h)',
      )
      .option(
        '--kill-signal <signal>',
        'signal that stops the job: SIGTERM (default), SIGINT, SIGHUP, SIGQUIT, SIGKILL, SIGUSR1 or SIGUSR2',
      )
      .option('--kill-grace <seconds>', 'seconds between the kill signal and SIGKILL (default 10)')
      .option(
        '--meta <key=value>',
        'metadata stored with the job, never matched; repeatable',
        collect,
      )
      .option(
        '--payload <json>',
        'the job\'s input as JSON; for shell jobs {"command", "cwd", "env", "stdin"}',
      )
      .option('--delay <seconds>', 'seconds before the job may run (or 90s, 5m, 2h)')
      .option('--hold', 'submit the job held: it waits until switchyard release')
      .option('--hold-reason <reason>', 'submit the job held, with this reason')
      .option(
        '--depends-on <id>',
        'a job that must succeed first (if it fails or is canceled, so is this one); repeatable',
        collect,
      )
      .option(
        '--backoff-delay <seconds>',
        "wait before the first retry (or 90s, 5m, 2h); default: the broker's back-off",
      )
      .option(
        '--backoff-type <type>',
        'exponential (the wait doubles after each failure; the default) or fixed',
      )
      .option('--backoff-max <seconds>', 'longest wait before a retry (default 1 hour)')
      .option(
        '--backoff-jitter <fraction>',
        'spread each wait up or down at random by this fraction, 0 to 1 (default 0.2)',
      )
      .option(
        '--silence-timeout <seconds>',
        'an attempt without output, progress or attributes this long is hung: killed, then retried or failed',
      )
      .option(
        '--unique-key <key>',
        'if a job with this key exists, submit nothing and print its id instead (a duplicate)',
      )
      .option(
        '--unique-for <seconds>',
        'a duplicate only if that job was submitted, started or ended within this long, or runs now',
      )
      .option(
        '--unique-while <states>',
        'a duplicate only while that job is in one of these states, comma-separated',
      )
      .option('--notify <url>', 'POST a JSON callback to this http(s) URL when the job ends')
      .option(
        '--notify-on <events>',
        'only when it ends in one of these, comma-separated: succeeded, failed, canceled',
      )
      .option(
        '--wait',
        'follow the job on stderr, print its output tail, exit 1 if it fails or is canceled',
      )
      .option('--json', 'print the job as JSON instead of its id (with --wait: the finished job)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  switchyard submit -- make -j4\n' +
        "  switchyard submit --wait 'cd /src && make test'\n" +
        '  switchyard submit --unique-key nightly --unique-while queued,running -- ./nightly.sh\n' +
        '  switchyard submit --backoff-type fixed --backoff-delay 30s --max-attempts 10 -- ./sync\n' +
        '  switchyard submit --require env=python --require threads=4 --timeout 10m -- python train.py\n' +
        '  switchyard submit --type resize --payload \'{"image": "a.png"}\'\n',
    )
    .action((words: string[], flags: SubmitFlags) => submitCommand(ctx, words, flags));

  clientOptions(
    filterOptions(
      program
        .command('jobs')
        .summary('list jobs')
        .description(
          'List jobs, newest first: a table, JSON lines, or printf-style with --format.',
        ),
    )
      .option('--limit <n>', 'jobs per page, 1 to 1000 (default 100)')
      .option('--all', 'all matching jobs, following every page')
      .option('--json', 'one JSON object per job and line')
      .option(
        '--format <fmt attr...>',
        'print attribute ATTR with printf format FMT for each job that has it, or a template of %{ATTR}s; repeatable',
      ),
  )
    .addHelpText(
      'after',
      TIME_HELP +
        '\n--format works like condor_q -format: FMT is printed for each job that has ATTR, with\n' +
        'no newline added; the escapes \\n and \\t are interpreted. Conversions: %s %d %i %f %e\n' +
        '%g %x %o %c %%, with flags -, 0, +, a width and a .precision (%-10s, %5d, %.2f).\n' +
        'ATTR is an attribute a job set with ::attr, or a job field: id, state, type, queue,\n' +
        'priority, attempt, maxAttempts, worker, createdAt, progress.percent, meta.KEY, ...\n' +
        'A FMT with %{ATTR} in it is a template, given alone: it is printed for each job that has\n' +
        'every ATTR it names, each %{ATTR} replaced by its value.\n\n' +
        'Examples:\n' +
        '  switchyard jobs --state running --format "%-8s " id --format "%s\\n" endpoint\n' +
        "  switchyard jobs --attr endpoint --format '%{id} %{attributes.endpoint}\\n'\n",
    )
    .action((flags: JobsFlags) => jobsCommand(ctx, flags));

  clientOptions(
    program
      .command('job')
      .summary('show one job')
      .description('Show one job: its state, command, attempts, progress, attributes and result.')
      .argument('<id>', 'job id')
      .option('--json', 'print the job as JSON')
      .option('--logs', "also print the job's output")
      .option(
        '--follow',
        'watch the job live until it ends: its changes and steps, a progress bar on a ' +
          'terminal, its output as it comes; exits 1 if it fails',
      ),
  ).action((id: string, flags: JobFlags) => jobCommand(ctx, id, flags));

  addActionVerbs(program, ctx);

  clientOptions(
    program
      .command('cleanslate')
      .summary('erase every job')
      .description(
        'Erase every job of the broker, with its attempts and output. On a terminal it asks you ' +
          'to type yes first; without one it needs --yes.',
      )
      .option('--yes', 'erase without asking')
      .option('--dry-run', 'count the jobs it would erase; erase nothing'),
  ).action((flags: CleanslateFlags) => cleanslateCommand(ctx, flags));

  clientOptions(
    program
      .command('failed')
      .summary('show the failed jobs by group')
      .description(
        'Show the failed jobs counted by error group, queue or type, largest group first, with ' +
          'the newest failure of each.',
      )
      .option('--by <grouping>', 'error, queue or type (default error)')
      .option('--limit <n>', 'groups at most, 1 to 1000 (default 100)')
      .option('--json', 'print the groups as JSON'),
  )
    .addHelpText(
      'after',
      '\nAn error group is failures with the same error once numbers, ids and paths are set\n' +
        'aside. Act on one with --group KEY, e.g.:\n' +
        '  switchyard retry --group KEY --dry-run\n' +
        '  switchyard retry --state failed --queue KEY    (after --by queue)\n',
    )
    .action((flags: FailedFlags) => failedCommand(ctx, flags));

  clientOptions(
    program
      .command('freeze')
      .summary('freeze the broker: refuse submissions')
      .description(
        'Freeze the broker: it refuses submissions until unfrozen; queued and running jobs go ' +
          'on. Needs an admin token.',
      ),
  ).action((flags: ClientFlags) => freezeCommand(ctx, true, flags));

  clientOptions(
    program
      .command('unfreeze')
      .summary('unfreeze the broker: accept submissions again')
      .description('Unfreeze the broker: it accepts submissions again. Needs an admin token.'),
  ).action((flags: ClientFlags) => freezeCommand(ctx, false, flags));

  const workers = clientOptions(
    program
      .command('workers')
      .summary('list workers, or control one')
      .description(
        'List the connected workers; with a subcommand, show or control one (status, sleep ' +
          'schedule, queues and types, disconnect, blocklist, usage).',
      )
      .option('--json', 'one JSON object per worker and line'),
  ).action((flags: ListFlags) => workersCommand(ctx, flags));
  workerSubcommands(ctx, workers);

  clientOptions(
    program
      .command('schedules')
      .summary('list cron schedules with their next run')
      .description('List the cron schedules: expression, time zone, next run, state and counts.')
      .option('--json', 'one JSON object per schedule and line'),
  ).action((flags: ListFlags) => schedulesCommand(ctx, flags));

  const schedule = program
    .command('schedule')
    .summary('create, show, change, pause, resume or delete a cron schedule')
    .description(
      'Manage one cron schedule: each tick of its cron expression (in its time zone) submits ' +
        'the job it was given.',
    );
  const settings = (cmd: Command): Command =>
    cmd
      .option(
        '--cron <expression>',
        'cron expression: 5 fields, or 6 with seconds first, or @daily',
      )
      .option('--timezone <zone>', 'IANA time zone the expression is read in (default UTC)')
      .option('--job <json>', 'the job each tick submits, as POST /api/v1/jobs takes it')
      .option('--command <command>', 'shorthand for a shell job running this command')
      .option(
        '--overlap <skip|allow>',
        "skip a tick while the last tick's job runs (skip, the default) or not",
      )
      .option(
        '--missed <once|skip>',
        'after downtime: one job for the missed ticks (once, the default) or none',
      )
      .option('--json', 'print the schedule as JSON');
  clientOptions(
    settings(
      schedule
        .command('create')
        .argument('<name>', 'the schedule name')
        .summary('create a cron schedule')
        .description('Create a cron schedule; the broker checks the expression, zone and job.'),
    ).option('--paused', 'create it paused'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        "  switchyard schedule create nightly --cron '0 3 * * *' --timezone Europe/Prague --command ./backup.sh\n" +
        '  switchyard schedule create ping --cron \'*/30 * * * * *\' --job \'{"type": "http", "payload": {"method": "GET", "url": "https://example.com/"}}\'\n',
    )
    .action((name: string, flags: ScheduleFlags) => scheduleCreateCommand(ctx, name, flags));
  clientOptions(
    settings(
      schedule
        .command('set')
        .argument('<name>', 'the schedule name')
        .summary('change a cron schedule')
        .description(
          'Change a cron schedule. A new expression or time zone takes the next tick after now.',
        ),
    ),
  ).action((name: string, flags: ScheduleFlags) => scheduleSetCommand(ctx, name, flags));
  for (const [action, summary] of [
    ['show', 'show a cron schedule with its next runs'],
    ['pause', 'pause a cron schedule: no tick fires until resumed'],
    ['resume', 'resume a cron schedule: the next tick after now fires'],
    ['delete', 'delete a cron schedule (the jobs it submitted stay)'],
  ] as const) {
    clientOptions(
      schedule
        .command(action)
        .argument('<name>', 'the schedule name')
        .summary(summary)
        .description(`${summary[0]!.toUpperCase()}${summary.slice(1)}.`)
        .option('--json', 'print the schedule as JSON'),
    ).action((name: string, flags: ListFlags) => scheduleActionCommand(ctx, action, name, flags));
  }

  clientOptions(
    program
      .command('events')
      .summary("follow the broker's events")
      .description(
        "Follow the broker's events live, one line per event, until interrupted: jobs created, " +
          'changing state, progress, output, attributes, workers up and down, schedules firing. ' +
          'Reconnects when the broker goes away and resumes after the last event seen.',
      )
      .option(
        '--kind <kind>',
        'only events of this kind: job, worker, broker, backend, schedule, or a name such as ' +
          'job:state (repeatable, or comma-separated)',
        collect,
      )
      .option('--queue <queue>', 'only events of jobs of this queue')
      .option('--job <id>', 'only events of this job')
      .option('--json', 'one JSON object per event and line: {"id", "name", "data"}'),
  ).action((flags: EventsFlags) => eventsCommand(ctx, flags));

  addQueueCommands(program, ctx);

  clientOptions(
    program
      .command('stats')
      .summary('show statistics')
      .description("Show the broker's runtime statistics.")
      .option('--json', 'print them as JSON'),
  ).action((flags: ListFlags) => statsCommand(ctx, flags));

  return program;
}
