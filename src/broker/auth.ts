/**
 * Token checks. Client, worker and admin tokens are separate lists: a worker token cannot use the
 * client API and a client token cannot register a worker. Comparison takes the same time
 * whatever the token, so that timing does not reveal how much of one was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether `token` is one of `tokens` (constant time per comparison). */
export function tokenIn(token: string | undefined, tokens: readonly string[]): boolean {
  if (token === undefined || token.length === 0) return false;
  const d = digest(token);
  let found = false;
  for (const t of tokens) if (timingSafeEqual(d, digest(t))) found = true;
  return found;
}

/** The bearer token of an `Authorization` header, if any. */
export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
