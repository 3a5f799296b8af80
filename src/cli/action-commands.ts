/**
 * The commands that act on jobs and on the broker: the action verbs (`hold`, `release`, `retry`,
 * `delete`, `priority`, `move`, `run-now`, `cancel`) on job ids or on the jobs the filter flags
 * choose, `cleanslate`, `failed`, `freeze` and `unfreeze`. Which request an action's command line
 * becomes is a pure plan (`planAction`); `actionCommand` sends it.
 */
import type { Client } from '../client/client.js';
import {
  failedGroupings,
  type ActionRequest,
  type ActionResult,
  type FailedGrouping,
  type JobAction,
  type JobBody,
} from '../protocol/api.js';
import { clientFor, type CliContext, type ClientFlags } from './context.js';
import { UsageError } from './errors.js';
import { isEmptyFilter, jobFilter, parseId, type FilterFlags } from './filter.js';
import { failedGroupsTable } from './format.js';

/** An action and what it needs, without the jobs it applies to. */
export type ActionSpec =
  | { action: Exclude<JobAction, 'hold' | 'priority' | 'move'> }
  | { action: 'hold'; reason?: string }
  | { action: 'priority'; priority: number }
  | { action: 'move'; queue: string };

/** The options of the action verbs. */
export interface ActionFlags extends ClientFlags, FilterFlags {
  dryRun?: boolean;
  /** `hold` only. */
  reason?: string;
}

/** What an action's command line sends: one job's own route, or `POST /jobs/actions`. */
export type ActionPlan = { kind: 'one'; id: string } | { kind: 'many'; request: ActionRequest };

/**
 * The request an action's command line describes. One id: that job's route (but a dry run, which
 * only the many-jobs route knows); several ids: the ids; filter flags: the filter. Neither ids
 * nor filter flags is an error: an action never applies to every job by default.
 * @throws UsageError naming what is wrong.
 */
export function planAction(
  spec: ActionSpec,
  ids: readonly string[],
  flags: ActionFlags,
  now: number,
): ActionPlan {
  const filter = jobFilter(flags, now);
  const filtered = !isEmptyFilter(filter);
  if (ids.length > 0 && filtered) {
    throw new UsageError(`${spec.action}: give job ids or filter options, not both`);
  }
  if (ids.length === 0 && !filtered) {
    throw new UsageError(
      `${spec.action}: which jobs? Give their ids, or filter options such as --state and ` +
        `--queue (see switchyard ${spec.action} --help); only cleanslate acts on every job`,
    );
  }
  const unique = [...new Set(ids.map((id) => parseId('job id', id)))];
  if (unique.length === 1 && flags.dryRun !== true) return { kind: 'one', id: unique[0] as string };
  const request: ActionRequest = {
    ...spec,
    ...(filtered ? { filter } : { ids: unique }),
    ...(flags.dryRun === true ? { dryRun: true } : {}),
  };
  return { kind: 'many', request };
}

/** One job's own route for an action. */
function actOnOne(client: Client, spec: ActionSpec, id: string): Promise<JobBody> {
  switch (spec.action) {
    case 'cancel':
      return client.cancel(id);
    case 'hold':
      return client.hold(id, spec.reason);
    case 'release':
      return client.release(id);
    case 'retry':
      return client.retry(id);
    case 'delete':
      return client.delete(id);
    case 'run-now':
      return client.runNow(id);
    case 'priority':
      return client.update(id, { priority: spec.priority });
    case 'move':
      return client.update(id, { queue: spec.queue });
  }
}

/** What an action on many jobs did: `matched 4, changed 3`, or what it would do. */
export function actionResultText(result: ActionResult): string {
  return result.dryRun
    ? `matched ${result.matched}, would change ${result.changed} (dry run)\n`
    : `matched ${result.matched}, changed ${result.changed}\n`;
}

/** Runs an action verb: prints one job's new state, or the counts of an action on many. */
export async function actionCommand(
  ctx: CliContext,
  spec: ActionSpec,
  ids: readonly string[],
  flags: ActionFlags,
): Promise<void> {
  const plan = planAction(spec, ids, flags, ctx.now());
  const client = clientFor(ctx, flags);
  if (plan.kind === 'many') {
    ctx.stdout.write(actionResultText(await client.act(plan.request)));
    return;
  }
  const job = await actOnOne(client, spec, plan.id);
  ctx.stdout.write(`job ${job.id}: ${spec.action === 'delete' ? 'deleted' : job.state}\n`);
}

/** `switchyard hold`'s action, with the reason given. */
export function holdSpec(reason: string | undefined): ActionSpec {
  if (reason === undefined) return { action: 'hold' };
  if (reason.trim() === '') throw new UsageError('--reason: must not be empty');
  return { action: 'hold', reason };
}

/** The priority argument of `switchyard priority`. */
export function parsePriority(value: string): number {
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || Math.abs(n) > 1_000_000) {
    throw new UsageError(`priority: must be an integer from -1000000 to 1000000, got "${value}"`);
  }
  return n;
}

/** The options of `switchyard cleanslate`. */
export interface CleanslateFlags extends ClientFlags {
  yes?: boolean;
  dryRun?: boolean;
}

/**
 * Runs `switchyard cleanslate`: deletes every job. On a terminal it asks first (typing `yes`
 * goes on); without one it needs `--yes`, so that no script erases everything by mistake.
 */
export async function cleanslateCommand(ctx: CliContext, flags: CleanslateFlags): Promise<void> {
  const asks = flags.yes !== true && flags.dryRun !== true;
  if (asks && ctx.stdin?.isTTY !== true) {
    throw new UsageError(
      'cleanslate erases every job: without a terminal to confirm it on, add --yes',
    );
  }
  const client = clientFor(ctx, flags);
  const everything: ActionRequest = { action: 'delete', filter: {} };
  if (flags.dryRun === true) {
    const { matched } = await client.act({ ...everything, dryRun: true });
    ctx.stdout.write(`would erase ${jobsText(matched)} (dry run)\n`);
    return;
  }
  if (asks) {
    const { matched } = await client.act({ ...everything, dryRun: true });
    ctx.stderr.write(
      `This erases every job of the broker at ${client.url} (now ${jobsText(matched)}),\n` +
        'with their attempts and output. It cannot be undone. Type yes to erase them: ',
    );
    const answer = (await ctx.stdin?.readLine()) ?? null;
    // At the end of the input (Ctrl-D) the terminal has not moved to a new line.
    if (answer === null) ctx.stderr.write('\n');
    if (answer?.trim() !== 'yes') throw new UsageError('not confirmed: nothing was erased');
  }
  const { changed } = await client.act(everything);
  ctx.stdout.write(`erased ${jobsText(changed)}\n`);
}

function jobsText(n: number): string {
  return `${n} job${n === 1 ? '' : 's'}`;
}

/** The options of `switchyard failed`. */
export interface FailedFlags extends ClientFlags {
  by?: string;
  limit?: string;
  json?: boolean;
}

/** Runs `switchyard failed`: the failed jobs by group, a table or JSON. */
export async function failedCommand(ctx: CliContext, flags: FailedFlags): Promise<void> {
  let by: FailedGrouping | undefined;
  if (flags.by !== undefined) {
    by = failedGroupings.find((g) => g === flags.by);
    if (by === undefined) {
      throw new UsageError(`--by: must be one of ${failedGroupings.join(', ')}, got "${flags.by}"`);
    }
  }
  let limit: number | undefined;
  if (flags.limit !== undefined) {
    if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1 || Number(flags.limit) > 1000) {
      throw new UsageError(`--limit: must be an integer from 1 to 1000, got "${flags.limit}"`);
    }
    limit = Number(flags.limit);
  }
  const groups = await clientFor(ctx, flags).failedGroups(by, limit);
  ctx.stdout.write(
    flags.json === true
      ? `${JSON.stringify(groups, null, 2)}\n`
      : failedGroupsTable(groups, ctx.now()),
  );
}

/** Runs `switchyard freeze` or `switchyard unfreeze`, printing what the broker now does. */
export async function freezeCommand(
  ctx: CliContext,
  freeze: boolean,
  flags: ClientFlags,
): Promise<void> {
  const client = clientFor(ctx, flags);
  const { frozen } = freeze ? await client.freeze() : await client.unfreeze();
  ctx.stdout.write(
    frozen
      ? 'frozen: the broker refuses submissions until switchyard unfreeze\n'
      : 'not frozen: the broker accepts submissions\n',
  );
}
