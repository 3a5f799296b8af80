/**
 * The payload of the built-in `http` job type (run by the `switchyard worker` agent, see
 * src/worker/http.ts): one HTTP request. Checked at submission (src/broker/submission.ts) and
 * again by the worker, which trusts nothing it is handed. Pure.
 */

/** What an `http` job asks for. */
export interface HttpPayload {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A string is sent as it is; anything else as its JSON (with a JSON content type). */
  body?: unknown;
  /** Milliseconds the whole request may take, redirects and body included. */
  timeout?: number;
  /** Follow 3xx answers with a Location (default true), at most MAX_REDIRECTS hops. */
  followRedirects?: boolean;
}

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const MAX_HTTP_URL = 8192;
export const MAX_HTTP_HEADERS = 100;
export const MAX_HTTP_TIMEOUT_MS = 3_600_000;
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
export const MAX_REDIRECTS = 10;

/** An HTTP token (RFC 9110): what a header name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

/** The message naming what is wrong with a URL for an http job (or a redirect), or null. */
export function httpUrlProblem(url: string, field = 'payload.url'): string | null {
  if (url.length > MAX_HTTP_URL) return `${field}: longer than ${MAX_HTTP_URL} characters`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${field}: not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `${field}: must be an http:// or https:// URL`;
  if (parsed.username !== '' || parsed.password !== '')
    return `${field}: must not carry credentials (they would be stored and shown); send an Authorization header`;
  return null;
}

/** Checks an `http` payload; returns the message naming the bad field, or null. */
export function httpPayloadProblem(payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    return 'payload: must be an object with a "method" and a "url" for http jobs';
  const p = payload as Record<string, unknown>;
  const known = ['method', 'url', 'headers', 'body', 'timeout', 'followRedirects'];
  const unknown = Object.keys(p).find((k) => !known.includes(k));
  if (unknown !== undefined)
    return `payload.${unknown}: not a field of an http job (${known.join(', ')})`;
  if (typeof p.method !== 'string' || !(HTTP_METHODS as readonly string[]).includes(p.method))
    return `payload.method: must be one of ${HTTP_METHODS.join(', ')}`;
  if (typeof p.url !== 'string') return 'payload.url: must be a string';
  const bad = httpUrlProblem(p.url);
  if (bad !== null) return bad;
  if (p.headers !== undefined) {
    if (typeof p.headers !== 'object' || p.headers === null || Array.isArray(p.headers))
      return 'payload.headers: must be an object of strings';
    const entries = Object.entries(p.headers);
    if (entries.length > MAX_HTTP_HEADERS)
      return `payload.headers: more than ${MAX_HTTP_HEADERS} headers`;
    for (const [k, v] of entries) {
      if (!TOKEN.test(k)) return `payload.headers: "${k.slice(0, 40)}" is not a header name`;
      if (typeof v !== 'string') return `payload.headers.${k}: must be a string`;
      if (/[\r\n\0]/.test(v)) return `payload.headers.${k}: must not contain CR, LF or NUL`;
    }
  }
  if (p.body !== undefined && (p.method === 'GET' || p.method === 'HEAD'))
    return `payload.body: a ${p.method} request has no body`;
  if (p.timeout !== undefined) {
    if (
      typeof p.timeout !== 'number' ||
      !Number.isInteger(p.timeout) ||
      p.timeout < 1 ||
      p.timeout > MAX_HTTP_TIMEOUT_MS
    )
      return `payload.timeout: must be whole milliseconds from 1 to ${MAX_HTTP_TIMEOUT_MS}`;
  }
  if (p.followRedirects !== undefined && typeof p.followRedirects !== 'boolean')
    return 'payload.followRedirects: must be true or false';
  return null;
}
