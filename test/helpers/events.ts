/** A client of `GET /api/v1/events` (Server-Sent Events) for tests: collects what arrives. */
import http from 'node:http';
import { sseParser } from '../../src/client/events.js';

export interface StreamedEvent {
  name: string;
  data: Record<string, unknown>;
}

export interface EventStream {
  readonly events: StreamedEvent[];
  /** Waits for an event that matches; returns it. */
  waitFor(match: (e: StreamedEvent) => boolean, timeoutMs?: number): Promise<StreamedEvent>;
  close(): void;
}

/** Opens the stream; resolves once the broker has answered (so events after this are seen). */
export function openEvents(base: string, query = ''): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const events: StreamedEvent[] = [];
    let waiters: Array<() => void> = [];
    const notify = () => {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    };
    const request = http.get(`${base}/api/v1/events${query}`, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`event stream answered ${response.statusCode}`));
        response.resume();
        return;
      }
      const parse = sseParser((event) => {
        events.push(event as StreamedEvent);
        notify();
      });
      response.setEncoding('utf8');
      response.on('data', parse);
      response.on('error', () => undefined);
      resolve({
        events,
        async waitFor(match, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          let seen = 0;
          for (;;) {
            for (; seen < events.length; seen++) if (match(events[seen]!)) return events[seen]!;
            const left = deadline - Date.now();
            if (left <= 0)
              throw new Error(`no matching event; got ${JSON.stringify(events.slice(-20))}`);
            await new Promise<void>((r) => {
              const t = setTimeout(r, Math.min(left, 200));
              waiters.push(() => {
                clearTimeout(t);
                r();
              });
            });
          }
        },
        close() {
          request.destroy();
        },
      });
    });
    request.on('error', reject);
  });
}
