/**
 * `switchyard schedules` and `switchyard schedule create|show|set|pause|resume|delete NAME`:
 * cron schedules through the SDK. The broker checks everything (expression, time zone, the job
 * template as a submission); the CLI checks only what it parses itself (JSON, its own flags).
 */
import type { ScheduleBody, SchedulePatch } from '../protocol/schedules.js';
import type { SubmitJob } from '../protocol/api.js';
import { clientFor, type CliContext, type ClientFlags } from './context.js';
import { UsageError } from './errors.js';
import { formatTable } from './format.js';

/** The flags of `schedule create` and `schedule set`. */
export interface ScheduleFlags extends ClientFlags {
  cron?: string;
  timezone?: string;
  job?: string;
  command?: string;
  overlap?: string;
  missed?: string;
  paused?: boolean;
  json?: boolean;
}

/** The table `switchyard schedules` prints. */
export function schedulesTable(schedules: readonly ScheduleBody[]): string {
  if (schedules.length === 0) return 'no schedules\n';
  return formatTable(
    ['NAME', 'CRON', 'TIMEZONE', 'NEXT RUN', 'STATE', 'FIRED', 'SKIPPED', 'LAST JOB'],
    schedules.map((s) => [
      s.name,
      s.cron,
      s.timezone,
      s.nextRunAt ?? '-',
      s.paused ? 'paused' : 'active',
      String(s.fired),
      String(s.skipped),
      s.lastJobId ?? '-',
    ]),
  );
}

/** One schedule in full, for `schedule show`. */
export function scheduleDetails(s: ScheduleBody): string {
  const rows: Array<[string, string]> = [
    ['name', s.name],
    ['cron', s.cron],
    ['timezone', s.timezone],
    ['state', s.paused ? 'paused' : 'active'],
    ['overlap', s.overlap],
    ['missed', s.missed],
    ['next runs', s.next.length === 0 ? '-' : s.next.join(', ')],
    ['last run', s.lastRunAt ?? '-'],
    ['last job', s.lastJobId ?? '-'],
    ['fired', String(s.fired)],
    ['skipped', String(s.skipped)],
    ['job', JSON.stringify(s.job)],
  ];
  const pad = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(pad)} ${v}`).join('\n') + '\n';
}

const OVERLAP = ['skip', 'allow'] as const;
const MISSED = ['once', 'skip'] as const;

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`${flag}: must be ${allowed.join(' or ')}, got "${value.slice(0, 40)}"`);
  return value as T;
}

/** The job template from `--job JSON` or `--command CMD` (a shell job), if given. */
function templateOf(flags: ScheduleFlags): SubmitJob | undefined {
  if (flags.job !== undefined && flags.command !== undefined)
    throw new UsageError('--job, --command: give one of them');
  if (flags.command !== undefined) return { type: 'shell', payload: { command: flags.command } };
  if (flags.job === undefined) return undefined;
  let job: unknown;
  try {
    job = JSON.parse(flags.job);
  } catch {
    throw new UsageError('--job: not JSON (give the job as POST /api/v1/jobs takes it)');
  }
  if (typeof job !== 'object' || job === null || Array.isArray(job))
    throw new UsageError('--job: must be a JSON object such as {"type": "report"}');
  return job as SubmitJob;
}

function settingsOf(flags: ScheduleFlags): SchedulePatch {
  const patch: SchedulePatch = {};
  if (flags.cron !== undefined) patch.cron = flags.cron;
  if (flags.timezone !== undefined) patch.timezone = flags.timezone;
  const job = templateOf(flags);
  if (job !== undefined) patch.job = job;
  if (flags.overlap !== undefined) patch.overlap = oneOf('--overlap', flags.overlap, OVERLAP);
  if (flags.missed !== undefined) patch.missed = oneOf('--missed', flags.missed, MISSED);
  return patch;
}

function print(ctx: CliContext, s: ScheduleBody, json: boolean | undefined): void {
  ctx.stdout.write(json === true ? `${JSON.stringify(s, null, 2)}\n` : scheduleDetails(s));
}

/** Runs `switchyard schedules`. */
export async function schedulesCommand(
  ctx: CliContext,
  flags: ClientFlags & { json?: boolean },
): Promise<void> {
  const schedules = await clientFor(ctx, flags).schedules();
  ctx.stdout.write(
    flags.json === true
      ? schedules.map((s) => `${JSON.stringify(s)}\n`).join('')
      : schedulesTable(schedules),
  );
}

/** Runs `switchyard schedule create NAME`. */
export async function scheduleCreateCommand(
  ctx: CliContext,
  name: string,
  flags: ScheduleFlags,
): Promise<void> {
  const settings = settingsOf(flags);
  if (settings.cron === undefined) throw new UsageError('--cron: give the cron expression');
  if (settings.job === undefined)
    throw new UsageError('--job or --command: give the job each tick submits');
  const created = await clientFor(ctx, flags).createSchedule({
    ...settings,
    name,
    cron: settings.cron,
    job: settings.job,
    ...(flags.paused === true ? { paused: true } : {}),
  });
  print(ctx, created, flags.json);
}

/** Runs `switchyard schedule set NAME`. */
export async function scheduleSetCommand(
  ctx: CliContext,
  name: string,
  flags: ScheduleFlags,
): Promise<void> {
  const patch = settingsOf(flags);
  if (Object.keys(patch).length === 0)
    throw new UsageError(
      'give something to change: --cron, --timezone, --job, --command, --overlap or --missed',
    );
  print(ctx, await clientFor(ctx, flags).updateSchedule(name, patch), flags.json);
}

/** Runs `switchyard schedule show|pause|resume|delete NAME`. */
export async function scheduleActionCommand(
  ctx: CliContext,
  action: 'show' | 'pause' | 'resume' | 'delete',
  name: string,
  flags: ClientFlags & { json?: boolean },
): Promise<void> {
  const client = clientFor(ctx, flags);
  const s =
    action === 'show'
      ? await client.schedule(name)
      : action === 'pause'
        ? await client.pauseSchedule(name)
        : action === 'resume'
          ? await client.resumeSchedule(name)
          : await client.deleteSchedule(name);
  if (action === 'show' || flags.json === true) print(ctx, s, flags.json);
  else ctx.stdout.write(`schedule ${s.name} ${action === 'delete' ? 'deleted' : `${action}d`}\n`);
}
