/**
 * A worker that speaks the protocol by hand over a raw WebSocket, for tests of the broker's
 * side: what it sends is exactly what the test says, what it receives is kept in order.
 * Every one opened is closed by `closeRawWorkers` (call it in afterEach).
 */
import { WebSocket } from 'ws';
import {
  decodeBrokerFrame,
  PROTOCOL_VERSION,
  type BrokerMessage,
} from '../../src/protocol/worker.js';

const open: RawWorker[] = [];

/** Closes every raw worker the tests opened. */
export async function closeRawWorkers(): Promise<void> {
  for (const w of open.splice(0)) await w.close();
}

export class RawWorker {
  readonly messages: BrokerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const d = decodeBrokerFrame(data.toString());
      if (d.ok) this.messages.push(...d.messages);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }
  static async open(url: string): Promise<RawWorker> {
    const ws = new WebSocket(url);
    const w = new RawWorker(ws);
    open.push(w);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return w;
  }
  send(...messages: object[]): void {
    this.ws.send(JSON.stringify(messages.length === 1 ? messages[0] : messages));
  }
  hello(over: Record<string, unknown> = {}): void {
    this.send({
      type: 'hello',
      name: 'raw',
      labels: { env: ['c'] },
      types: ['t'],
      queues: ['default'],
      slots: 1,
      version: PROTOCOL_VERSION,
      ...over,
    });
  }
  async next<T extends BrokerMessage['type']>(
    type: T,
    timeoutMs = 5000,
  ): Promise<Extract<BrokerMessage, { type: T }>> {
    let seen = 0;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m, k) => k >= seen && m.type === type);
      if (i >= 0) return this.messages.splice(i, 1)[0] as Extract<BrokerMessage, { type: T }>;
      seen = 0;
      if (Date.now() > deadline)
        throw new Error(`no ${type}; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  async close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}
