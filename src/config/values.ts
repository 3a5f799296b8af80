/**
 * Value parsers for configuration fields. Each takes what a layer gave (a YAML value, or the
 * string of an environment variable or a flag) and returns the resolved value or the reason it
 * is wrong, phrased to follow the field name: `clients.port: <reason>, got "abc"`. Pure.
 */
import { isIP } from 'node:net';
import type { LogLevel } from './types.js';

/** A parsed value, or why the input is not acceptable. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Parses one input value of a field. */
export type Parser<T> = (input: unknown) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function toNumber(input: unknown, pattern: RegExp): number | null {
  if (typeof input === 'number') return Number.isFinite(input) ? input : null;
  if (typeof input === 'string' && pattern.test(input.trim())) return Number(input.trim());
  return null;
}

/** An integer from `min` to `max`, given as a number or a string of digits. */
export function integer(min: number, max: number, note = ''): Parser<number> {
  const problem = `must be an integer from ${min} to ${max}${note}`;
  return (input) => {
    const n = toNumber(input, INTEGER);
    if (n === null || !Number.isInteger(n) || n < min || n > max) return bad(problem);
    return ok(n);
  };
}

/** A number from `min` to `max`. */
export function decimal(min: number, max: number): Parser<number> {
  const problem = `must be a number from ${min} to ${max}`;
  return (input) => {
    const n = toNumber(input, NUMBER);
    if (n === null || n < min || n > max) return bad(problem);
    return ok(n);
  };
}

const SIZE = /^(\d+)\s*([BKMG]?)$/i;
const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** A size in bytes: an integer, or an integer with a B, K, M or G suffix (powers of 1024). */
export function size(min: number, max: number): Parser<number> {
  const problem = `must be a size in bytes from ${min} to ${max} (an integer, or with a K, M or G suffix)`;
  return (input) => {
    let n: number | null = null;
    if (typeof input === 'number' && Number.isInteger(input)) n = input;
    if (typeof input === 'string') {
      const m = SIZE.exec(input.trim());
      if (m) n = Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
    }
    if (n === null || n < min || n > max) return bad(problem);
    return ok(n);
  };
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/** true or false; strings true/false, yes/no, on/off and 1/0 are accepted too. */
export const boolean: Parser<boolean> = (input) => {
  if (typeof input === 'boolean') return ok(input);
  const s = typeof input === 'string' || typeof input === 'number' ? String(input).trim() : '';
  if (TRUE.has(s.toLowerCase())) return ok(true);
  if (FALSE.has(s.toLowerCase())) return ok(false);
  return bad('must be true or false');
};

/** One of a fixed set of strings. */
export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  const problem = `must be one of ${values.map((v) => `"${v}"`).join(', ')}`;
  return (input) =>
    typeof input === 'string' && (values as readonly string[]).includes(input)
      ? ok(input as T)
      : bad(problem);
}

/** A non-empty string (a path, a name). */
export const text: Parser<string> = (input) =>
  typeof input === 'string' && input.trim().length > 0
    ? ok(input)
    : bad('must be a non-empty string');

/** A non-empty string, or null (YAML `~` or an empty string) for "none". */
export const optionalText: Parser<string | null> = (input) => {
  if (input === null || input === '') return ok(null);
  return text(input);
};

const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`);

/** A host name or IP address to bind to; `*` means all interfaces and becomes `0.0.0.0`. */
export const address: Parser<string> = (input) => {
  const problem = 'must be an IP address, a host name, or "*" for all interfaces';
  if (typeof input !== 'string') return bad(problem);
  const s = input.trim();
  if (s === '*') return ok('0.0.0.0');
  const unbracketed = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (isIP(unbracketed) !== 0) return ok(unbracketed);
  return HOSTNAME.test(s) ? ok(s) : bad(problem);
};

/** A list of host names (a YAML list, or one comma-separated string). */
export const hostNames: Parser<string[]> = (input) => {
  const problem = 'must be a list of host names (or one comma-separated string)';
  let list: unknown[];
  if (Array.isArray(input)) list = input;
  else if (typeof input === 'string') list = input.trim() === '' ? [] : input.split(',');
  else return bad(problem);
  const out: string[] = [];
  for (const item of list) {
    const name = typeof item === 'string' ? item.trim().toLowerCase() : '';
    if (!HOSTNAME.test(name) && isIP(name) === 0)
      return bad(`${problem}; ${show(item)} is not one`);
    if (!out.includes(name)) out.push(name);
  }
  return ok(out);
};

/** `sqlite` (a file in data_dir) or a `postgres://` / `postgresql://` URL. */
export const store: Parser<string> = (input) => {
  const problem = 'must be "sqlite" or a postgres:// URL';
  if (input === 'sqlite') return ok(input);
  if (typeof input !== 'string' || !/^postgres(ql)?:\/\//.test(input)) return bad(problem);
  try {
    new URL(input);
    return ok(input);
  } catch {
    return bad(`${problem} (this one does not parse as a URL)`);
  }
};

/**
 * An http:// or https:// URL to send requests to (at most 2,048 characters). Credentials in the
 * URL are refused: they would end up in logs; they have fields of their own.
 */
export const httpUrl: Parser<string> = (input) => {
  const problem = 'must be an http:// or https:// URL';
  if (typeof input !== 'string' || input.trim() === '') return bad(problem);
  const s = input.trim();
  if (s.length > 2048) return bad(`${problem} of at most 2048 characters`);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return bad(`${problem} (this one does not parse)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad(problem);
  if (url.username !== '' || url.password !== '')
    return bad(`${problem} without credentials (set them as username and password)`);
  return ok(url.href);
};

/** Like httpUrl, or null (YAML `~` or an empty string) for "none". */
export const optionalHttpUrl: Parser<string | null> = (input) => {
  if (input === null || input === '') return ok(null);
  return httpUrl(input);
};

/** A secret string (a password, a signing key), or null for none. Never echoed. */
export const optionalSecret: Parser<string | null> = (input) => {
  if (input === null || input === '') return ok(null);
  if (typeof input === 'string' || typeof input === 'number') return ok(String(input));
  return bad('must be a string');
};

/** A key for signing (HMAC): unset, or at least 16 characters, so that it cannot be guessed. */
export const optionalSigningKey: Parser<string | null> = (input) => {
  if (input === null || input === '') return ok(null);
  if (typeof input === 'string' && input.length >= 16) return ok(input);
  return bad('must be a string of at least 16 characters');
};

/** A non-empty list of distinct values from a fixed set (a YAML list, or one comma-separated string). */
export function listOf<T extends string>(values: readonly T[]): Parser<T[]> {
  const problem = `must be a list of ${values.map((v) => `"${v}"`).join(', ')}`;
  return (input) => {
    let list: unknown[];
    if (Array.isArray(input)) list = input;
    else if (typeof input === 'string') list = input.split(',').map((v) => v.trim());
    else return bad(problem);
    const out: T[] = [];
    for (const item of list) {
      if (typeof item !== 'string' || !(values as readonly string[]).includes(item))
        return bad(`${problem}; ${show(item)} is not one`);
      if (!out.includes(item as T)) out.push(item as T);
    }
    return out.length === 0 ? bad(`${problem} (not empty)`) : ok(out);
  };
}

/** ReCodEx's level names, and pino's own, to pino's. */
const LEVELS: Record<string, LogLevel> = {
  silent: 'silent',
  off: 'silent',
  fatal: 'fatal',
  emerg: 'fatal',
  alert: 'fatal',
  critical: 'fatal',
  error: 'error',
  err: 'error',
  warn: 'warn',
  warning: 'warn',
  info: 'info',
  notice: 'info',
  debug: 'debug',
  trace: 'trace',
};

/** A log level: pino's names or ReCodEx's (off, emerg, alert, critical, err, notice). */
export const logLevel: Parser<LogLevel> = (input) => {
  const level = typeof input === 'string' ? LEVELS[input.trim().toLowerCase()] : undefined;
  return level
    ? ok(level)
    : bad(
        'must be one of silent, fatal, error, warn, info, debug, trace ' +
          '(or off, emerg, alert, critical, err, notice)',
      );
};

/** A list of secret tokens: a YAML list, or one comma-separated string. Never echoes a token. */
export const tokens: Parser<string[]> = (input) => {
  let list: unknown[];
  if (Array.isArray(input)) list = input;
  else if (typeof input === 'string') list = input.split(',').map((t) => t.trim());
  else return bad('must be a list of tokens (or one comma-separated string)');
  if (typeof input === 'string' && input.trim() === '') return ok([]);
  const out: string[] = [];
  for (const [i, token] of list.entries()) {
    if (typeof token !== 'string' || token.length === 0 || /\s/.test(token)) {
      return bad(`token ${i + 1} of ${list.length} must be a non-empty string without spaces`);
    }
    if (!out.includes(token)) out.push(token);
  }
  return ok(out);
};

/** How a value is shown in a message: strings quoted, the rest as JSON, long ones cut. */
export function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A postgres URL with its password replaced, for messages and logs. */
export function redactUrl(value: string): string {
  return value.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

const LIMIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$/;

/**
 * Totals of named concurrency limits: a mapping of name → whole number (YAML), or
 * `name=N,name=N` (the environment).
 */
export const limitTotals: Parser<Record<string, number>> = (input) => {
  let entries: Array<[string, unknown]>;
  if (typeof input === 'string') {
    entries = [];
    for (const part of input
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')) {
      const eq = part.lastIndexOf('=');
      if (eq <= 0) return bad(`must be name=N pairs separated by commas; ${show(part)} is not one`);
      entries.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  } else if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    entries = Object.entries(input);
  } else {
    return bad('must be a mapping of limit names to totals');
  }
  const out: Record<string, number> = {};
  for (const [name, value] of entries) {
    if (!LIMIT_NAME.test(name)) {
      return bad(`${show(name)} is not a limit name (letters, digits and _ . - /, at most 100)`);
    }
    const n = toNumber(value, INTEGER);
    if (n === null || !Number.isInteger(n) || n < 0 || n > 1_000_000) {
      return bad(
        `the total of ${name} must be a whole number from 0 to 1000000, got ${show(value)}`,
      );
    }
    out[name] = n;
  }
  return ok(out);
};
