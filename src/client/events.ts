/**
 * The client side of `GET /api/v1/events` (Server-Sent Events): a live stream of the broker's
 * events, parsed. `Client.events` exposes it; `Client.wait` uses it to learn at once that a job
 * changed instead of polling.
 */
import http from 'node:http';
import https from 'node:https';

/** One event: its name (`job:state`, `job:progress`, ...) and its JSON data. */
export interface BrokerEventMessage {
  name: string;
  data: Record<string, unknown>;
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
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      try {
        onEvent({ name, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
      } catch {
        // Not JSON: not one of the broker's events; skip it.
      }
    }
  };
}
