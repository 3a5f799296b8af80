/**
 * Several broker nodes on one PostgreSQL database, as real processes: three `switchyard broker`
 * processes, worker agents spread over them. Jobs run once wherever they are submitted; a job
 * queued on one node wakes a worker of another at once; a killed leader is replaced and loses
 * nothing; a killed node's workers re-attach elsewhere and finish their jobs once. Every job
 * proves it ran once by writing to a file of its own.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobBody } from '../../src/protocol/api.js';
import { openEvents } from '../helpers/events.js';
import { api, getJob, submit, until } from '../helpers/http.js';
import { freshSchema, type TestSchema } from '../helpers/postgres.js';
import {
  brokerArgs,
  cli,
  killAll,
  startBrokerProcess,
  type BrokerProcess,
  type Proc,
} from '../helpers/processes.js';

let dir: string;
let schema: TestSchema;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-'));
  schema = freshSchema('sy_cluster');
});
afterEach(async () => {
  await killAll();
  await schema.drop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A liveness window of 2 s: short enough for the tests that kill nodes, long enough that a
 * worker on a loaded 2-core machine is never declared dead while it works (a run given away
 * while it still runs would run twice, as at-least-once allows, and fail the "once" checks).
 */
const CLUSTER_LIVENESS = ['--ping-interval', '200', '--max-liveness', '10'];

function node(i: number): Promise<BrokerProcess> {
  return startBrokerProcess([
    '--store',
    schema.url,
    ...brokerArgs(join(dir, `node${i}`)),
    ...CLUSTER_LIVENESS,
  ]);
}

/** Nodes one after the other: the first creates the schema, and it leads. */
async function cluster(n: number): Promise<BrokerProcess[]> {
  const nodes: BrokerProcess[] = [];
  for (let i = 0; i < n; i++) nodes.push(await node(i));
  return nodes;
}

function agent(brokers: readonly BrokerProcess[], name: string, extra: string[] = []): Proc {
  return cli([
    'worker',
    '--json',
    '--name',
    name,
    '--slots',
    '4',
    ...brokers.flatMap((b) => ['--broker', b.workersUrl]),
    ...extra,
  ]);
}

interface ClusterView {
  leader: string | null;
  nodes: Array<{
    id: string;
    alive: boolean;
    leader: boolean;
    self: boolean;
    workers: Array<{ name: string }>;
  }>;
}

const clusterOf = async (b: BrokerProcess) =>
  (await api<ClusterView>(b.clientsUrl, 'GET', '/api/v1/cluster')).json;

async function workersUp(via: BrokerProcess, names: readonly string[]): Promise<void> {
  await until(
    async () => {
      const view = await clusterOf(via);
      const up = view.nodes.flatMap((n) => n.workers.map((w) => w.name));
      return names.every((name) => up.includes(name));
    },
    15_000,
    `workers ${names.join(', ')} to register`,
  );
}

/**
 * A shell job that proves it ran once and never twice at the same time: it takes a lock
 * directory (failing if another run holds it) and appends a line to its own file.
 */
function onceJob(token: string, extra: Record<string, unknown> = {}, sleep = '0.02') {
  const lock = join(dir, `${token}.lock`);
  const runs = join(dir, `${token}.runs`);
  return {
    type: 'shell',
    payload: {
      command: `mkdir ${lock} || { echo overlap >> ${runs}; exit 99; }; echo "$SWITCHYARD_JOB_ID" >> ${runs}; sleep ${sleep}; rmdir ${lock}`,
    },
    ...extra,
  };
}

async function runsOf(token: string): Promise<string[]> {
  const text = await readFile(join(dir, `${token}.runs`), 'utf8');
  return text.trim().split('\n');
}

async function allEnded(via: BrokerProcess, ids: readonly string[], timeoutMs = 60_000) {
  const jobs = new Map<string, JobBody>();
  await until(
    async () => {
      for (const id of ids) {
        if (jobs.has(id)) continue;
        const job = await getJob(via.clientsUrl, id);
        if (['succeeded', 'failed', 'canceled'].includes(job.state)) jobs.set(id, job);
      }
      return jobs.size === ids.length;
    },
    timeoutMs,
    `${ids.length} jobs to end`,
  );
  return [...jobs.values()];
}

describe('a three-node cluster on one PostgreSQL database', () => {
  it('runs jobs submitted to any node exactly once, on workers of every node', async () => {
    const nodes = await cluster(3);
    nodes.forEach((b, i) => agent([b], `w${i}`));
    await workersUp(nodes[0]!, ['w0', 'w1', 'w2']);

    const view = await clusterOf(nodes[1]!);
    expect(view.nodes.filter((n) => n.alive)).toHaveLength(3);
    expect(view.leader).not.toBeNull();
    expect(view.nodes.filter((n) => n.leader)).toHaveLength(1);

    const submitted = await Promise.all(
      Array.from({ length: 60 }, (_, i) => submit(nodes[i % 3]!.clientsUrl, onceJob(`j${i}`))),
    );
    const ended = await allEnded(
      nodes[2]!,
      submitted.map((j) => j.id),
    );
    expect(ended.map((j) => j.state)).toEqual(submitted.map(() => 'succeeded'));
    for (let i = 0; i < 60; i++) expect(await runsOf(`j${i}`)).toEqual([submitted[i]!.id]);
    expect(new Set(ended.map((j) => j.workerName))).toEqual(new Set(['w0', 'w1', 'w2']));
  });

  it('wakes a capable worker on another node for a job queued on this one, and every node streams its events', async () => {
    const nodes = await cluster(3);
    agent([nodes[2]!], 'gpu', ['--label', 'hw=gpu']);
    await workersUp(nodes[0]!, ['gpu']);
    // Node 1 only watches: the events of the other two nodes reach its subscribers too.
    const watcher = await openEvents(nodes[1]!.clientsUrl);
    try {
      // Only the worker on node 2 can run it; node 0 has no worker at all.
      const job = await submit(nodes[0]!.clientsUrl, onceJob('gpu', { requires: { hw: 'gpu' } }));
      const [ended] = await allEnded(nodes[0]!, [job.id], 10_000);
      expect(ended).toMatchObject({ state: 'succeeded', workerName: 'gpu' });
      // Node 0 created it, node 2 ran it; events of different nodes keep no order between them.
      await watcher.waitFor((e) => e.data.id === job.id && e.data.to === 'succeeded');
      await watcher.waitFor((e) => e.data.id === job.id && e.name === 'job:created');
    } finally {
      watcher.close();
    }
  });

  it("stops at once a job canceled on one node while another node's worker runs it", async () => {
    const nodes = await cluster(2);
    const [a, b] = nodes as [BrokerProcess, BrokerProcess];
    agent([b], 'far');
    await workersUp(a, ['far']);
    const started = join(dir, 'far.started');
    const stopped = join(dir, 'far.stopped');
    const job = await submit(a.clientsUrl, {
      type: 'shell',
      killGrace: 30,
      payload: {
        command: `trap 'touch ${stopped}; exit 0' TERM; touch ${started}; sleep 60 & wait`,
      },
    });
    await until(async () => existsSync(started), 10_000, 'the job to start on node b');
    const canceled = await api<JobBody>(a.clientsUrl, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(canceled.json.state).toBe('canceled');
    // The worker on node b got the job's kill signal (well before any liveness or rescue).
    await until(async () => existsSync(stopped), 5_000, 'the process to get SIGTERM');
    const after = await getJob(b.clientsUrl, job.id);
    expect(after).toMatchObject({ state: 'canceled', workerName: 'far' });
    expect(after.attempts).toEqual([expect.objectContaining({ outcome: 'canceled' })]);
  });

  it('carries events of any size from node to node, whole', async () => {
    const nodes = await cluster(2);
    const [a, b] = nodes as [BrokerProcess, BrokerProcess];
    agent([b], 'talker');
    await workersUp(a, ['talker']);
    const watcher = await openEvents(a.clientsUrl);
    try {
      // A 20,000-character attribute and a 40,000-character line, from a job on node b.
      const job = await submit(a.clientsUrl, {
        type: 'shell',
        payload: {
          command: `echo "::attr big=$(printf 'x%.0s' $(seq 20000))"; printf 'é%.0s' $(seq 40000); echo; echo end`,
        },
      });
      const [ended] = await allEnded(a, [job.id], 15_000);
      expect(ended!.state).toBe('succeeded');
      let seen = '';
      await watcher.waitFor((e) => {
        if (e.name === 'job:log' && e.data.id === job.id) seen += String(e.data.data);
        return seen.includes('end\n');
      });
      expect(seen).toContain(`${'é'.repeat(40_000)}\nend\n`);
      const attr = await watcher.waitFor((e) => e.name === 'job:attribute' && e.data.id === job.id);
      expect(attr.data).toMatchObject({ key: 'big', value: 'x'.repeat(20_000) });
    } finally {
      watcher.close();
    }
  });

  it('answers a long poll on a node that neither queued nor ran the job as soon as it ends', async () => {
    const nodes = await cluster(3);
    agent([nodes[2]!], 'runner');
    await workersUp(nodes[0]!, ['runner']);
    const job = await submit(nodes[0]!.clientsUrl, onceJob('poll', {}, '0.5'));
    const started = Date.now();
    // Node 1 learns of the end only through the cluster's events.
    const answer = await api<JobBody>(
      nodes[1]!.clientsUrl,
      'GET',
      `/api/v1/jobs/${job.id}?wait=30`,
    );
    expect(answer.json).toMatchObject({ id: job.id, state: 'succeeded', workerName: 'runner' });
    // Answered with the end (the job sleeps half a second), not when the 30 s ran out.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('elects a new leader when the leader is killed under load, and every accepted job succeeds', async () => {
    const nodes = await cluster(3);
    for (let i = 0; i < 3; i++) agent([...nodes.slice(i), ...nodes.slice(0, i)], `w${i}`);
    await workersUp(nodes[1]!, ['w0', 'w1', 'w2']);
    const oldLeader = (await clusterOf(nodes[1]!)).leader;
    expect(oldLeader).not.toBeNull();
    const selves = await Promise.all(
      nodes.map(async (b) => (await clusterOf(b)).nodes.find((n) => n.self)!.id),
    );
    const leader = nodes[selves.indexOf(oldLeader!)]!;
    expect(leader).toBeDefined();
    const others = nodes.filter((b) => b !== leader);

    const accepted: string[] = [];
    let stop = false;
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        const via = others[i % others.length]!;
        try {
          const r = await api<JobBody>(via.clientsUrl, 'POST', '/api/v1/jobs', onceJob(`s${i}`));
          if (r.status === 201) accepted.push(`s${i}:${r.json.id}`);
        } catch {
          // A refused connection is not an accepted job.
        }
      }
    })();
    await until(async () => accepted.length >= 20, 10_000, 'some jobs to be accepted');
    await leader.proc.stop('SIGKILL');
    await until(async () => accepted.length >= 60, 15_000, 'more jobs after the kill');
    stop = true;
    await stream;

    await until(
      async () => {
        const view = await clusterOf(others[0]!);
        return view.leader !== null && view.leader !== oldLeader;
      },
      15_000,
      'a new leader',
    );
    const ids = accepted.map((a) => a.split(':')[1]!);
    const ended = await allEnded(others[0]!, ids);
    expect(ended.filter((j) => j.state !== 'succeeded')).toEqual([]);
    for (const a of accepted) {
      const [token, id] = a.split(':') as [string, string];
      expect(await runsOf(token)).toEqual([id]);
    }
  });

  it("re-attaches a killed node's workers to another node, which keep and finish their jobs once", async () => {
    const nodes = await cluster(2);
    const [a, b] = nodes as [BrokerProcess, BrokerProcess];
    // The worker prefers node b and falls back to node a.
    agent([b, a], 'mover');
    await workersUp(a, ['mover']);
    const started = join(dir, 'long.started');
    const job = await submit(a.clientsUrl, {
      type: 'shell',
      payload: {
        command: `touch ${started}; sleep 1.5; echo "$SWITCHYARD_JOB_ID" >> ${join(dir, 'long.runs')}`,
      },
    });
    await until(async () => existsSync(started), 10_000, 'the job to start');
    expect((await getJob(a.clientsUrl, job.id)).state).toBe('running');

    await b.proc.stop('SIGKILL');
    await until(
      async () =>
        (await clusterOf(a)).nodes.some((n) => n.self && n.workers.some((w) => w.name === 'mover')),
      10_000,
      'the worker to re-attach to node a',
    );
    const [ended] = await allEnded(a, [job.id], 20_000);
    expect(ended).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(await runsOf('long')).toEqual([job.id]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('rescues the running jobs of a dead node whose workers never come back', async () => {
    const [a, b] = (await cluster(2)) as [BrokerProcess, BrokerProcess];
    const doomed = agent([b], 'doomed');
    await workersUp(a, ['doomed']);
    const started = join(dir, 'orphan.started');
    const job = await submit(a.clientsUrl, {
      type: 'shell',
      payload: { command: `touch ${started}; sleep 30` },
    });
    await until(async () => existsSync(started), 10_000, 'the job to start');
    await Promise.all([b.proc.stop('SIGKILL'), doomed.stop('SIGKILL')]);

    agent([a], 'rescuer');
    await until(
      async () => (await getJob(a.clientsUrl, job.id)).workerName === 'rescuer',
      30_000,
      'the job to be rescued and run again on the new worker',
    );
    const again = await getJob(a.clientsUrl, job.id);
    expect(again).toMatchObject({ state: 'running', attempt: 2, requestFailures: 1 });
    expect(again.attempts[0]).toMatchObject({ workerName: 'doomed', outcome: 'aborted' });
  });
});
