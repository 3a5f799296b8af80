/**
 * How the `switchyard` command ends: the typed errors its commands throw, and the one table that
 * turns any error into an exit status and a one-line message. Used only by the top-level catch
 * (./run.ts) and by the root command's --help.
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { StartupError, SwitchyardError, type ErrorCode } from '../domain/errors.js';

/** The command line is wrong: a bad flag value, a missing argument. Exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `submit --wait`: the job ended failed or canceled. Exit status 1. */
export class JobEndedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobEndedError';
  }
}

/** Throws the JobEndedError of a job that ended failed or canceled; returns for a success. */
export function throwUnlessSucceeded(job: {
  id: string;
  state: string;
  error: { message: string } | null;
}): void {
  if (job.state === 'succeeded') return;
  const why = job.error ? `: ${job.error.message}` : '';
  throw new JobEndedError(
    job.state === 'canceled' ? `job ${job.id} was canceled${why}` : `job ${job.id} failed${why}`,
  );
}

/** Exit statuses other than those of SwitchyardError codes. */
export const EXIT = {
  ok: 0,
  jobFailed: 1,
  usage: 2,
  /** The broker could not start (a port in use, a data directory or store it cannot use). */
  startup: 9,
  /** A bug in switchyard, or an error it did not expect (EX_SOFTWARE). */
  internal: 70,
} as const;

/** The exit status for each SwitchyardError code. Complete by type: a new code must be added. */
export const exitCodes: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 2,
  payload_too_large: 2,
  unsupported_media_type: 2,
  upgrade_required: 2,
  not_found: 3,
  unavailable: 4,
  store_unavailable: 4,
  unauthorized: 5,
  forbidden: 5,
  conflict: 6,
  unmatchable: 7,
  frozen: 8,
  internal: EXIT.internal,
};

/** What each exit status means, for the root command's --help. */
const meanings: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'submit --wait: the job failed or was canceled',
  2: 'usage error, bad configuration, or a request the broker rejected',
  3: 'no such job, or other thing',
  4: 'the broker cannot be reached, or it or its store is unavailable',
  5: 'missing or wrong token, or not allowed',
  6: 'conflict, e.g. canceling a job that already ended',
  7: 'no worker could ever run the job (with reject_unmatchable)',
  8: 'the broker is frozen and rejects submissions',
  9: 'the broker could not start: a port in use, a data dir or store it cannot use',
  70: 'internal error in the broker or in switchyard',
};

/** The exit status table as help text. */
export function exitStatusHelp(): string {
  const byStatus = new Map<number, string[]>();
  for (const [code, status] of Object.entries(exitCodes)) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const lines = Object.entries(meanings).map(([status, meaning]) => {
    const codes = byStatus.get(Number(status));
    const line = `  ${status.padEnd(4)}${meaning}`;
    if (codes === undefined) return line;
    const suffix = `[${codes.join(', ')}]`;
    return line.length + suffix.length < 80 ? `${line} ${suffix}` : `${line}\n      ${suffix}`;
  });
  return ['Exit status:', ...lines].join('\n');
}

/**
 * An error's exit status, the message to print (null when commander already printed it) and,
 * for unexpected errors, the stack trace to print after it.
 */
export function describeFailure(err: unknown): {
  status: number;
  message: string | null;
  detail?: string;
} {
  if (err instanceof CommanderError) {
    const quiet = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
    return { status: quiet ? EXIT.ok : EXIT.usage, message: null };
  }
  if (err instanceof UsageError) return { status: EXIT.usage, message: err.message };
  if (err instanceof ConfigError) return { status: EXIT.usage, message: err.message };
  if (err instanceof JobEndedError) return { status: EXIT.jobFailed, message: err.message };
  if (err instanceof StartupError) return { status: EXIT.startup, message: err.message };
  if (err instanceof SwitchyardError) return { status: exitCodes[err.code], message: err.message };
  if (err instanceof Error) {
    return {
      status: EXIT.internal,
      message: `internal error: ${err.message}`,
      ...(err.stack === undefined ? {} : { detail: err.stack }),
    };
  }
  return { status: EXIT.internal, message: `internal error: ${String(err)}` };
}
