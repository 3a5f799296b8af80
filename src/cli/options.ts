/**
 * Options that several commands share, declared once: --url and --token, the filter options that
 * choose jobs, and repeatable options.
 */
import type { Command } from 'commander';
import { DEFAULT_URL } from '../client/client.js';

/** Repeatable options; no commander default, so that help shows only the documented ones. */
export const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

/** --url and --token: every client command has them. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `the broker's client API (env SWITCHYARD_URL; default ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token for the client API (env SWITCHYARD_TOKEN)');
}

/** The flags that choose jobs: `jobs` lists them, the action verbs act on them. */
export function filterOptions(cmd: Command): Command {
  return cmd
    .option(
      '--state <states>',
      'only jobs in these states, comma-separated (waiting, scheduled, queued, running, held, succeeded, failed, canceled)',
    )
    .option('--queue <queue>', 'only jobs of this queue')
    .option('--type <type>', 'only jobs of this type')
    .option('--worker <worker>', 'only jobs run by this worker (its name or its id)')
    .option('--group <key>', 'only failed jobs of this error group (see switchyard failed)')
    .option(
      '--search <text>',
      'only jobs with this text (any case) in the id, type, payload, meta or error',
    )
    .option('--attr <key[=value]>', 'only jobs with this attribute (KEY: set at all)')
    .option('--created-after <time>', 'only jobs submitted at or after TIME')
    .option('--created-before <time>', 'only jobs submitted before TIME')
    .option('--finished-after <time>', 'only jobs that ended at or after TIME')
    .option('--finished-before <time>', 'only jobs that ended before TIME');
}

/** What TIME means in the filter options, for the help of the commands that have them. */
export const TIME_HELP =
  '\nTIME is a date, or a date and time, in ISO 8601 (2024-05-01, 2024-05-01T12:00:00Z; without\n' +
  'a zone, local time), or an age back from now: 90s, 30m, 2h, 7d.\n';
