/**
 * `switchyard queues`, `switchyard queue pause|resume|delete|set|show`, `switchyard limits` and
 * `switchyard limit set`: queues as objects and named concurrency limits (src/broker/queues.ts).
 */
import type { Command } from 'commander';
import type { QueueBody } from '../client/client.js';
import { disciplines, type Discipline } from '../domain/queues.js';
import type { QueueSettingsPatchBody } from '../protocol/queues.js';
import { clientFor, type CliContext, type ClientFlags } from './context.js';
import { UsageError } from './errors.js';
import { formatTable } from './format.js';
import { clientOptions, collect } from './options.js';

interface ListFlags extends ClientFlags {
  json?: boolean;
}

interface SetFlags extends ClientFlags {
  discipline?: string;
  rate?: string;
  burst?: string;
  groupRate?: string;
  groupBurst?: string;
  concurrency?: string;
  weight?: string[];
  json?: boolean;
}

const perSecond = (n: number): string => (n === 0 ? '0' : n < 0.01 ? '<0.01' : n.toFixed(2));

function waitText(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3_600)}h`;
}

/** What a queue's settings say beyond the defaults, briefly. */
function settingsText(q: QueueBody): string {
  const s = q.settings;
  const parts: string[] = [];
  if (s.rate !== null) parts.push(`rate ${s.rate}/s${s.burst === null ? '' : ` burst ${s.burst}`}`);
  if (s.groupRate !== null)
    parts.push(
      `group rate ${s.groupRate}/s${s.groupBurst === null ? '' : ` burst ${s.groupBurst}`}`,
    );
  if (s.concurrency !== null) parts.push(`concurrency ${s.concurrency}`);
  const weights = Object.entries(s.weights);
  if (weights.length > 0) parts.push(`weights ${weights.map(([g, w]) => `${g}=${w}`).join(',')}`);
  if (q.limits.length > 0) parts.push(`limits ${q.limits.join(',')}`);
  return parts.join('; ');
}

export function queuesTable(queues: readonly QueueBody[]): string {
  return formatTable(
    [
      'QUEUE',
      'STATE',
      'DISCIPLINE',
      'QUEUED',
      'RUNNING',
      'SCHEDULED',
      'FAILED',
      'IN/S',
      'OUT/S',
      'OLDEST',
      'SETTINGS',
    ],
    queues.map((q) => [
      q.name,
      q.paused ? 'paused' : 'active',
      q.settings.discipline,
      String(q.counts.queued),
      String(q.counts.running),
      String(q.counts.scheduled),
      String(q.counts.failed),
      perSecond(q.rates.in['1m']),
      perSecond(q.rates.out['1m']),
      waitText(q.oldestWait),
      settingsText(q),
    ]),
  );
}

/** `--rate 5`, `--rate none`: a positive number, or null to remove it. */
function rateValue(flag: string, text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return null;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new UsageError(
      `${flag}: expected a number above 0, or none; got ${JSON.stringify(text)}`,
    );
  return n;
}

function settingsOf(flags: SetFlags): QueueSettingsPatchBody {
  const patch: QueueSettingsPatchBody = {};
  if (flags.discipline !== undefined) {
    if (!disciplines.includes(flags.discipline as Discipline))
      throw new UsageError(
        `--discipline: expected one of ${disciplines.join(', ')}; got ${JSON.stringify(flags.discipline)}`,
      );
    patch.discipline = flags.discipline as Discipline;
  }
  const rate = rateValue('--rate', flags.rate);
  if (rate !== undefined) patch.rate = rate;
  const burst = rateValue('--burst', flags.burst);
  if (burst !== undefined) patch.burst = burst;
  const groupRate = rateValue('--group-rate', flags.groupRate);
  if (groupRate !== undefined) patch.groupRate = groupRate;
  const groupBurst = rateValue('--group-burst', flags.groupBurst);
  if (groupBurst !== undefined) patch.groupBurst = groupBurst;
  if (flags.concurrency !== undefined) {
    if (flags.concurrency === 'none') patch.concurrency = null;
    else if (/^\d+$/.test(flags.concurrency)) patch.concurrency = Number(flags.concurrency);
    else
      throw new UsageError(
        `--concurrency: expected a whole number, or none; got ${JSON.stringify(flags.concurrency)}`,
      );
  }
  if (flags.weight !== undefined) {
    const weights: Record<string, number> = {};
    for (const pair of flags.weight) {
      const eq = pair.lastIndexOf('=');
      const w = Number(pair.slice(eq + 1));
      if (eq <= 0 || !Number.isFinite(w) || w <= 0)
        throw new UsageError(`--weight: expected group=weight; got ${JSON.stringify(pair)}`);
      weights[pair.slice(0, eq)] = w;
    }
    patch.weights = weights;
  }
  if (Object.keys(patch).length === 0)
    throw new UsageError('queue set: give at least one setting (see --help)');
  return patch;
}

function printQueue(ctx: CliContext, q: QueueBody, json: boolean | undefined): void {
  ctx.stdout.write(json === true ? `${JSON.stringify(q)}\n` : queuesTable([q]));
}

/** Adds the queue and limit commands to the program. */
export function addQueueCommands(program: Command, ctx: CliContext): void {
  clientOptions(
    program
      .command('queues')
      .summary('list queues')
      .description(
        'List the queues: paused or not, discipline, jobs queued, running, scheduled and ' +
          'failed, jobs submitted (IN/S) and started (OUT/S) per second over the last minute, ' +
          'the longest wait of a queued job, and the settings.',
      )
      .option('--json', 'one JSON object per queue and line'),
  ).action(async (flags: ListFlags) => {
    const queues = await clientFor(ctx, flags).queues();
    ctx.stdout.write(
      flags.json === true
        ? queues.map((q) => `${JSON.stringify(q)}\n`).join('')
        : queuesTable(queues),
    );
  });

  const queue = program
    .command('queue')
    .summary('show, pause, resume, delete or configure a queue')
    .description('Show, pause, resume, delete or configure one queue.');

  clientOptions(
    queue
      .command('show')
      .argument('<name>', 'the queue')
      .description('Show one queue.')
      .option('--json', 'print it as JSON'),
  ).action(async (name: string, flags: ListFlags) => {
    printQueue(ctx, await clientFor(ctx, flags).queue(name), flags.json);
  });

  clientOptions(
    queue
      .command('pause')
      .argument('<name>', 'the queue')
      .description(
        'Pause a queue: it keeps its jobs and starts none (running ones finish), on every node.',
      )
      .option('--json', 'print the queue as JSON'),
  ).action(async (name: string, flags: ListFlags) => {
    printQueue(ctx, await clientFor(ctx, flags).pauseQueue(name), flags.json);
  });

  clientOptions(
    queue
      .command('resume')
      .argument('<name>', 'the queue')
      .description('Resume a paused queue.')
      .option('--json', 'print the queue as JSON'),
  ).action(async (name: string, flags: ListFlags) => {
    printQueue(ctx, await clientFor(ctx, flags).resumeQueue(name), flags.json);
  });

  clientOptions(
    queue
      .command('delete')
      .argument('<name>', 'the queue')
      .description(
        'Delete a queue (its settings) when none of its jobs is waiting or running; with ' +
          '--force, cancel those first.',
      )
      .option('--force', 'cancel the jobs of the queue that have not ended'),
  ).action(async (name: string, flags: ClientFlags & { force?: boolean }) => {
    const r = await clientFor(ctx, flags).deleteQueue(name, { force: flags.force === true });
    ctx.stdout.write(
      `deleted queue ${name}${r.canceled > 0 ? ` (canceled ${r.canceled} jobs)` : ''}\n`,
    );
  });

  clientOptions(
    queue
      .command('set')
      .argument('<name>', 'the queue (created if new)')
      .description(
        'Create a queue with settings, or change some of its settings (the others keep their ' +
          'values). Give none to remove a rate, a burst or the concurrency.',
      )
      .option('--discipline <d>', 'priority (default), fifo or fair')
      .option('--rate <n>', 'jobs started per second at most, across nodes (or none)')
      .option('--burst <n>', 'how many may start at once after a quiet spell (or none)')
      .option('--group-rate <n>', 'jobs started per second at most per group (or none)')
      .option('--group-burst <n>', "each group's burst (or none)")
      .option('--concurrency <n>', 'jobs running at once at most, across nodes (or none)')
      .option(
        '--weight <group=w>',
        'fair: the weight of a group (repeatable; replaces all)',
        collect,
      )
      .option('--json', 'print the queue as JSON'),
  ).action(async (name: string, flags: SetFlags) => {
    printQueue(ctx, await clientFor(ctx, flags).setQueue(name, settingsOf(flags)), flags.json);
  });

  clientOptions(
    program
      .command('limits')
      .summary('list named concurrency limits')
      .description(
        'List the named concurrency limits: their totals and the units running jobs take, all ' +
          'nodes together.',
      )
      .option('--json', 'one JSON object per limit and line'),
  ).action(async (flags: ListFlags) => {
    const limits = await clientFor(ctx, flags).limits();
    ctx.stdout.write(
      flags.json === true
        ? limits.map((l) => `${JSON.stringify(l)}\n`).join('')
        : formatTable(
            ['LIMIT', 'USED', 'MAX'],
            limits.map((l) => [l.name, String(l.used), l.max === null ? '-' : String(l.max)]),
          ),
    );
  });

  const limit = program
    .command('limit')
    .summary('set a named concurrency limit')
    .description('Set a named concurrency limit.');
  clientOptions(
    limit
      .command('set')
      .argument('<name>', 'the limit')
      .argument('<max>', 'units running jobs may take at once, or none to remove the total')
      .description(
        'Set the total of a named limit. Jobs take it with limits: ["name"] (one unit) or ' +
          '["name:N"] (N units) and start only while the total allows.',
      ),
  ).action(async (name: string, max: string, flags: ClientFlags) => {
    let value: number | null;
    if (max === 'none') value = null;
    else if (/^\d+$/.test(max)) value = Number(max);
    else throw new UsageError(`max: expected a whole number, or none; got ${JSON.stringify(max)}`);
    const l = await clientFor(ctx, flags).setLimit(name, value);
    ctx.stdout.write(
      `limit ${l.name}: ${l.max === null ? 'no total' : `at most ${l.max}`}, ${l.used} in use\n`,
    );
  });
}
