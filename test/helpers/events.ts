/**
 * A client of `GET /api/v1/events` for tests: the SDK's event stream, collecting what arrives
 * so that a test can wait for an event and look at the ones before it.
 */
import { openEventStream, type BrokerEventMessage } from '../../src/client/events.js';

export type StreamedEvent = BrokerEventMessage;

export interface EventStream {
  readonly events: StreamedEvent[];
  /** Waits for an event that matches; returns it. */
  waitFor(match: (e: StreamedEvent) => boolean, timeoutMs?: number): Promise<StreamedEvent>;
  close(): void;
}

/** Opens the stream; resolves once the broker has answered (so events after this are seen). */
export async function openEvents(base: string, query = ''): Promise<EventStream> {
  const events: StreamedEvent[] = [];
  let waiters: Array<() => void> = [];
  const stream = await openEventStream(`${base}/api/v1/events${query}`, {}, (event) => {
    events.push(event);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  return {
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
    close: () => stream.close(),
  };
}
