/**
 * The http runner: the handler the `switchyard worker` agent uses for `http` jobs. One request
 * with Node's fetch, redirects followed by hand (to count the hops and to drop credentials on
 * the way to another origin), the answer's body read up to a cap and never beyond.
 *
 * Outcome: 2xx succeeds; 5xx and network errors (refused, reset, DNS, timeout) are retryable
 * failures; any other status (4xx, or 3xx not followed) fails the job for good. The result (a
 * failure's partial result too) is the status, the headers and the start of the body.
 */
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  MAX_REDIRECTS,
  httpPayloadProblem,
  httpUrlProblem,
  type HttpPayload,
} from '../domain/http-payload.js';
import { PermanentError, RetryableError } from './errors.js';
import type { Handler, JobContext } from './worker.js';

/** An http job's result, also attached to its failures. */
export interface HttpResult {
  status: number;
  /** The URL that answered (after redirects). */
  url: string;
  redirects: number;
  headers: Record<string, string>;
  /** The body's first `maxBodyBytes`, as UTF-8 text. */
  body: string;
  /** Bytes the body had (counted up to a bound: see `countLimitBytes`). */
  bytes: number;
  truncated: boolean;
}

export interface HttpOptions {
  /** How much of a body is kept (default 64 KiB). */
  maxBodyBytes?: number;
  /** Past the kept part, bytes are counted (and dropped) up to this many, then the read stops. */
  countLimitBytes?: number;
}

const DEFAULT_MAX_BODY = 64 * 1024;
const DEFAULT_COUNT_LIMIT = 64 * 1024 * 1024;
/** Headers that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** Validates an http payload; a PermanentError names the bad field. */
export function parseHttpPayload(payload: unknown): HttpPayload {
  const problem = httpPayloadProblem(payload);
  if (problem !== null) throw new PermanentError(problem, { code: 'bad_payload' });
  return payload as HttpPayload;
}

/** Reads a body up to `keep` bytes, counting (not keeping) the rest up to `limit`. */
async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  keep: number,
  limit: number,
): Promise<{ text: string; bytes: number; truncated: boolean }> {
  if (body === null) return { text: '', bytes: 0, truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (kept < keep) {
        const part = value.subarray(0, keep - kept);
        chunks.push(part);
        kept += part.byteLength;
      }
      if (bytes >= limit) break;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
  return { text, bytes, truncated: bytes > kept };
}

/** The network error's own code (ECONNREFUSED, ENOTFOUND, ...), where fetch gives one. */
function causeCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    e = e.cause;
  }
  return undefined;
}

/** Creates the handler for `http` jobs. */
export function createHttpHandler(options: HttpOptions = {}): Handler {
  const keep = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const limit = Math.max(keep, options.countLimitBytes ?? DEFAULT_COUNT_LIMIT);
  return async (job: JobContext): Promise<HttpResult> => {
    const p = parseHttpPayload(job.payload);
    const timeoutMs = p.timeout ?? DEFAULT_HTTP_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([job.signal, timeout]);
    const headers: Record<string, string> = { ...p.headers };
    let body: string | undefined;
    if (p.body !== undefined) {
      if (typeof p.body === 'string') body = p.body;
      else {
        body = JSON.stringify(p.body);
        if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
          headers['content-type'] = 'application/json';
      }
    }
    let method = p.method;
    let url = p.url;
    let redirects = 0;
    for (;;) {
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body, redirect: 'manual', signal });
      } catch (error) {
        if (job.signal.aborted) throw job.signal.reason;
        if (timeout.aborted)
          throw new RetryableError(`the request took longer than ${timeoutMs} ms`, {
            code: 'timeout',
          });
        const code = causeCode(error);
        throw new RetryableError(
          `the request to ${new URL(url).host} failed${code ? `: ${code}` : ''}`,
          { code: 'network_error', ...(code ? { details: { cause: code } } : {}), cause: error },
        );
      }
      const location = res.headers.get('location');
      if (p.followRedirects !== false && res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => undefined);
        if (redirects >= MAX_REDIRECTS)
          throw new PermanentError(`more than ${MAX_REDIRECTS} redirects`, {
            code: 'too_many_redirects',
            details: { url },
          });
        let next: string;
        try {
          next = new URL(location, url).href;
        } catch {
          throw new PermanentError(`a redirect to "${location.slice(0, 200)}", not a URL`, {
            code: 'bad_redirect',
          });
        }
        const problem = httpUrlProblem(next, 'redirect');
        if (problem !== null) throw new PermanentError(problem, { code: 'bad_redirect' });
        if (new URL(next).origin !== new URL(url).origin) {
          for (const k of Object.keys(headers))
            if (CREDENTIAL_HEADERS.includes(k.toLowerCase())) delete headers[k];
        }
        // 303, and 301/302 after a POST, turn into a GET without a body (as browsers do).
        if (
          res.status === 303 ||
          ((res.status === 301 || res.status === 302) && method === 'POST')
        ) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          for (const k of Object.keys(headers))
            if (k.toLowerCase() === 'content-type') delete headers[k];
        }
        url = next;
        redirects++;
        continue;
      }
      let read;
      try {
        read = await readCapped(res.body, keep, limit);
      } catch (error) {
        if (job.signal.aborted) throw job.signal.reason;
        if (timeout.aborted)
          throw new RetryableError(`the answer took longer than ${timeoutMs} ms`, {
            code: 'timeout',
          });
        throw new RetryableError('the answer was cut off', { code: 'network_error', cause: error });
      }
      const result: HttpResult = {
        status: res.status,
        url,
        redirects,
        headers: Object.fromEntries(res.headers),
        body: read.text,
        bytes: read.bytes,
        truncated: read.truncated,
      };
      if (res.status >= 200 && res.status < 300) return result;
      const message = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
      if (res.status >= 500) throw new RetryableError(message, { code: 'http_status', result });
      throw new PermanentError(message, { code: 'http_status', result });
    }
  };
}
