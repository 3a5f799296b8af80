/**
 * Text the CLI prints for people: tables of jobs, workers and failed groups, one job's details,
 * stats, ages and job attributes for `--format`. Pure: the clock is a parameter.
 */
import type {
  Backoff,
  FailedGroups,
  JobBody,
  StatsBody,
  Unique,
  WorkerBody,
} from '../protocol/api.js';

/** Aligns rows under headers, two spaces apart; the last column is not padded. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...all.map((r) => width(r[c] ?? ''))));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) =>
        c === r.length - 1 ? cell : cell + ' '.repeat((widths[c] ?? 0) - width(cell)),
      )
      .join('  ')
      .trimEnd();
  return `${all.map(line).join('\n')}\n`;
}

function width(s: string): number {
  return [...s].length;
}

/** A short age: `42s`, `5m`, `3h`, `2d`. */
export function age(sinceIso: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(sinceIso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What a job runs, in one line: a shell job's command, otherwise its payload as JSON. */
export function summary(job: Pick<JobBody, 'type' | 'payload'>, max = 60): string {
  const command = (job.payload as { command?: unknown } | null | undefined)?.command;
  let text: string;
  if (typeof command === 'string') text = command;
  else if (Array.isArray(command)) text = command.map((w) => shellQuote(String(w))).join(' ');
  else text = JSON.stringify(job.payload) ?? '';
  return oneLine(text, max);
}

/** Text on one line: runs of white space made one space, cut to `max` characters with `…`. */
function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return width(line) > max ? `${[...line].slice(0, max - 1).join('')}…` : line;
}

/** The table `switchyard jobs` prints. */
export function jobsTable(jobs: readonly JobBody[], now: number): string {
  return formatTable(
    ['ID', 'STATE', 'TYPE', 'QUEUE', 'PRI', 'ATTEMPT', 'WORKER', 'AGE', 'COMMAND'],
    jobs.map((j) => [
      j.id,
      j.state,
      j.type,
      j.queue,
      String(j.priority),
      `${j.attempt}/${j.maxAttempts}`,
      j.workerName ?? '-',
      age(j.createdAt, now),
      summary(j),
    ]),
  );
}

/** The table `switchyard workers` prints. */
export function workersTable(workers: readonly WorkerBody[], now: number): string {
  return formatTable(
    ['ID', 'NAME', 'STATE', 'JOBS', 'QUEUES', 'TYPES', 'LABELS', 'SEEN'],
    workers.map((w) => [
      w.id,
      w.name,
      w.state,
      `${w.running.length}/${w.slots}`,
      w.queues.join(',') || '-',
      w.types.join(',') || '-',
      labelsText(w.labels) || '-',
      `${age(w.lastSeenAt, now)} ago`,
    ]),
  );
}

/**
 * The table `switchyard failed` prints: a group per line, largest first, with its newest job and
 * (by error) the error with its particulars replaced, otherwise the newest job's error; then the
 * total.
 */
export function failedGroupsTable(failed: FailedGroups, now: number): string {
  if (failed.groups.length === 0) return 'no failed jobs\n';
  const byError = failed.by === 'error';
  const table = formatTable(
    ['COUNT', byError ? 'GROUP' : failed.by.toUpperCase(), 'NEWEST', 'AGE', 'ERROR'],
    failed.groups.map((g) => [
      String(g.count),
      g.key,
      g.newest.id,
      age(g.newest.finishedAt ?? g.newest.updatedAt, now),
      oneLine(byError ? g.label : (g.newest.error?.message ?? '-'), 80),
    ]),
  );
  const shown = failed.groups.reduce((n, g) => n + g.count, 0);
  const rest = failed.total - shown;
  return (
    `${table}${failed.total} failed job${failed.total === 1 ? '' : 's'} in all` +
    `${rest > 0 ? `, ${rest} in groups not shown` : ''}\n`
  );
}

function labelsText(labels: Record<string, string[]>): string {
  return Object.entries(labels)
    .flatMap(([k, values]) => values.map((v) => `${k}=${v}`))
    .join(',');
}

/** `switchyard job ID`: one job, a field per line. */
export function jobDetails(job: JobBody, now: number): string {
  const rows: [string, string][] = [
    ['id', job.id],
    ['state', job.state + (job.reason ? ` (${job.reason})` : '')],
    ['type', job.type],
    ['queue', job.queue],
    ['command', summary(job, 200)],
    ['priority', String(job.priority)],
    ['attempt', `${job.attempt} of ${job.maxAttempts}`],
    ['created', `${job.createdAt} (${age(job.createdAt, now)} ago)`],
  ];
  const optional: [string, string | null | undefined][] = [
    [
      'held',
      job.hold && `${job.hold.reason || 'no reason given'} (by ${job.hold.by}, ${job.hold.at})`,
    ],
    ['depends on', job.dependencies?.map((d) => `${d.id} (${d.state})`).join(', ')],
    ['group', job.group],
    ['limits', job.limits.length > 0 ? job.limits.join(', ') : null],
    [
      'eta',
      job.eta &&
        (job.eta.at === null
          ? `unknown (${job.eta.ahead} ahead)`
          : `${job.eta.at} (${job.eta.ahead} ahead, at ${job.eta.rate.toFixed(2)} starts/s)`),
    ],
    ['dependents', job.dependents?.join(', ')],
    ['requires', entries(job.requires)],
    ['meta', entries(job.meta)],
    ['worker', job.workerName],
    ['started', job.startedAt],
    ['finished', job.finishedAt],
    [
      'timeout',
      job.timeout === null
        ? null
        : `${job.timeout} s (${job.killSignal}, grace ${job.killGrace} s)`,
    ],
    ['silence timeout', job.silenceTimeout == null ? null : `${job.silenceTimeout} s`],
    ['backoff', job.backoff && backoffText(job.backoff)],
    ['unique', job.unique && uniqueText(job.unique)],
    [
      'progress',
      job.progress &&
        [job.progress.percent === null ? null : `${job.progress.percent}%`, job.progress.message]
          .filter((p) => p !== null)
          .join(' '),
    ],
    ['attributes', entries(job.attributes)],
    ['error', job.error && `${job.error.message} (${job.error.code})`],
    ['error group', job.errorGroup],
    ['exit code', exitCodeOf(job)],
  ];
  for (const [key, value] of optional) if (value) rows.push([key, value]);
  const pad = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(pad)} ${v}`).join('\n') + '\n';
}

function backoffText(backoff: Backoff): string {
  const parts = [`${backoff.type} from ${backoff.delay} s`];
  if (backoff.maxDelay !== undefined) parts.push(`at most ${backoff.maxDelay} s`);
  if (backoff.jitter !== undefined) parts.push(`jitter ${backoff.jitter}`);
  return parts.join(', ');
}

function uniqueText(unique: Unique): string {
  const limits = [];
  if (unique.for !== undefined) limits.push(`for ${unique.for} s`);
  if (unique.while !== undefined) limits.push(`while ${unique.while.join(', ')}`);
  return limits.length === 0 ? unique.key : `${unique.key} (${limits.join('; ')})`;
}

function entries(record: Record<string, unknown>): string | null {
  const list = Object.entries(record).map(
    ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
  );
  return list.length === 0 ? null : list.join(', ');
}

function exitCodeOf(job: JobBody): string | null {
  const result = job.result as { exitCode?: unknown; signal?: unknown } | null | undefined;
  if (typeof result?.exitCode === 'number') return String(result.exitCode);
  if (typeof result?.signal === 'string') return `killed by ${result.signal}`;
  return null;
}

/** `switchyard stats`. */
export function statsText(stats: StatsBody): string {
  const rows: [string, string][] = [
    ['workers', `${stats.workers} (${stats.idleWorkers} idle)`],
    ['slots', `${stats.slots} (${stats.freeSlots} free)`],
    ...Object.entries(stats.jobs).map(([state, n]): [string, string] => [state, String(n)]),
    ['frozen', stats.frozen ? 'yes' : 'no'],
    ['uptime', `${Math.floor(stats.uptimeSeconds)} s`],
    ['store', stats.store],
    ['queue manager', stats.queueManager],
  ];
  const pad = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(pad)} ${v}`).join('\n') + '\n';
}

/**
 * A job's attribute by name for `--format`: first an attribute the job set (`::attr`), exactly
 * as named, then ignoring case; then the job's own fields, case-insensitively, with dots into objects
 * (`meta.owner`, `result.exitCode`, `progress.percent`); `worker` means `workerName`.
 * Undefined when the job does not have it (or it is null).
 */
export function jobAttribute(job: JobBody, name: string): unknown {
  if (Object.hasOwn(job.attributes, name)) return job.attributes[name];
  const lower = name.toLowerCase();
  const attr = Object.keys(job.attributes).find((k) => k.toLowerCase() === lower);
  if (attr !== undefined) return job.attributes[attr];
  if (lower === 'worker') return job.workerName ?? undefined;
  let value: unknown = job;
  for (const part of lower.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    const key = Object.keys(value).find((k) => k.toLowerCase() === part);
    value = key === undefined ? undefined : (value as Record<string, unknown>)[key];
  }
  return value ?? undefined;
}
