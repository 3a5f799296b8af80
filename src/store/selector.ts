/**
 * What both stores read of a JobSelector before building their SQL, so that they read it
 * alike: the states it can match, and what a search text means.
 */
import type { JobState } from '../domain/job.js';
import type { JobSelector } from './store.js';

/**
 * The states a selector can match, deduplicated; undefined for any. A `group` names failed
 * jobs only: with it the answer is `['failed']`, or none when the states leave failed out.
 */
export function selectorStates(s: JobSelector): JobState[] | undefined {
  if (s.group !== undefined) {
    return s.states === undefined || s.states.includes('failed') ? ['failed'] : [];
  }
  return s.states === undefined ? undefined : [...new Set(s.states)];
}

/** The id a search text names, when it is one (digits only, a safe integer). */
export function searchId(text: string): number | undefined {
  if (!/^[0-9]{1,16}$/.test(text)) return undefined;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : undefined;
}

/**
 * Whether a search text can be found in stored JSON text at all: JSON escapes every control
 * character, so text holding one (NUL, which PostgreSQL cannot even take as a parameter,
 * included) is never found in a payload, meta or error, nor in a type (a plain name).
 */
export function searchable(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  return !/[\u0000-\u001f]/.test(text);
}

/** ASCII letters lowered, nothing else: the case the search ignores. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}
