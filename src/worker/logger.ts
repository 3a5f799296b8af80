/**
 * The SDK's logger: the calls the Worker, its connection and the shell runner make. pino's
 * Logger satisfies it, so a pino logger passed in `logger` works as is; without one the SDK
 * writes warnings and errors to stderr itself, one line each, and so never loads pino.
 */

/** One level: fields and a message, or a message alone (pino's argument order). */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

/** A field's value in a line: strings as they are, errors by their message, the rest as JSON. */
function shown(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function format(
  level: string,
  bindings: Record<string, unknown>,
  first: object | string,
  message: string | undefined,
): string {
  const fields: Record<string, unknown> =
    typeof first === 'string' ? bindings : { ...bindings, ...first };
  const text = typeof first === 'string' ? first : (message ?? '');
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${shown(value)}`);
  return [`switchyard ${level}:`, text, ...pairs].filter((part) => part !== '').join(' ') + '\n';
}

/**
 * The default logger of the SDK: warnings and errors to `stream` (stderr), nothing below. Debug
 * and info lines are dropped; pass a logger of your own to see them.
 */
export function warningsLogger(
  stream: { write(text: string): unknown } = process.stderr,
  bindings: Record<string, unknown> = {},
): Logger {
  const drop: LogFn = () => undefined;
  const write =
    (level: string): LogFn =>
    (first: object | string, message?: string) => {
      stream.write(format(level, bindings, first, message));
    };
  return {
    debug: drop,
    info: drop,
    warn: write('warn'),
    error: write('error'),
    child: (more) => warningsLogger(stream, { ...bindings, ...more }),
  };
}
