/**
 * Groups of the failed queue: failures whose messages differ only in numbers, ids, paths,
 * addresses or quoted values fall into one group. Pure.
 *
 * A failure's *label* is its code and message with those parts replaced by placeholders
 * (`exit_code: command exited with status <n>`); its *group* is the first 12 hex digits of the
 * label's SHA-256, stored with the failed job (so that the failed queue can be grouped, counted
 * and acted on by SQL) and used as `group` in filters.
 */
import { createHash } from 'node:crypto';
import type { JobError } from './job.js';

/** The most of a message that is read; the rest cannot change the group. */
const MAX_MESSAGE = 2_000;

/** In order: each replaces what the ones before left. */
const rules: ReadonlyArray<[RegExp, string]> = [
  // UUIDs, then long hex runs (hashes, object ids), before numbers eat their digits.
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b(?:0x)?(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b/gi, '<hex>'],
  // URLs and file paths (POSIX or Windows), with any trailing :line:col.
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, '<url>'],
  [/(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}[\\/]?/g, '<path>'],
  // IPv4 addresses with an optional port.
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<ip>'],
  // Quoted values.
  [/"[^"\n]*"/g, '"<s>"'],
  [/'[^'\n]*'/g, "'<s>'"],
  // Ids that mix letters and digits with separators (job-12, w_3f9, n-ab12cd).
  [/\b[A-Za-z]+[-_][A-Za-z0-9]*\d[A-Za-z0-9]*\b/g, '<id>'],
  // Numbers, signed or decimal.
  [/[-+]?\b\d+(?:\.\d+)?\b/g, '<n>'],
  [/\s+/g, ' '],
];

/** The message with its variable parts replaced, for people and for grouping. */
export function normalizeMessage(message: string): string {
  let out = message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message;
  for (const [pattern, placeholder] of rules) out = out.replace(pattern, placeholder);
  return out.trim();
}

/** How a failure reads in the failed queue's groups: `code: normalized message`. */
export function errorLabel(error: Pick<JobError, 'code' | 'message'>): string {
  return `${error.code}: ${normalizeMessage(error.message)}`;
}

/** The group of a failure (12 hex digits). */
export function errorGroupOf(error: Pick<JobError, 'code' | 'message'>): string {
  return createHash('sha256').update(errorLabel(error)).digest('hex').slice(0, 12);
}
