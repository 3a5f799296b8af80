/**
 * What a command may touch in the outside world: the environment, stdin, stdout and stderr, the
 * clock, fetch and the stop signals. `run` gets one; tests pass their own.
 */
import { createInterface } from 'node:readline';
import { Client, DEFAULT_URL } from '../client/client.js';

/** A text output (stdout or stderr). */
export interface Output {
  write(text: string): unknown;
  /** A terminal: progress bars and colours are allowed. */
  isTTY?: boolean;
  columns?: number;
}

/** A text input (stdin), read a line at a time. */
export interface Input {
  /** A terminal: a person is there to answer a question. */
  isTTY?: boolean;
  /** The next line, without its line end; null at the end of the input. */
  readLine(): Promise<string | null>;
}

/** The world a command runs in. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  /** Absent: there is no input, as if stdin were empty and not a terminal. */
  stdin?: Input;
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
    // A getter and a function: process.stdin is opened only by a command that asks for it.
    stdin: {
      get isTTY() {
        return process.stdin.isTTY === true;
      },
      readLine: () => readLine(process.stdin),
    },
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

/** One line of `input`, then the input is left alone (paused) for whoever reads it next. */
function readLine(input: NodeJS.ReadableStream): Promise<string | null> {
  const lines = createInterface({ input, terminal: false });
  return new Promise((resolve) => {
    let line: string | null = null;
    lines.once('line', (l) => {
      line = l;
      lines.close();
    });
    lines.once('close', () => resolve(line));
  });
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

/** An environment variable's value, unless it is unset or empty. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
