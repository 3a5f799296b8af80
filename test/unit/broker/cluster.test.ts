/** Packing events into messages small enough for PostgreSQL's NOTIFY. */
import { describe, expect, it } from 'vitest';
import { pack } from '../../../src/broker/cluster.js';
import type { BrokerEvent } from '../../../src/broker/events.js';

const state = (id: number): BrokerEvent => ({
  name: 'job:state',
  data: { id, from: 'queued', to: 'running', attempt: 1, workerId: 'w_1', error: null },
});
const log = (data: string): BrokerEvent => ({
  name: 'job:log',
  data: { id: 1, attempt: 1, stream: 'stdout', data },
});
const unpack = (messages: string[]) =>
  messages.flatMap((m) => (JSON.parse(m) as { from: string; events: BrokerEvent[] }).events);

describe('pack', () => {
  it('puts few small events in one message that names the sender', () => {
    const { messages, dropped } = pack('n_a', [state(1), state(2)]);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]!)).toEqual({ from: 'n_a', events: [state(1), state(2)] });
    expect(dropped).toBe(0);
  });

  it('splits many events over messages below 6,500 bytes, keeping their order', () => {
    const events = Array.from({ length: 500 }, (_, i) => state(i));
    const { messages } = pack('n_a', events);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(6_500);
    expect(unpack(messages)).toEqual(events);
  });

  it('cuts a long log line into pieces that join back to it, never inside a surrogate pair', () => {
    const text = 'é'.repeat(2_000) + '😀'.repeat(1_500) + '\u0001'.repeat(3_000);
    const { messages, dropped } = pack('n_a', [log(text)]);
    expect(dropped).toBe(0);
    for (const m of messages) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(6_500);
    const pieces = unpack(messages) as Array<Extract<BrokerEvent, { name: 'job:log' }>>;
    expect(pieces.length).toBeGreaterThan(5);
    expect(pieces.map((p) => p.data.data).join('')).toBe(text);
    for (const p of pieces) expect(p.data.data).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
  });

  it('drops and counts an event that cannot fit, sending the others', () => {
    const huge: BrokerEvent = { name: 'backend:error', data: { message: 'x'.repeat(10_000) } };
    const { messages, dropped } = pack('n_a', [state(1), huge, state(2)]);
    expect(dropped).toBe(1);
    expect(unpack(messages)).toEqual([state(1), state(2)]);
  });

  it('sends nothing for no events', () => {
    expect(pack('n_a', [])).toEqual({ messages: [], dropped: 0 });
  });
});
