/**
 * The notifier with two broker nodes on one PostgreSQL database, as real processes: every
 * callback is delivered once, whichever node recorded it and whichever claims it; a node
 * killed mid-send leaves its callback to the other, which sends it (same key) once the lease
 * has lapsed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, submit, until } from '../helpers/http.js';
import { freshSchema, type TestSchema } from '../helpers/postgres.js';
import {
  brokerArgs,
  killAll,
  startBrokerProcess,
  type BrokerProcess,
} from '../helpers/processes.js';
import { Receiver, type Received } from '../helpers/receiver.js';

let dir: string;
let schema: TestSchema;
const closers: Array<() => Promise<void>> = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-notifier-cluster-'));
  schema = freshSchema('sy_notifier');
});
afterEach(async () => {
  await killAll();
  for (const c of closers.splice(0).reverse()) await c();
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

async function receiver(answer: (r: Received, n: number) => number | 'hang'): Promise<Receiver> {
  const r = await Receiver.start(answer);
  closers.push(() => r.close());
  return r;
}

async function cluster(url: string, n: number): Promise<BrokerProcess[]> {
  const file = join(dir, 'config.yml');
  await writeFile(
    file,
    `notifier:\n  address: ${url}/hook\n  timeout: 1000\n  retry_base: 200\n  retry_max: 1000\n`,
  );
  const nodes: BrokerProcess[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(
      await startBrokerProcess([
        '--store',
        schema.url,
        ...brokerArgs(join(dir, `node${i}`)),
        '--ping-interval',
        '200',
        '--max-liveness',
        '10',
        '--config',
        file,
      ]),
    );
  }
  return nodes;
}

/** A job nobody runs, canceled through `via`: its end is recorded by that node. */
async function endOne(submitVia: BrokerProcess, cancelVia: BrokerProcess): Promise<string> {
  const job = await submit(submitVia.clientsUrl, {
    type: 'shell',
    payload: { command: 'true' },
    queue: 'nobody',
  });
  const r = await api(cancelVia.clientsUrl, 'POST', `/api/v1/jobs/${job.id}/cancel`);
  expect(r.status).toBe(200);
  return job.id;
}

const jobIdOf = (r: Received): string => (JSON.parse(r.body) as { job: { id: string } }).job.id;

describe('the notifier on two PostgreSQL nodes', () => {
  it('delivers each callback once, whichever node ended the job', async () => {
    const rx = await receiver(() => 204);
    const nodes = await cluster(rx.url, 2);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await endOne(nodes[i % 2]!, nodes[(i + 1) % 2]!));
    await until(() => rx.requests.length >= 20, 20_000, '20 callbacks');
    // Past the nodes' next look at the outbox (every 5 s): nothing is sent twice.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(rx.requests).toHaveLength(20);
    expect(new Set(rx.keys()).size).toBe(20);
    expect(rx.requests.map(jobIdOf).sort()).toEqual([...ids].sort());
  }, 60_000);

  it('hands a callback in flight on a killed node to the other once its lease lapses', async () => {
    const rx = await receiver((_, n) => (n === 1 ? 'hang' : 200));
    const [a, b] = await cluster(rx.url, 2);
    const id = await endOne(a!, a!);
    await until(() => rx.requests.length === 1, 10_000, 'the first try');
    await a!.proc.stop('SIGKILL');
    // The lease is the timeout (1 s) plus a 10 s margin; node b looks every 5 s.
    await until(() => rx.requests.length === 2, 30_000, 'the try by the other node');
    expect(rx.keys()[1]).toBe(rx.keys()[0]);
    expect(jobIdOf(rx.requests[1]!)).toBe(id);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(rx.requests).toHaveLength(2);
    await b!.proc.stop('SIGTERM');
  }, 60_000);
});
