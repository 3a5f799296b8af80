/**
 * The event stream over WebSocket (and its resume over SSE) against a real broker: filters,
 * resume after a reconnect with nothing lost or repeated, a gap for ids the node cannot
 * replay, a reader that never reads cut off with its buffer bounded while one that keeps up
 * gets everything, and the token for browsers.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { openEventStream, type BrokerEventMessage } from '../../src/client/events.js';
import { MAX_UNSENT_BYTES } from '../../src/api/event-feed.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { submit, until } from '../helpers/http.js';

interface Message {
  type: 'event' | 'gap';
  id?: number;
  name?: string;
  data?: Record<string, unknown>;
  missed?: number | null;
  after?: number;
}

interface Reader {
  ws: WebSocket;
  messages: Message[];
  bytes: number;
  closed: Promise<{ code: number; reason: string }>;
}

function wsUrl(base: string, query = ''): string {
  return `${base.replace(/^http/, 'ws')}/api/v1/events${query}`;
}

async function connect(base: string, query = '', headers: Record<string, string> = {}) {
  const ws = new WebSocket(wsUrl(base, query), { headers });
  const reader: Reader = {
    ws,
    messages: [],
    bytes: 0,
    closed: new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    ),
  };
  ws.on('message', (data: Buffer) => {
    reader.bytes += data.length;
    reader.messages.push(JSON.parse(data.toString()) as Message);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    // Listening to it makes closing the refused request ours to do.
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      res.destroy();
      reject(new Error(`the broker answered HTTP ${res.statusCode ?? '?'}`));
    });
  });
  return reader;
}

const events = (r: Reader, name?: string) =>
  r.messages.filter((m) => m.type === 'event' && (name === undefined || m.name === name));

async function closeReader(r: Reader): Promise<void> {
  r.ws.close();
  await r.closed;
}

let b: TestBroker | null = null;
afterEach(async () => {
  await b?.close();
  b = null;
});

const job = (queue: string) => ({ type: 'nobody', queue, payload: {} });

describe('the events WebSocket', () => {
  it('sends the events that match ?kind, ?queue and ?job, each with its id', async () => {
    b = await startTestBroker();
    const base = b.broker.clientsUrl;
    const byQueue = await connect(base, '?kind=job:created&queue=qa');
    const byJob = await connect(base, '?kind=job');
    const a1 = await submit(base, job('qa'));
    await submit(base, job('qb'));
    const a2 = await submit(base, job('qa'));
    await until(async () => events(byQueue).length >= 2, 5_000, 'the events of qa');
    expect(events(byQueue).map((m) => m.data!.id)).toEqual([a1.id, a2.id]);
    expect(events(byQueue).every((m) => m.data!.queue === 'qa')).toBe(true);
    const [first, second] = events(byQueue);
    expect(second!.id!).toBeGreaterThan(first!.id!);

    // A canceled job's state change names its queue too, so ?queue= sees it.
    const onlyA1 = await connect(base, `?job=${a1.id}&queue=qa`);
    const canceled = await fetch(`${base}/api/v1/jobs/${a1.id}/cancel`, { method: 'POST' });
    expect(canceled.status).toBe(200);
    await until(async () => events(onlyA1).length >= 1, 5_000, 'the cancel');
    expect(events(onlyA1)[0]).toMatchObject({
      name: 'job:state',
      data: { id: a1.id, queue: 'qa', to: 'canceled' },
    });
    await until(async () => events(byJob, 'job:state').length >= 1, 5_000, 'job:state');
    expect(byJob.messages.some((m) => m.name?.startsWith('worker:'))).toBe(false);
    for (const r of [byQueue, byJob, onlyA1]) await closeReader(r);
  });

  it('refuses an unknown kind, naming the field', async () => {
    b = await startTestBroker();
    const res = await fetch(`${b.broker.clientsUrl}/api/v1/events?kind=jobs`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('kind');
    await expect(connect(b.broker.clientsUrl, '?kind=nope')).rejects.toThrow(/HTTP 400/);
  });

  it('resumes after a reconnect with ?since: nothing lost, nothing twice', async () => {
    b = await startTestBroker();
    const base = b.broker.clientsUrl;
    const first = await connect(base, '?kind=job:created');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submit(base, job('q'))).id);
    await until(async () => events(first).length >= 3, 5_000, 'the first events');
    const last = events(first).at(-1)!.id!;
    await closeReader(first);
    // Submitted while no reader is connected.
    for (let i = 0; i < 3; i++) ids.push((await submit(base, job('q'))).id);
    const second = await connect(base, `?kind=job:created&since=${last}`);
    ids.push((await submit(base, job('q'))).id);
    await until(async () => events(second).length >= 4, 5_000, 'the missed and the new');
    const seen = [...events(first), ...events(second)].map((m) => m.data!.id);
    expect(seen).toEqual(ids);
    expect(second.messages.some((m) => m.type === 'gap')).toBe(false);
    await closeReader(second);
  });

  it('starts with a gap when resumed from an id this node cannot replay', async () => {
    b = await startTestBroker();
    await submit(b.broker.clientsUrl, job('q'));
    const r = await connect(b.broker.clientsUrl, '?since=1');
    await until(async () => r.messages.length >= 1, 5_000, 'the gap');
    expect(r.messages[0]).toEqual({ type: 'gap', missed: null, after: 1 });
    await closeReader(r);
  });

  it('cuts off a reader that never reads (code 4008), while one that keeps up gets all', async () => {
    b = await startTestBroker();
    const base = b.broker.clientsUrl;
    const slow = await connect(base, '?kind=job:log');
    const fast = await connect(base, '?kind=job:log');
    // The slow reader stops reading: the broker's buffer for it grows until the bound.
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const chunk = 'x'.repeat(64 * 1024);
    const total = 400; // 25 MiB, three times the bound
    for (let i = 0; i < total; i++) {
      b.broker.events.emit('job:log', {
        id: 1,
        seq: 1,
        at: 0,
        attempt: 1,
        stream: 'stdout',
        data: chunk,
      });
      // Let the reader that keeps up read.
      if (i % 8 === 7) {
        const want = i + 1;
        await until(async () => events(fast).length >= want, 5_000, 'the fast reader');
      }
    }
    await until(async () => events(fast).length >= total, 10_000, 'every event');
    expect(events(fast).map((m) => m.id)).toEqual(
      Array.from({ length: total }, (_, i) => events(fast)[0]!.id! + i),
    );
    // The slow one reads again: it gets what was held for it, then the close.
    socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(4008);
    expect(closed.reason).toMatch(/^slow_consumer/);
    expect(events(slow).length).toBeLessThan(total);
    // What reached it is what the broker held (at most the bound) plus the kernel's buffers.
    expect(slow.bytes).toBeLessThan(MAX_UNSENT_BYTES + 8 * 1024 * 1024);
    await closeReader(fast);
  });

  it('skips a lagging reader ahead with ?overflow=skip and tells it what it missed', async () => {
    b = await startTestBroker();
    const slow = await connect(b.broker.clientsUrl, '?kind=job:log&overflow=skip');
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const chunk = 'x'.repeat(64 * 1024);
    const total = 400;
    for (let i = 0; i < total; i++)
      b.broker.events.emit('job:log', {
        id: 1,
        seq: 1,
        at: 0,
        attempt: 1,
        stream: 'stdout',
        data: chunk,
      });
    socket.resume();
    await until(async () => slow.messages.some((m) => m.type === 'gap'), 10_000, 'the gap');
    const gapAt = slow.messages.findIndex((m) => m.type === 'gap');
    const before = slow.messages.slice(0, gapAt);
    const gap = slow.messages[gapAt]!;
    expect(gap.after).toBe(before.at(-1)!.id);
    expect(before.length + gap.missed!).toBe(total);
    // It goes on live, still connected.
    b.broker.events.emit('job:log', {
      id: 1,
      seq: 1,
      at: 0,
      attempt: 1,
      stream: 'stdout',
      data: 'after',
    });
    await until(async () => events(slow).some((m) => m.data!.data === 'after'), 5_000, 'live');
    expect(events(slow).at(-1)!.id).toBe(gap.after! + gap.missed! + 1);
    await closeReader(slow);
  });
});

describe('the events stream (SSE)', () => {
  it('carries event ids, and resumes after Last-Event-ID', async () => {
    b = await startTestBroker();
    const base = b.broker.clientsUrl;
    const got: BrokerEventMessage[] = [];
    const first = await openEventStream(`${base}/api/v1/events?kind=job:created`, {}, (e) =>
      got.push(e),
    );
    const a = await submit(base, job('q'));
    await until(async () => got.length >= 1, 5_000, 'the first event');
    first.close();
    await first.ended;
    const lastId = got[0]!.id!;
    expect(typeof lastId).toBe('number');
    const b1 = await submit(base, job('q'));
    const b2 = await submit(base, job('q'));
    const again: BrokerEventMessage[] = [];
    const second = await openEventStream(
      `${base}/api/v1/events?kind=job:created`,
      { 'last-event-id': String(lastId) },
      (e) => again.push(e),
    );
    await until(async () => again.length >= 2, 5_000, 'the missed events');
    expect([a, b1, b2].map((j) => j.id)).toEqual([...got, ...again].map((e) => e.data.id));
    // Ids grow (other events, such as each submission's job:state, come between these).
    const ids = again.map((e) => e.id!);
    expect(ids[0]).toBeGreaterThan(lastId);
    expect(ids[1]).toBeGreaterThan(ids[0]!);
    second.close();
    await second.ended;
  });
});

describe('the events stream with tokens', () => {
  it('takes the client token as ?token= (browsers), and refuses without one', async () => {
    b = await startTestBroker({ auth: { clientTokens: ['secret-client'] } });
    const base = b.broker.clientsUrl;
    await expect(connect(base)).rejects.toThrow(/HTTP 401/);
    await expect(connect(base, '?token=wrong')).rejects.toThrow(/HTTP 403/);
    const r = await connect(base, '?token=secret-client&kind=job:created');
    await fetch(`${base}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: 'Bearer secret-client', 'content-type': 'application/json' },
      body: JSON.stringify(job('q')),
    });
    await until(async () => events(r).length >= 1, 5_000, 'an event');
    await closeReader(r);
    // The token in the query is only for the streams.
    const jobs = await fetch(`${base}/api/v1/jobs?token=secret-client`);
    expect(jobs.status).toBe(401);
  });

  it('refuses a WebSocket from a foreign web page when no token protects the broker', async () => {
    b = await startTestBroker();
    await expect(
      connect(b.broker.clientsUrl, '', { origin: 'https://evil.example' }),
    ).rejects.toThrow(/HTTP 403/);
    const ok = await connect(b.broker.clientsUrl, '', { origin: 'http://localhost:9658' });
    await closeReader(ok);
  });
});
