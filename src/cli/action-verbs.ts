/**
 * The action verbs on jobs (`hold`, `release`, `retry`, `delete`, `priority`, `move`, `run-now`,
 * `cancel`) declared with commander: one table of what each is called, says and sends, and the
 * options they share. Their action is ./action-commands.ts.
 */
import type { Command } from 'commander';
import {
  actionCommand,
  holdSpec,
  parsePriority,
  type ActionFlags,
  type ActionSpec,
} from './action-commands.js';
import type { CliContext } from './context.js';
import { clientOptions, filterOptions, TIME_HELP } from './options.js';

/** An action verb on jobs: what it is called, says and sends. */
type ActionVerb = {
  name: string;
  summary: string;
  description: string;
  /** Has --reason. */
  reason?: boolean;
  example: string;
} & (
  | {
      /** An argument before the job ids: priority's N, move's QUEUE. */
      argument: { name: string; description: string };
      /** The action to send, from that argument. */
      spec(argument: string): ActionSpec;
    }
  | {
      argument?: undefined;
      /** The action to send, from the flags. */
      spec(flags: ActionFlags): ActionSpec;
    }
);

const ACTION_VERBS: readonly ActionVerb[] = [
  {
    name: 'hold',
    summary: 'hold jobs: keep them out of dispatch until released',
    description:
      'Hold jobs (scheduled, queued or running): they stay out of dispatch, in state held, ' +
      'until released. A running one is stopped (its kill signal, SIGKILL after the grace ' +
      'time) and loses its attributes; a held attempt does not count against its attempts.',
    reason: true,
    spec: (flags) => holdSpec(flags.reason),
    example: 'switchyard hold --queue gpu --state queued --reason "driver upgrade"',
  },
  {
    name: 'release',
    summary: 'release held jobs',
    description: 'Release held jobs: back to queued.',
    spec: () => ({ action: 'release' }),
    example: 'switchyard release --state held --queue gpu',
  },
  {
    name: 'retry',
    summary: 'retry failed or canceled jobs',
    description:
      'Retry failed or canceled jobs: back to queued with all their attempts again; their ' +
      'error is cleared, their past attempts kept.',
    spec: () => ({ action: 'retry' }),
    example: 'switchyard retry --state failed --queue emails --dry-run',
  },
  {
    name: 'delete',
    summary: 'delete jobs',
    description:
      'Delete jobs with their attempts and output. A running one is stopped first; jobs ' +
      'waiting for one are canceled.',
    spec: () => ({ action: 'delete' }),
    example: 'switchyard delete --state succeeded --finished-before 7d',
  },
  {
    name: 'priority',
    summary: 'change the priority of jobs',
    description:
      'Change the priority of jobs that wait (waiting, scheduled, queued or held); higher ' +
      'runs first.',
    argument: {
      name: '<n>',
      description: 'the new priority, an integer from -1000000 to 1000000',
    },
    spec: (value: string): ActionSpec => ({ action: 'priority', priority: parsePriority(value) }),
    example: 'switchyard priority 10 41 42',
  },
  {
    name: 'move',
    summary: 'move jobs to another queue',
    description: 'Move jobs that wait (waiting, scheduled, queued or held) to another queue.',
    argument: {
      name: '<queue>',
      description: 'the queue to move them to',
    },
    spec: (value: string): ActionSpec => ({ action: 'move', queue: value }),
    example: 'switchyard move slow --queue default --type render',
  },
  {
    name: 'run-now',
    summary: 'queue scheduled jobs now',
    description: 'Queue scheduled jobs (delayed, or backing off before a retry) at once.',
    spec: () => ({ action: 'run-now' }),
    example: 'switchyard run-now 41',
  },
  {
    name: 'cancel',
    summary: 'cancel jobs',
    description:
      'Cancel jobs. A running one is stopped with its kill signal; jobs depending on one are ' +
      'canceled too.',
    spec: () => ({ action: 'cancel' }),
    example: 'switchyard cancel --state queued --search nightly',
  },
];

/** Adds the action verbs to the command tree. */
export function addActionVerbs(program: Command, ctx: CliContext): void {
  for (const verb of ACTION_VERBS) {
    const cmd = program
      .command(verb.name)
      .summary(verb.summary)
      .description(
        `${verb.description} Name the jobs by id, or choose them with the filter options.`,
      );
    if (verb.argument) cmd.argument(verb.argument.name, verb.argument.description);
    cmd.argument('[ids...]', "job ids; one id prints the job's new state");
    if (verb.reason) cmd.option('--reason <text>', 'why, shown with the job');
    clientOptions(
      filterOptions(cmd).option('--dry-run', 'count the jobs it would change; change nothing'),
    ).addHelpText(
      'after',
      TIME_HELP +
        '\nWith several ids or with filter options it prints "matched N, changed M": jobs the\n' +
        'action does not apply to (a release of a queued job) are matched, not changed.\n\n' +
        `Example:\n  ${verb.example}\n`,
    );
    if (verb.argument === undefined) {
      const spec = verb.spec;
      cmd.action((ids: string[], flags: ActionFlags) =>
        actionCommand(ctx, spec(flags), ids, flags),
      );
    } else {
      const spec = verb.spec;
      cmd.action((value: string, ids: string[], flags: ActionFlags) =>
        actionCommand(ctx, spec(value), ids, flags),
      );
    }
  }
}
