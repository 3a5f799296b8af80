/**
 * What a command may touch in the outside world: the environment, stdout and stderr, the clock,
 * fetch and the stop signals. `run` gets one; tests pass their own.
 */
import { Client, DEFAULT_URL } from '../client/client.js';

/** A text output (stdout or stderr). */
export interface Output {
  write(text: string): unknown;
  /** A terminal: progress bars and colours are allowed. */
  isTTY?: boolean;
  columns?: number;
}

/** The world a command runs in. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: Output;
  stderr: Output;
  now(): number;
  /** For the Client; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Calls `listener` on every SIGINT or SIGTERM until the returned function is called. */
  onStopSignal(listener: (signal: NodeJS.Signals) => void): () => void;
}

/** The real process's context. */
export function processContext(): CliContext {
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => Date.now(),
    onStopSignal(listener) {
      process.on('SIGINT', listener);
      process.on('SIGTERM', listener);
      return () => {
        process.off('SIGINT', listener);
        process.off('SIGTERM', listener);
      };
    },
  };
}

/** The options every client command has. */
export interface ClientFlags {
  url?: string;
  token?: string;
}

/** The Client a client command uses: flags, then SWITCHYARD_URL / SWITCHYARD_TOKEN, then defaults. */
export function clientFor(ctx: CliContext, flags: ClientFlags): Client {
  const token = flags.token ?? nonEmpty(ctx.env.SWITCHYARD_TOKEN);
  return new Client({
    url: flags.url ?? nonEmpty(ctx.env.SWITCHYARD_URL) ?? DEFAULT_URL,
    ...(token === undefined ? {} : { token }),
    ...(ctx.fetch === undefined ? {} : { fetch: ctx.fetch }),
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
