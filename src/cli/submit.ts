/**
 * `switchyard submit`: the command line turned into a SubmitJob (pure, `buildSubmitJob`), and
 * the command itself: submit, print the id, and with `--wait` follow the job to its end.
 */
import { KILL_SIGNALS, type SubmitJob } from '../protocol/api.js';
import type { CliContext } from './context.js';
import { clientFor, type ClientFlags } from './context.js';
import { throwUnlessSucceeded, UsageError } from './errors.js';
import { parseId, parseStates } from './filter.js';
import { followJob } from './progress.js';

/** The options of `switchyard submit`, as commander gives them. */
export interface SubmitFlags extends ClientFlags {
  /** Default `shell`. */
  type?: string;
  queue?: string;
  require?: string[];
  priority?: string;
  group?: string;
  limit?: string[];
  maxAttempts?: string;
  timeout?: string;
  killSignal?: string;
  killGrace?: string;
  meta?: string[];
  payload?: string;
  hold?: boolean;
  holdReason?: string;
  delay?: string;
  backoffType?: string;
  backoffDelay?: string;
  backoffMax?: string;
  backoffJitter?: string;
  silenceTimeout?: string;
  uniqueKey?: string;
  uniqueFor?: string;
  uniqueWhile?: string;
  notify?: string;
  notifyOn?: string;
  dependsOn?: string[];
  wait?: boolean;
  json?: boolean;
}

/** Characters that make a single command word a shell string rather than a program name. */
const SHELL_SYNTAX = /[\s|&;<>()$`\\"'*?[\]#~{}!]/;

/**
 * The job a `submit` command line describes. For shell jobs the words become
 * `payload.command`: several words an argv array, one word with spaces (or other shell syntax)
 * a shell string, one plain word a one-element argv.
 * @throws UsageError naming the flag that is wrong.
 */
export function buildSubmitJob(flags: SubmitFlags, words: readonly string[]): SubmitJob {
  const type = flags.type ?? 'shell';
  const job: SubmitJob = { type };
  if (flags.queue !== undefined) job.queue = flags.queue;
  if (flags.require !== undefined) job.requires = pairs('--require', flags.require);
  if (flags.meta !== undefined) job.meta = pairs('--meta', flags.meta);
  if (flags.priority !== undefined) job.priority = integer('--priority', flags.priority);
  if (flags.group !== undefined) job.group = flags.group;
  if (flags.limit !== undefined) job.limits = flags.limit;
  if (flags.maxAttempts !== undefined)
    job.maxAttempts = integer('--max-attempts', flags.maxAttempts);
  if (flags.timeout !== undefined) job.timeout = seconds('--timeout', flags.timeout, false);
  if (flags.killGrace !== undefined) job.killGrace = seconds('--kill-grace', flags.killGrace, true);
  if (flags.killSignal !== undefined) job.killSignal = signal(flags.killSignal);
  if (flags.delay !== undefined) job.delay = seconds('--delay', flags.delay, true);
  if (flags.holdReason !== undefined) {
    if (flags.holdReason.trim() === '') throw new UsageError('--hold-reason: must not be empty');
    job.hold = flags.holdReason;
  } else if (flags.hold === true) job.hold = true;
  const backoff = backoffOf(flags);
  if (backoff !== undefined) job.backoff = backoff;
  if (flags.silenceTimeout !== undefined)
    job.silenceTimeout = seconds('--silence-timeout', flags.silenceTimeout, false);
  const unique = uniqueOf(flags);
  if (unique !== undefined) job.unique = unique;
  const notify = notifyOf(flags);
  if (notify !== undefined) job.notify = notify;
  if (flags.dependsOn !== undefined)
    job.dependsOn = flags.dependsOn.map((id) => parseId('--depends-on', id.trim()));

  let payload: unknown;
  if (flags.payload !== undefined) {
    try {
      payload = JSON.parse(flags.payload);
    } catch (err) {
      throw new UsageError(`--payload: not valid JSON (${(err as Error).message})`);
    }
  }
  if (type !== 'shell') {
    if (words.length > 0) {
      throw new UsageError(
        `a COMMAND is only for shell jobs; give the input of a ${type} job with --payload`,
      );
    }
    if (payload !== undefined) job.payload = payload;
    return job;
  }
  const base = payload ?? {};
  if (typeof base !== 'object' || base === null || Array.isArray(base)) {
    throw new UsageError(
      '--payload: a shell job\'s payload must be a JSON object, e.g. {"cwd": "/tmp"}',
    );
  }
  const given = (base as { command?: unknown }).command;
  if (words.length > 0 && given !== undefined) {
    throw new UsageError('give the command either after -- or in --payload, not both');
  }
  if (words.length === 0 && given === undefined) {
    throw new UsageError('missing COMMAND: e.g. switchyard submit -- echo hello');
  }
  job.payload = words.length === 0 ? base : { ...base, command: commandOf(words) };
  return job;
}

/** Command words as `payload.command`: see buildSubmitJob. */
export function commandOf(words: readonly string[]): string | string[] {
  if (words.length === 1 && SHELL_SYNTAX.test(words[0] as string)) return words[0] as string;
  return [...words];
}

function pairs(flag: string, list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag}: "${pair}" must have the form key=value`);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new UsageError(`${flag}: "${key}" is given twice`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

function integer(flag: string, value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) {
    throw new UsageError(`${flag}: must be an integer, got "${value}"`);
  }
  return Number(value);
}

const BACKOFF_TYPES = ['exponential', 'fixed'] as const;

/** The --backoff-* flags as a Backoff; the type defaults to exponential, the delay is needed. */
function backoffOf(flags: SubmitFlags): SubmitJob['backoff'] {
  const { backoffType, backoffDelay, backoffMax, backoffJitter } = flags;
  if (backoffDelay === undefined) {
    const given = [
      ['--backoff-type', backoffType],
      ['--backoff-max', backoffMax],
      ['--backoff-jitter', backoffJitter],
    ].find(([, value]) => value !== undefined);
    if (given !== undefined) throw new UsageError(`${given[0]}: needs --backoff-delay too`);
    return undefined;
  }
  const type = BACKOFF_TYPES.find((t) => t === (backoffType ?? 'exponential').trim());
  if (type === undefined) {
    throw new UsageError(`--backoff-type: must be exponential or fixed, got "${backoffType}"`);
  }
  const backoff: NonNullable<SubmitJob['backoff']> = {
    type,
    delay: seconds('--backoff-delay', backoffDelay, true),
  };
  if (backoffMax !== undefined) backoff.maxDelay = seconds('--backoff-max', backoffMax, true);
  if (backoffJitter !== undefined) {
    const jitter = Number(backoffJitter.trim());
    if (backoffJitter.trim() === '' || !(jitter >= 0 && jitter <= 1)) {
      throw new UsageError(
        `--backoff-jitter: must be a number from 0 to 1, got "${backoffJitter}"`,
      );
    }
    backoff.jitter = jitter;
  }
  return backoff;
}

const NOTIFY_EVENTS = ['succeeded', 'failed', 'canceled'] as const;

/** --notify URL (and --notify-on events) as the job's own callback. */
function notifyOf(flags: SubmitFlags): SubmitJob['notify'] {
  if (flags.notify === undefined) {
    if (flags.notifyOn !== undefined) throw new UsageError('--notify-on: needs --notify too');
    return undefined;
  }
  if (!/^https?:\/\/\S+$/i.test(flags.notify))
    throw new UsageError(`--notify: must be an http:// or https:// URL, got "${flags.notify}"`);
  const notify: NonNullable<SubmitJob['notify']> = { url: flags.notify };
  if (flags.notifyOn !== undefined) {
    const events = flags.notifyOn.split(',').map((e) => e.trim());
    const chosen: Array<(typeof NOTIFY_EVENTS)[number]> = [];
    for (const e of events) {
      const known = NOTIFY_EVENTS.find((n) => n === e);
      if (known === undefined)
        throw new UsageError(
          `--notify-on: "${e}" is not one of ${NOTIFY_EVENTS.join(', ')} (comma-separated)`,
        );
      if (!chosen.includes(known)) chosen.push(known);
    }
    notify.events = chosen;
  }
  return notify;
}

/** The --unique-* flags as a Unique; --unique-for and --unique-while need --unique-key. */
function uniqueOf(flags: SubmitFlags): SubmitJob['unique'] {
  const { uniqueKey, uniqueFor, uniqueWhile } = flags;
  if (uniqueKey === undefined) {
    if (uniqueFor !== undefined) throw new UsageError('--unique-for: needs --unique-key too');
    if (uniqueWhile !== undefined) throw new UsageError('--unique-while: needs --unique-key too');
    return undefined;
  }
  if (uniqueKey === '') throw new UsageError('--unique-key: must not be empty');
  const unique: NonNullable<SubmitJob['unique']> = { key: uniqueKey };
  if (uniqueFor !== undefined) unique.for = seconds('--unique-for', uniqueFor, false);
  if (uniqueWhile !== undefined) unique.while = parseStates('--unique-while', uniqueWhile);
  return unique;
}

const UNIT: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

/** Seconds, plain (`90`, `1.5`) or with a unit (`90s`, `5m`, `2h`). */
function seconds(flag: string, value: string, zeroOk: boolean): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)([smh]?)$/.exec(value.trim());
  const n = m ? Number(m[1]) * (UNIT[m[2] ?? ''] ?? 1) : NaN;
  if (!Number.isFinite(n) || (!zeroOk && n === 0)) {
    throw new UsageError(
      `${flag}: must be a ${zeroOk ? '' : 'positive '}number of seconds (or with s, m or h), got "${value}"`,
    );
  }
  return n;
}

function signal(value: string): SubmitJob['killSignal'] {
  const upper = value.trim().toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const found = KILL_SIGNALS.find((s) => s === name);
  if (found === undefined) {
    throw new UsageError(
      `--kill-signal: must be one of ${KILL_SIGNALS.join(', ')}, got "${value}"`,
    );
  }
  return found;
}

/** Runs `switchyard submit`. */
export async function submitCommand(
  ctx: CliContext,
  words: readonly string[],
  flags: SubmitFlags,
): Promise<void> {
  const job = buildSubmitJob(flags, words);
  const client = clientFor(ctx, flags);
  const submitted = await client.submit(job);
  // A duplicate is not an error: the job asked for exists, and its id is the answer.
  if (submitted.deduplicated === true) {
    const key = submitted.unique?.key ?? job.unique?.key;
    ctx.stderr.write(
      `duplicate of job ${submitted.id}${key === undefined ? '' : ` (unique key "${key}")`}: ` +
        'no new job was submitted\n',
    );
  }
  if (flags.wait !== true) {
    ctx.stdout.write(flags.json === true ? `${JSON.stringify(submitted)}\n` : `${submitted.id}\n`);
    return;
  }
  if (submitted.deduplicated !== true) ctx.stderr.write(`job ${submitted.id} submitted\n`);
  const done = await followJob(client, submitted.id, ctx, { output: flags.json !== true });
  if (flags.json === true) ctx.stdout.write(`${JSON.stringify(done)}\n`);
  throwUnlessSucceeded(done);
}
