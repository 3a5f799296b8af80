/**
 * A worker's identity across the nodes of a cluster (two in-process brokers on one PostgreSQL
 * schema, a raw WebSocket worker): it keeps its running job wherever it reconnects, even back
 * to a node that still remembers it from before, and its result is applied once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { getJob, submit } from '../helpers/http.js';
import { freshSchema, type TestSchema } from '../helpers/postgres.js';
import { closeRawWorkers, RawWorker } from '../helpers/raw-worker.js';

let brokers: TestBroker[] = [];
let schema: TestSchema | undefined;
afterEach(async () => {
  await closeRawWorkers();
  for (const b of brokers) await b.close();
  brokers = [];
  await schema?.drop();
  schema = undefined;
});

describe('a worker moving between nodes', () => {
  it('keeps its job on the node it comes back to, though that node still remembers it', async () => {
    schema = freshSchema('sy_identity');
    // A window long enough that neither node gives the worker up while it moves.
    const over = { store: schema.url, pingIntervalMs: 1_000, maxLiveness: 30 };
    brokers.push(await startTestBroker(over));
    brokers.push(await startTestBroker(over));
    const [a, b] = brokers.map((t) => t.broker) as [TestBroker['broker'], TestBroker['broker']];

    const first = await RawWorker.open(a.workersUrl);
    first.hello({ name: 'bouncer' });
    const welcome = await first.next('welcome');
    const job = await submit(a.clientsUrl, { type: 't' });
    await first.next('assign');
    const again = (w: RawWorker) =>
      w.hello({
        name: 'bouncer',
        workerId: welcome.workerId,
        secret: welcome.secret,
        running: [{ jobId: job.id, attempt: 1 }],
      });

    // To node b, then back to node a (which has kept its session for the worker).
    await first.close();
    const onB = await RawWorker.open(b.workersUrl);
    again(onB);
    expect((await onB.next('welcome')).adopted).toEqual([job.id]);
    await onB.close();
    const backOnA = await RawWorker.open(a.workersUrl);
    again(backOnA);
    expect((await backOnA.next('welcome')).adopted).toEqual([job.id]);

    backOnA.send({ type: 'done', jobId: job.id, attempt: 1, result: 'once' });
    await backOnA.next('ack');
    expect(await getJob(a.clientsUrl, job.id)).toMatchObject({
      state: 'succeeded',
      result: 'once',
      attempt: 1,
    });
  });
});
