/** Packing events into messages small enough for PostgreSQL's NOTIFY, and joining them back. */
import { describe, expect, it } from 'vitest';
import { pack, Reassembler } from '../../../src/broker/cluster.js';
import type { BrokerEvent } from '../../../src/broker/events.js';

const state = (id: number): BrokerEvent => ({
  name: 'job:state',
  data: {
    id,
    seq: id,
    at: 0,
    from: 'queued',
    to: 'running',
    attempt: 1,
    workerId: 'w_1',
    error: null,
  },
});
const log = (data: string): BrokerEvent => ({
  name: 'job:log',
  data: { id: 1, seq: 1, at: 0, attempt: 1, stream: 'stdout', data },
});

function counter(): () => number {
  let n = 0;
  return () => ++n;
}

/** What a receiving node makes of the messages, in order. */
function receive(messages: readonly string[], at: Reassembler = new Reassembler(() => 0)) {
  return messages.flatMap((m) => at.accept(JSON.parse(m)));
}

describe('pack', () => {
  it('puts few small events in one message that names the sender', () => {
    const messages = pack('n_a', [state(1), state(2)], counter());
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]!)).toEqual({ from: 'n_a', events: [state(1), state(2)] });
  });

  it('splits many events over messages below 6,500 bytes, keeping their order', () => {
    const events = Array.from({ length: 500 }, (_, i) => state(i));
    const messages = pack('n_a', events, counter());
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(6_500);
    expect(receive(messages)).toEqual(events);
  });

  it('sends an event of any size in pieces that join back to it exactly', () => {
    const text = 'é'.repeat(2_000) + '😀'.repeat(1_500) + '\u0001"\\'.repeat(3_000) + '\ud800';
    const huge: BrokerEvent = { name: 'backend:error', data: { message: 'x'.repeat(100_000) } };
    const events = [state(1), log(text), state(2), huge, state(3)];
    const messages = pack('n_a', events, counter());
    expect(messages.length).toBeGreaterThan(20);
    for (const m of messages) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(6_500);
    expect(receive(messages)).toEqual(events);
  });

  it('sends nothing for no events', () => {
    expect(pack('n_a', [], counter())).toEqual([]);
  });
});

describe('Reassembler', () => {
  const pieces = (from: string, event: BrokerEvent, id: number) =>
    pack(from, [event], () => id).map((m) => JSON.parse(m));
  const big = (n: number): BrokerEvent => log(String(n).repeat(20_000));

  it('joins the pieces of two senders that arrive interleaved', () => {
    const at = new Reassembler(() => 0);
    const a = pieces('n_a', big(1), 1);
    const b = pieces('n_b', big(2), 1);
    const out: BrokerEvent[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) out.push(...at.accept(a[i]));
      if (b[i]) out.push(...at.accept(b[i]));
    }
    expect(out).toEqual([big(1), big(2)]);
    expect(at.waiting).toBe(0);
  });

  it('forgets an event whose pieces stopped coming, after a minute', () => {
    let now = 0;
    const at = new Reassembler(() => now);
    const partial = pieces('n_a', big(1), 1);
    at.accept(partial[0]);
    expect(at.waiting).toBe(1);
    now = 61_000;
    const whole = pieces('n_a', big(2), 2);
    expect(whole.flatMap((m) => at.accept(m))).toEqual([big(2)]);
    expect(at.waiting).toBe(0);
  });

  it('holds at most 256 incomplete events', () => {
    const at = new Reassembler(() => 0);
    for (let id = 1; id <= 1_000; id++) at.accept(pieces('n_a', big(id), id)[0]);
    expect(at.waiting).toBeLessThanOrEqual(256);
  });

  it('ignores malformed pieces', () => {
    const at = new Reassembler(() => 0);
    expect(at.accept({ from: 'n_a', piece: { id: 1, i: 5, n: 2, text: 'x' } })).toEqual([]);
    expect(at.accept({ from: 'n_a', piece: { id: 1, i: 0, n: 1, text: 7 } } as never)).toEqual([]);
    expect(at.waiting).toBe(0);
  });
});
