/**
 * Watching one job from code: `Client.watch(id)`, an async iterator of the job's messages from
 * the monitor (`/api/v1/monitor`): what is stored first, then live ones, until the job ends. A
 * connection lost on the way (a broker restarting, another node taking over) is made again and
 * resumes after the last message received (`since`), so that none is missed and none repeated.
 * If the consumer reads slower than messages come, the socket stops being read (the broker then
 * stops sending) until it catches up: memory held is bounded.
 */
import WebSocket from 'ws';
import { SwitchyardError } from '../domain/errors.js';
import type { JobMessageBody } from '../protocol/api.js';

export interface WatchOptions {
  /** Resume after this seq (the last message already seen). */
  since?: string;
  /** An access token for this job (from `monitorToken`), instead of the client's token. */
  access?: string;
  /** Stop watching (the iterator then ends). */
  signal?: AbortSignal;
  /** How long to keep trying to reconnect after a connection was lost (default 60 s). */
  reconnectForMs?: number;
}

/** Messages buffered before the socket is paused. */
const HIGH = 1000;
const LOW = 100;

/** A close that ends the watch for good, as the error it means. */
function closeError(code: number, reason: string, id: string): SwitchyardError | null {
  if (code === 4404) return new SwitchyardError('not_found', reason || `job ${id} does not exist`);
  if (code === 4403 || code === 4401) return new SwitchyardError('forbidden', reason);
  if (code === 1008) return new SwitchyardError('invalid_request', reason);
  return null;
}

export async function* watchJob(
  baseUrl: string,
  headers: Record<string, string>,
  id: string,
  options: WatchOptions = {},
): AsyncGenerator<JobMessageBody> {
  let since = options.since;
  const reconnectForMs = options.reconnectForMs ?? 60_000;
  let lostSince: number | null = null;
  let delay = 100;
  for (;;) {
    if (options.signal?.aborted) return;
    const query = new URLSearchParams({ job: id });
    if (since !== undefined) query.set('since', since);
    if (options.access !== undefined) query.set('access', options.access);
    const url = `${baseUrl.replace(/^http/, 'ws')}/api/v1/monitor?${query.toString()}`;
    const socket = new WebSocket(url, { headers, maxPayload: 64 * 1024 * 1024 });
    const queue: JobMessageBody[] = [];
    let wake: (() => void) | null = null;
    // Set by the socket's handlers (a holder, so that the checks below see their writes).
    const out: { ended: { code: number; reason: string } | null; failure: Error | null } = {
      ended: null,
      failure: null,
    };
    let paused = false;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    socket.on('message', (data) => {
      queue.push(JSON.parse(data.toString()) as JobMessageBody);
      if (!paused && queue.length >= HIGH) {
        paused = true;
        socket.pause();
      }
      notify();
    });
    socket.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.length + body.length <= 65_536 ? c : ''));
      res.on('end', () => {
        let message = `the monitor answered HTTP ${status}`;
        try {
          message = (JSON.parse(body) as { error: { message: string } }).error.message;
        } catch {
          // Not JSON: the status says enough.
        }
        out.failure =
          status === 401
            ? new SwitchyardError('unauthorized', message)
            : status === 403
              ? new SwitchyardError('forbidden', message)
              : status === 400
                ? new SwitchyardError('invalid_request', message)
                : new Error(message);
        out.ended = { code: -1, reason: message };
        notify();
      });
    });
    socket.on('error', (err) => {
      if (out.ended === null) out.failure = err;
    });
    socket.on('close', (code, reason) => {
      out.ended ??= { code, reason: reason.toString() };
      notify();
    });
    const onAbort = () => socket.terminate();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) {
          since = next.seq;
          lostSince = null;
          delay = 100;
          if (paused && queue.length <= LOW) {
            paused = false;
            socket.resume();
          }
          yield next;
          continue;
        }
        if (out.ended !== null) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      socket.terminate();
    }
    if (options.signal?.aborted) return;
    const { code, reason } = out.ended ?? { code: 1006, reason: '' };
    if (code === 1000) return;
    const fatal = closeError(code, reason, id);
    if (fatal !== null) throw fatal;
    if (out.failure instanceof SwitchyardError) throw out.failure;
    // Lost: try again, resuming after the last message, for a while.
    lostSince ??= Date.now();
    if (Date.now() - lostSince > reconnectForMs) {
      throw new SwitchyardError(
        'unavailable',
        `watching job ${id}: the monitor could not be reached for ` +
          `${Math.round(reconnectForMs / 1000)} s` +
          (out.failure !== null ? ` (${out.failure.message})` : ''),
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2_000);
  }
}
