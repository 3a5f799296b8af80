/**
 * The event stream (`GET /api/v1/events`) and the cluster view (`GET /api/v1/cluster`) of a
 * single node on SQLite: it leads, it is the only live node, and its workers are listed.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from '../../src/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { openEvents, type EventStream } from '../helpers/events.js';
import { api, submit, until, waitJob } from '../helpers/http.js';

let tb: TestBroker | undefined;
const streams: EventStream[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const w of workers.splice(0)) await w.close();
  await tb?.close();
  tb = undefined;
});

async function setup() {
  tb = await startTestBroker();
  const worker = new Worker({
    brokers: tb.broker.workersUrl,
    name: 'events-worker',
    handlers: {
      noop: async (job) => {
        job.progress(40, 'going');
        job.log('a line of output\n');
        return { ok: true };
      },
    },
  });
  workers.push(worker);
  await worker.start();
  return tb.broker.clientsUrl;
}

describe('GET /api/v1/events', () => {
  it('streams a job from creation to success: state, progress and logs', async () => {
    const base = await setup();
    const stream = await openEvents(base);
    streams.push(stream);
    const job = await submit(base, { type: 'noop', payload: null });
    await waitJob(base, job.id, (j) => j.state === 'succeeded');
    await stream.waitFor((e) => e.name === 'job:state' && e.data.to === 'succeeded');
    const mine = stream.events.filter((e) => e.data.id === job.id);
    const names = mine.map((e) => e.name);
    expect(names[0]).toBe('job:created');
    expect(names).toContain('job:progress');
    expect(mine.find((e) => e.name === 'job:log')?.data.data).toBe('a line of output\n');
    // Every change with the state before it, its submission too, each with its message seq.
    const states = mine.filter((e) => e.name === 'job:state');
    expect(states.map((e) => [e.data.from, e.data.to])).toEqual([
      [null, 'queued'],
      ['queued', 'running'],
      ['running', 'succeeded'],
    ]);
    const seqs = states.map((e) => e.data.seq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it('narrows the stream to one job with ?job=ID, and refuses a malformed id', async () => {
    const base = await setup();
    const first = await submit(base, { type: 'noop', payload: null, queue: 'nobody' });
    const stream = await openEvents(base, `?job=${first.id}`);
    streams.push(stream);
    const other = await submit(base, { type: 'noop', payload: null });
    await waitJob(base, other.id, (j) => j.state === 'succeeded');
    await api(base, 'POST', `/api/v1/jobs/${first.id}/cancel`);
    await stream.waitFor((e) => e.name === 'job:state' && e.data.to === 'canceled');
    expect(stream.events.every((e) => e.data.id === first.id)).toBe(true);

    const bad = await api<{ error: { code: string; message: string } }>(
      base,
      'GET',
      '/api/v1/events?job=abc',
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/job/);
  });

  it('answers HEAD at once with the status and headers of the stream and no body', async () => {
    tb = await startTestBroker();
    const base = tb.broker.clientsUrl;
    const started = Date.now();
    // A HEAD left waiting for the end of a stream that never ends would time out here.
    const res = await fetch(`${base}/api/v1/events`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('');
    expect(Date.now() - started).toBeLessThan(2_000);
    // HEAD with a bad query is refused like GET.
    const bad = await fetch(`${base}/api/v1/events?job=abc`, { method: 'HEAD' });
    expect(bad.status).toBe(400);
  });
});

describe('GET /api/v1/cluster on one node', () => {
  it('names this node as the only live node and the leader, with its workers', async () => {
    const base = await setup();
    type Cluster = {
      leader: string | null;
      nodes: Array<{
        id: string;
        alive: boolean;
        leader: boolean;
        self: boolean;
        workers: Array<{ name: string }>;
      }>;
    };
    await until(
      async () => (await api<Cluster>(base, 'GET', '/api/v1/cluster')).json.leader !== null,
      5_000,
      'a leader',
    );
    const { json } = await api<Cluster>(base, 'GET', '/api/v1/cluster');
    expect(json.leader).toBe(tb!.broker.nodeId);
    const live = json.nodes.filter((n) => n.alive);
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ id: tb!.broker.nodeId, leader: true, self: true });
    expect(live[0]!.workers.map((w) => w.name)).toEqual(['events-worker']);
  });
});

describe('a reader of the event stream that does not keep up', () => {
  it('is cut off with a reason once too much waits for it, while a reader that keeps up gets everything', async () => {
    tb = await startTestBroker();
    const url = new URL(tb.broker.clientsUrl);
    const readers = () => tb!.broker.eventLog.subscribers;
    const baseline = readers();
    // A reader that reads nothing: its socket paused from the start.
    const lazy = connect({ host: url.hostname, port: Number(url.port) });
    lazy.pause();
    lazy.write(`GET /api/v1/events HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    const reader = await openEvents(tb.broker.clientsUrl);
    streams.push(reader);
    await until(() => readers() === baseline + 2);
    const chunk = 'x'.repeat(1024 * 1024);
    const logs = () => reader.events.filter((x) => x.name === 'job:log').length;
    for (let i = 0; i < 40; i++) {
      tb.broker.events.emit('job:log', {
        id: 1,
        seq: i + 1,
        at: 0,
        attempt: 1,
        stream: 'stdout',
        data: chunk,
      });
      // The reader keeps up: each event arrives before the next is sent.
      await reader.waitFor(() => logs() === i + 1, 20_000);
    }
    // The lazy one was let go: only the reader still listens.
    await until(() => readers() === baseline + 1, 10_000);
    const received = reader.events.filter((e) => e.name === 'job:log');
    expect(received.every((e) => e.data.data === chunk)).toBe(true);
    // What the lazy reader finds when it reads at last: events, then the reason, then the end.
    let text = '';
    lazy.setEncoding('utf8');
    lazy.on('data', (d: string) => (text += d));
    lazy.resume();
    await new Promise<void>((resolve) => lazy.once('close', () => resolve()));
    const reasonAt = text.lastIndexOf('event: error\ndata: ');
    expect(reasonAt).toBeGreaterThan(0);
    const reason = JSON.parse(text.slice(reasonAt + 'event: error\ndata: '.length).split('\n')[0]!);
    expect(reason).toMatchObject({ code: 'slow_consumer' });
    expect(reason.message).toMatch(/more than 8388608 bytes of events were waiting to be read/);
  }, 60_000);
});
