/**
 * A worker's identity across the nodes of a cluster (two in-process brokers on one PostgreSQL
 * schema, a raw WebSocket worker): it keeps its running job wherever it reconnects, even back
 * to a node that still remembers it from before, and its result is applied once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  decodeBrokerFrame,
  PROTOCOL_VERSION,
  type BrokerMessage,
  type Welcome,
} from '../../src/protocol/worker.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { getJob, submit, until } from '../helpers/http.js';
import { freshSchema, type TestSchema } from '../helpers/postgres.js';

let brokers: TestBroker[] = [];
let schema: TestSchema | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const b of brokers) await b.close();
  brokers = [];
  await schema?.drop();
  schema = undefined;
});

async function connect(url: string): Promise<{ ws: WebSocket; messages: BrokerMessage[] }> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  const messages: BrokerMessage[] = [];
  ws.on('message', (data) => {
    const d = decodeBrokerFrame(data.toString());
    if (d.ok) messages.push(...d.messages);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages };
}

async function next<T extends BrokerMessage['type']>(
  conn: { messages: BrokerMessage[] },
  type: T,
): Promise<Extract<BrokerMessage, { type: T }>> {
  let found: BrokerMessage | undefined;
  await until(() => (found = conn.messages.find((m) => m.type === type)) !== undefined);
  conn.messages.splice(conn.messages.indexOf(found!), 1);
  return found as Extract<BrokerMessage, { type: T }>;
}

const hello = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'hello',
    name: 'bouncer',
    labels: {},
    types: ['t'],
    queues: ['default'],
    slots: 1,
    version: PROTOCOL_VERSION,
    ...extra,
  });

describe('a worker moving between nodes', () => {
  it('keeps its job on the node it comes back to, though that node still remembers it', async () => {
    schema = freshSchema('sy_identity');
    // A window long enough that neither node gives the worker up while it moves.
    const over = { store: schema.url, pingIntervalMs: 1_000, maxLiveness: 30 };
    brokers.push(await startTestBroker(over));
    brokers.push(await startTestBroker(over));
    const [a, b] = brokers.map((t) => t.broker) as [TestBroker['broker'], TestBroker['broker']];

    const first = await connect(a.workersUrl);
    first.ws.send(hello());
    const welcome: Welcome = await next(first, 'welcome');
    const job = await submit(a.clientsUrl, { type: 't' });
    await next(first, 'assign');
    const again = (c: typeof first) =>
      c.ws.send(
        hello({
          workerId: welcome.workerId,
          secret: welcome.secret,
          running: [{ jobId: job.id, attempt: 1 }],
        }),
      );

    // To node b, then back to node a (which has kept its session for the worker).
    first.ws.terminate();
    const onB = await connect(b.workersUrl);
    again(onB);
    expect((await next(onB, 'welcome')).adopted).toEqual([job.id]);
    onB.ws.terminate();
    const backOnA = await connect(a.workersUrl);
    again(backOnA);
    expect((await next(backOnA, 'welcome')).adopted).toEqual([job.id]);

    backOnA.ws.send(JSON.stringify({ type: 'done', jobId: job.id, attempt: 1, result: 'once' }));
    await next(backOnA, 'ack');
    expect(await getJob(a.clientsUrl, job.id)).toMatchObject({
      state: 'succeeded',
      result: 'once',
      attempt: 1,
    });
  });
});
