/**
 * The client side of `GET /api/v1/events` (Server-Sent Events): a live stream of the broker's
 * events, parsed. `Client.events` exposes it; `Client.wait` uses it to learn at once that a job
 * changed instead of polling.
 */
import http from 'node:http';
import https from 'node:https';

/**
 * One event: its name (`job:state`, `job:progress`, ...; `gap` when events were missed), its
 * JSON data (src/protocol/events.ts describes each), and its id on the node that sent it.
 */
export interface BrokerEventMessage {
  name: string;
  data: Record<string, unknown>;
  id?: number;
}

/** Which events to follow, and from where (`Client.events`). */
export interface EventsQuery {
  /** Event names (`job:state`) or kinds (`job`, `worker`). */
  kinds?: readonly string[];
  queue?: string;
  job?: string;
  /** Resume after this event id. */
  since?: number;
  /** Reconnect when the stream ends, resuming after the last id seen (default true). */
  reconnect?: boolean;
}

/** The query string parameters of a query. */
export function eventsParams(
  query: EventsQuery,
  since: number | undefined,
): Record<string, string> {
  const params: Record<string, string> = {};
  if (query.kinds !== undefined && query.kinds.length > 0) params.kind = query.kinds.join(',');
  if (query.queue !== undefined) params.queue = query.queue;
  if (query.job !== undefined) params.job = query.job;
  if (since !== undefined) params.since = String(since);
  return params;
}

const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 10_000;

/**
 * Follows the stream across reconnects: when it ends (the broker restarted, the network broke),
 * it is opened again after a pause, resuming after the last event id seen, so that nothing the
 * broker still keeps is missed and nothing is seen twice (a `gap` event says what was lost).
 * Resolves once the first stream is open; rejects if that fails. `ended` settles on `close()`.
 */
export async function followEventStream(
  open: (
    since: number | undefined,
    onEvent: (event: BrokerEventMessage) => void,
  ) => Promise<EventStream>,
  since: number | undefined,
  onEvent: (event: BrokerEventMessage) => void,
): Promise<EventStream> {
  let last = since;
  let closed = false;
  let current: EventStream | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let endAll: () => void = () => undefined;
  const ended = new Promise<void>((r) => (endAll = r));
  const seen = (event: BrokerEventMessage) => {
    if (event.id !== undefined) last = event.id;
    if (!closed) onEvent(event);
  };
  let pause = RECONNECT_FIRST_MS;
  const watch = (stream: EventStream) => {
    current = stream;
    void stream.ended.then(() => {
      if (!closed) retry();
    });
  };
  const retry = () => {
    timer = setTimeout(() => {
      timer = null;
      open(last, seen).then(
        (stream) => {
          pause = RECONNECT_FIRST_MS;
          if (closed) stream.close();
          else watch(stream);
        },
        () => {
          pause = Math.min(pause * 2, RECONNECT_MAX_MS);
          if (!closed) retry();
        },
      );
    }, pause);
  };
  watch(await open(last, seen));
  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer !== null) clearTimeout(timer);
      (current as EventStream | null)?.close();
      endAll();
    },
    ended,
  };
}

export interface EventStream {
  /** Stops the stream; idempotent. */
  close(): void;
  /** Settles when the stream ends: closed here, by the broker, or by a network failure. */
  readonly ended: Promise<void>;
}

/**
 * Opens the stream at `url`; resolves once the broker has answered 200 (events committed after
 * that are delivered), rejects if it answers otherwise or cannot be reached.
 */
export function openEventStream(
  url: string,
  headers: Record<string, string>,
  onEvent: (event: BrokerEventMessage) => void,
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const get = target.protocol === 'https:' ? https.get : http.get;
    let endStream: () => void = () => undefined;
    const ended = new Promise<void>((r) => (endStream = r));
    const request = get(target, { headers: { ...headers, accept: 'text/event-stream' } }, (res) => {
      const type = res.headers['content-type'] ?? '';
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        res.resume();
        reject(new Error(`the event stream answered HTTP ${res.statusCode ?? '?'} with "${type}"`));
        return;
      }
      const parse = sseParser(onEvent);
      res.setEncoding('utf8');
      res.on('data', parse);
      res.on('close', endStream);
      res.on('error', endStream);
      resolve({ close: () => request.destroy(), ended });
    });
    request.on('error', (err) => {
      endStream();
      reject(err);
    });
  });
}

/** A Server-Sent Events parser: feed it chunks, it calls `onEvent` per complete event. */
export function sseParser(onEvent: (event: BrokerEventMessage) => void): (chunk: string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let name = 'message';
      let id: number | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && /^\d{1,16}$/.test(value)) id = Number(value);
      }
      if (data.length === 0) continue;
      try {
        const parsed = JSON.parse(data.join('\n')) as Record<string, unknown>;
        onEvent(id === undefined ? { name, data: parsed } : { name, data: parsed, id });
      } catch {
        // Not JSON: not one of the broker's events; skip it.
      }
    }
  };
}
