/** A monitor subscriber, as a browser is one: a WebSocket to /api/v1/monitor. */
import WebSocket from 'ws';
import type { JobMessageBody } from '../../src/protocol/api.js';

export interface MonitorSocket {
  ws: WebSocket;
  /** Every message received, parsed, in order. */
  messages: JobMessageBody[];
  /** The raw texts received. */
  texts: string[];
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `n` messages have arrived. */
  count(n: number, timeoutMs?: number): Promise<void>;
}

/**
 * Opens the monitor at `base` (http://host:port) with `query` ("?job=1"), sending `first` as
 * the first message if given. Resolves once open; an upgrade refused rejects with its status.
 */
export function openMonitor(
  base: string,
  query: string,
  options: { first?: string; headers?: Record<string, string>; path?: string } = {},
): Promise<MonitorSocket> {
  const url = `${base.replace(/^http/, 'ws')}${options.path ?? '/api/v1/monitor'}${query}`;
  const ws = new WebSocket(url, { headers: options.headers ?? {} });
  const messages: JobMessageBody[] = [];
  const texts: string[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    texts.push(text);
    messages.push(JSON.parse(text) as JobMessageBody);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters.splice(0)) w();
    }),
  );
  const count = async (n: number, timeoutMs = 20_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (messages.length < n) {
      if (Date.now() > deadline || ws.readyState === ws.CLOSED)
        throw new Error(`got ${messages.length} of ${n} monitor messages`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      if (options.first !== undefined) ws.send(options.first);
      resolve({ ws, messages, texts, closed, count });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new Error(`upgrade refused: ${res.statusCode} ${body}`)));
    });
    ws.once('error', reject);
  });
}
