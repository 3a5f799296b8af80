/**
 * The client commands that read jobs and show the broker's state: `jobs`, `job`, `workers` and
 * `stats`. Each talks to the broker through the SDK; the commands that change jobs are in
 * ./action-commands.ts.
 */
import { droppedLine, type JobBody, type JobListQuery, type LogList } from '../protocol/api.js';
import { clientFor, type CliContext, type ClientFlags } from './context.js';
import { throwUnlessSucceeded, UsageError } from './errors.js';
import { followJob } from './progress.js';
import { jobFilter, type FilterFlags } from './filter.js';
import { jobAttribute, jobDetails, jobsTable, statsText, workersTable } from './format.js';
import { sprintf, unescapeFormat } from './printf.js';

/** The options of `switchyard jobs`. */
export interface JobsFlags extends ClientFlags, FilterFlags {
  limit?: string;
  all?: boolean;
  json?: boolean;
  /** Flat list of format/attribute pairs: [fmt1, attr1, fmt2, attr2, …]. */
  format?: string[];
}

/**
 * One `--format`: a printf format and the attribute it prints (`--format FMT ATTR`, as
 * condor_q -format), or a template naming its attributes (`--format '%{id} %{attributes.x}\n'`),
 * its escapes interpreted.
 */
export type FormatPair = { format: string; attribute: string } | { template: string };

/** `%{name}` in a template: a job's attribute or field (see jobAttribute). */
const TEMPLATE_FIELD = /%\{([^}]+)\}/g;

/**
 * The values of repeated `--format` options: a value with `%{` is a template alone; any other
 * is a format followed by the attribute it prints.
 */
export function formatPairs(values: readonly string[]): FormatPair[] {
  const out: FormatPair[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as string;
    if (value.includes('%{')) {
      out.push({ template: unescapeFormat(value) });
      continue;
    }
    if (i + 1 >= values.length) {
      throw new UsageError(
        `--format takes a format and an attribute name (--format "%s\\n" id) or a template ` +
          `(--format '%{id} %{state}\\n'); "${value}" has no attribute after it`,
      );
    }
    out.push({ format: unescapeFormat(value), attribute: values[++i] as string });
  }
  return out;
}

/**
 * One job under `--format`, no newline added: each pair whose attribute the job has, and each
 * template all of whose attributes it has, concatenated.
 */
export function formatJob(job: JobBody, pairs: readonly FormatPair[]): string {
  return pairs
    .map((pair) => {
      if ('template' in pair) {
        let missing = false;
        const text = pair.template.replace(TEMPLATE_FIELD, (_all, name: string) => {
          const value = jobAttribute(job, name.trim());
          if (value === undefined) missing = true;
          return typeof value === 'object' ? JSON.stringify(value) : String(value);
        });
        return missing ? '' : text;
      }
      const value = jobAttribute(job, pair.attribute);
      return value === undefined ? '' : sprintf(pair.format, value);
    })
    .join('');
}

/** Runs `switchyard jobs`. */
export async function jobsCommand(ctx: CliContext, flags: JobsFlags): Promise<void> {
  const pairs = flags.format === undefined ? null : formatPairs(flags.format);
  const query: JobListQuery = jobFilter(flags, ctx.now());
  if (flags.limit !== undefined) {
    if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1 || Number(flags.limit) > 1000) {
      throw new UsageError(`--limit: must be an integer from 1 to 1000, got "${flags.limit}"`);
    }
    query.limit = Number(flags.limit);
  }
  const client = clientFor(ctx, flags);
  const print = (jobs: readonly JobBody[], first: boolean): void => {
    if (pairs !== null) ctx.stdout.write(jobs.map((j) => formatJob(j, pairs)).join(''));
    else if (flags.json === true)
      ctx.stdout.write(jobs.map((j) => `${JSON.stringify(j)}\n`).join(''));
    else if (first || jobs.length > 0) ctx.stdout.write(jobsTable(jobs, ctx.now()));
  };
  if (flags.all !== true) {
    print((await client.list(query)).jobs, true);
    return;
  }
  // A table needs all rows to align its columns; JSON lines and --format stream page by page.
  const table = pairs === null && flags.json !== true;
  const rows: JobBody[] = [];
  for await (const page of client.listPages(query)) {
    if (table) rows.push(...page.jobs);
    else print(page.jobs, false);
  }
  if (table) print(rows, true);
}

/** The options of `switchyard job ID`. */
export interface JobFlags extends ClientFlags {
  json?: boolean;
  logs?: boolean;
  follow?: boolean;
}

/** Runs `switchyard job ID`. */
export async function jobCommand(ctx: CliContext, id: string, flags: JobFlags): Promise<void> {
  const client = clientFor(ctx, flags);
  if (flags.follow === true) {
    if (flags.json === true || flags.logs === true)
      throw new UsageError('--follow: give it alone (it streams the output already)');
    throwUnlessSucceeded(await followJob(client, id, ctx));
    return;
  }
  const job = await client.get(id);
  if (flags.logs !== true) {
    ctx.stdout.write(
      flags.json === true ? `${JSON.stringify(job, null, 2)}\n` : jobDetails(job, ctx.now()),
    );
    return;
  }
  const logs = [];
  let dropped: LogList['dropped'] = null;
  let after: string | undefined;
  for (;;) {
    const page = await client.logs(id, after === undefined ? {} : { after });
    logs.push(...page.logs);
    dropped = page.dropped ?? null;
    if (page.nextCursor === null || page.logs.length === 0) break;
    after = page.nextCursor;
  }
  if (flags.json === true) {
    ctx.stdout.write(`${JSON.stringify({ job, logs, dropped }, null, 2)}\n`);
    return;
  }
  ctx.stdout.write(jobDetails(job, ctx.now()));
  ctx.stdout.write(logs.length === 0 && dropped === null ? '\n(no output)\n' : '\n');
  // The job kept the head and the tail of its output: say where the middle went.
  let marked = dropped === null;
  for (const entry of logs) {
    if (!marked && Number(entry.seq) > Number(dropped!.after)) {
      ctx.stdout.write(droppedLine(dropped!.bytes));
      marked = true;
    }
    ctx.stdout.write(entry.data);
  }
  if (!marked) ctx.stdout.write(droppedLine(dropped!.bytes));
}

/** Runs `switchyard workers`. */
export async function workersCommand(
  ctx: CliContext,
  flags: ClientFlags & { json?: boolean },
): Promise<void> {
  const workers = await clientFor(ctx, flags).workers();
  ctx.stdout.write(
    flags.json === true
      ? workers.map((w) => `${JSON.stringify(w)}\n`).join('')
      : workersTable(workers, ctx.now()),
  );
}

/** Runs `switchyard stats`. */
export async function statsCommand(
  ctx: CliContext,
  flags: ClientFlags & { json?: boolean },
): Promise<void> {
  const stats = await clientFor(ctx, flags).stats();
  ctx.stdout.write(flags.json === true ? `${JSON.stringify(stats, null, 2)}\n` : statsText(stats));
}
