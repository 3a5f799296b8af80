/**
 * `switchyard workers ...`: workers under an operator's hand (status, sleep schedule, queues
 * and types, disconnect, blocklist, usage). `switchyard worker` (singular) is the agent.
 */
import type { Command } from 'commander';
import type { SleepScheduleBody, WorkerBody } from '../protocol/api.js';
import type { UsageBody } from '../protocol/workers.js';
import { clientFor, type ClientFlags, type CliContext } from './context.js';
import { UsageError } from './errors.js';
import { workersTable } from './format.js';
import { parseTime } from './filter.js';
import { clientOptions, TIME_HELP } from './options.js';

type JsonFlags = ClientFlags & { json?: boolean };

const STATUSES = ['awake', 'asleep', 'drain'] as const;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
];

/** One worker in a few lines, for people. */
export function workerText(w: WorkerBody, now: number): string {
  const lines = [workersTable([w], now).trimEnd()];
  lines.push(`status: ${w.status ?? 'awake'}`);
  if (w.schedule) {
    const s = w.schedule;
    lines.push(
      `sleep schedule: ${s.days.join(',')} ${s.start}-${s.end} ${s.timeZone}` +
        (s.active === false ? ' (inactive)' : ''),
    );
  }
  for (const b of w.blocklist ?? [])
    lines.push(`blocklisted: type ${b.type} in queue ${b.queue} (${b.failures} failures)`);
  if (w.running.length > 0) lines.push(`running: ${w.running.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function usageText(u: UsageBody): string {
  if (u.samples.length === 0) return `resolution: ${u.resolution}\nno samples\n`;
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(0)}%`);
  const mib = (x: number | null | undefined) =>
    x === null || x === undefined ? '-' : `${(x / 1024 / 1024).toFixed(0)}MiB`;
  const rows = u.samples.map((s) => {
    const jobs = s.jobs.map((j) => `${j.jobId}:${pct(j.cpu)}/${mib(j.rss)}`).join(' ');
    const used = s.memory === null ? null : s.memory.total - s.memory.free;
    return `${s.at}  cpu ${pct(s.cpu)}  mem ${mib(used)}${jobs ? `  jobs ${jobs}` : ''}`;
  });
  return `resolution: ${u.resolution}\n${rows.join('\n')}\n`;
}

/** Registers the subcommands of `switchyard workers`. */
export function workerSubcommands(ctx: CliContext, workers: Command): void {
  const print = (flags: JsonFlags, w: WorkerBody): void => {
    ctx.stdout.write(flags.json === true ? `${JSON.stringify(w)}\n` : workerText(w, ctx.now()));
  };

  clientOptions(
    workers
      .command('show')
      .summary('show one worker')
      .description(
        'Show one worker of any node: status, sleep schedule, queues, types, blocklist and ' +
          'running jobs.',
      )
      .argument('<id>', 'the worker id')
      .option('--json', 'print it as JSON'),
  ).action(async (id: string, flags: JsonFlags) =>
    print(flags, await clientFor(ctx, flags).worker(id)),
  );

  clientOptions(
    workers
      .command('status')
      .summary('set a worker awake, asleep or draining')
      .description(
        'Set a worker awake (takes jobs), asleep (takes none) or drain (takes none and exits ' +
          'once its jobs are done). Its running jobs are stopped and queued again, not counted ' +
          'as failures, unless --after lets them finish. Needs an admin token.',
      )
      .argument('<id>', 'the worker id')
      .argument('<status>', 'awake, asleep or drain')
      .option('--after', 'let the running jobs finish first (default: stop them now)')
      .option('--json', 'print the worker as JSON'),
  ).action(async (id: string, status: string, flags: JsonFlags & { after?: boolean }) => {
    if (!(STATUSES as readonly string[]).includes(status))
      throw new UsageError(`status: must be one of ${STATUSES.join(', ')}, got "${status}"`);
    const w = await clientFor(ctx, flags).setWorkerStatus(
      id,
      status as (typeof STATUSES)[number],
      flags.after === true ? 'after' : 'now',
    );
    print(flags, w);
  });

  clientOptions(
    workers
      .command('schedule')
      .summary("set or clear a worker's sleep schedule")
      .description(
        'Give a worker a sleep schedule: asleep on the given days from --start to --end (local ' +
          'time in --tz; an end before the start crosses midnight), awake otherwise. A status ' +
          'set by hand holds until the next boundary. --clear removes the schedule. Needs an ' +
          'admin token.',
      )
      .argument('<id>', 'the worker id')
      .option('--days <days>', 'days the window starts on, comma-separated (mon..sun)', list)
      .option('--start <HH:MM>', 'start of the window, local time')
      .option('--end <HH:MM>', 'end of the window, local time')
      .option('--tz <zone>', 'IANA time zone, e.g. Europe/Amsterdam (default UTC)')
      .option('--inactive', 'keep the schedule but do not apply it')
      .option('--clear', 'remove the schedule')
      .option('--json', 'print the worker as JSON'),
  ).action(
    async (
      id: string,
      flags: JsonFlags & {
        days?: string[];
        start?: string;
        end?: string;
        tz?: string;
        inactive?: boolean;
        clear?: boolean;
      },
    ) => {
      const client = clientFor(ctx, flags);
      if (flags.clear === true) {
        print(flags, await client.setWorkerSleepSchedule(id, null));
        return;
      }
      if (flags.days === undefined || flags.start === undefined || flags.end === undefined)
        throw new UsageError('--days, --start and --end are required (or --clear)');
      const bad = flags.days.find((d) => !(DAYS as readonly string[]).includes(d));
      if (bad !== undefined)
        throw new UsageError(`--days: "${bad}" is not one of ${DAYS.join(', ')}`);
      const schedule: SleepScheduleBody = {
        active: flags.inactive !== true,
        days: flags.days as SleepScheduleBody['days'],
        start: flags.start,
        end: flags.end,
        timeZone: flags.tz ?? 'UTC',
      };
      print(flags, await client.setWorkerSleepSchedule(id, schedule));
    },
  );

  for (const verb of ['attach', 'detach'] as const) {
    clientOptions(
      workers
        .command(verb)
        .summary(
          verb === 'attach'
            ? 'add queues or types to a worker'
            : 'remove queues or types from a worker',
        )
        .description(
          (verb === 'attach'
            ? 'Add queues (and job types it announced) to what a worker serves, at run time: '
            : 'Remove queues (or job types) from what a worker serves, at run time: ') +
            'it is told, and dispatch follows at once. Kept across reconnects. Needs an admin ' +
            'token.',
        )
        .argument('<id>', 'the worker id')
        .option('--queue <queues>', 'queues, comma-separated (repeatable)', list)
        .option('--type <types>', 'job types, comma-separated (repeatable)', list)
        .option('--json', 'print the worker as JSON'),
    ).action(async (id: string, flags: JsonFlags & { queue?: string[]; type?: string[] }) => {
      if (flags.queue === undefined && flags.type === undefined)
        throw new UsageError('give --queue or --type');
      const change = {
        ...(flags.queue === undefined ? {} : { queues: flags.queue }),
        ...(flags.type === undefined ? {} : { types: flags.type }),
      };
      const client = clientFor(ctx, flags);
      print(
        flags,
        verb === 'attach'
          ? await client.attachWorkerQueues(id, change)
          : await client.detachWorkerQueues(id, change),
      );
    });
  }

  clientOptions(
    workers
      .command('disconnect')
      .summary("close a worker's connection")
      .description(
        "Close a worker's connection: its running jobs go back to the queue as a lost " +
          "worker's do. The worker process may connect again. Needs an admin token.",
      )
      .argument('<id>', 'the worker id'),
  ).action(async (id: string, flags: ClientFlags) => {
    await clientFor(ctx, flags).disconnectWorker(id);
    ctx.stdout.write(`disconnected ${id}\n`);
  });

  clientOptions(
    workers
      .command('unblock')
      .summary("clear a worker's blocklist for a job type")
      .description(
        'Clear the blocklist of a worker for a job type, in every queue or only in --queue: it ' +
          'is given jobs of that type again. Needs an admin token.',
      )
      .argument('<id>', 'the worker id')
      .argument('<type>', 'the job type')
      .option('--queue <queue>', 'only in this queue'),
  ).action(async (id: string, type: string, flags: ClientFlags & { queue?: string }) => {
    const { cleared } = await clientFor(ctx, flags).unblockWorker(id, type, flags.queue);
    ctx.stdout.write(
      cleared.length === 0
        ? `worker ${id} was not blocklisted for ${type}\n`
        : cleared.map((b) => `unblocked ${id} for ${b.type} in ${b.queue}\n`).join(''),
    );
  });

  clientOptions(
    workers
      .command('usage')
      .summary("show a worker's CPU and memory over time")
      .description(
        "Show a worker's CPU and memory (and its jobs') over time: one sample per 5 s for the " +
          'last hour, one per minute before that, for a day.',
      )
      .argument('<id>', 'the worker id')
      .option('--since <time>', 'from TIME on (default: an hour ago)')
      .option('--json', 'print the samples as JSON')
      .addHelpText('after', TIME_HELP),
  ).action(async (id: string, flags: JsonFlags & { since?: string }) => {
    const since =
      flags.since === undefined ? undefined : parseTime('--since', flags.since, ctx.now());
    const usage = await clientFor(ctx, flags).workerUsage(id, since);
    ctx.stdout.write(flags.json === true ? `${JSON.stringify(usage)}\n` : usageText(usage));
  });
}
