/**
 * Queue gates across three broker nodes on one PostgreSQL database, as real processes with
 * worker agents on every node: a named limit of 3 is never exceeded (the jobs check it
 * themselves, with three lock directories), and a pause set through one node holds on all.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.js';
import type { JobBody } from '../../src/protocol/api.js';
import { api, getJob, submit, until } from '../helpers/http.js';
import { cli, type BrokerProcess } from '../helpers/processes.js';

const fx = useCluster({ dir: 'switchyard-qcluster-', schema: 'sy_qcluster' });

const { cluster } = fx;

async function agents(nodes: readonly BrokerProcess[], queues = 'default'): Promise<void> {
  const names = nodes.map((_, i) => `agent${i}`);
  nodes.forEach((b, i) =>
    cli([
      'worker',
      '--json',
      '--name',
      names[i]!,
      '--slots',
      '4',
      '--queue',
      queues,
      '--broker',
      b.workersUrl,
    ]),
  );
  await until(
    async () => {
      const view = await api<{ nodes: Array<{ workers: Array<{ name: string }> }> }>(
        nodes[0]!.clientsUrl,
        'GET',
        '/api/v1/cluster',
      );
      const up = view.json.nodes.flatMap((n) => n.workers.map((w) => w.name));
      return names.every((n) => up.includes(n));
    },
    20_000,
    'the agents to register',
  );
}

async function allEnded(via: BrokerProcess, ids: readonly string[]): Promise<JobBody[]> {
  const done = new Map<string, JobBody>();
  await until(
    async () => {
      for (const id of ids) {
        if (done.has(id)) continue;
        const job = await getJob(via.clientsUrl, id);
        if (['succeeded', 'failed', 'canceled'].includes(job.state)) done.set(id, job);
      }
      return done.size === ids.length;
    },
    90_000,
    `${ids.length} jobs to end`,
  );
  return [...done.values()];
}

/**
 * Takes one of three slot directories or records an overflow and fails; records how many slots
 * are taken while it holds one; holds it a while.
 */
function licensedJob(): Record<string, unknown> {
  const slots = [1, 2, 3].map((s) => join(fx.dir, `slot${s}`));
  return {
    type: 'shell',
    limits: ['lic'],
    payload: {
      command:
        `got=; for s in ${slots.join(' ')}; do if mkdir "$s" 2>/dev/null; then got="$s"; break; fi; done; ` +
        `[ -n "$got" ] || { echo over >> ${join(fx.dir, 'over')}; exit 99; }; ` +
        `ls -d ${join(fx.dir, 'slot')}* | wc -l >> ${join(fx.dir, 'held')}; sleep 0.25; rmdir "$got"`,
    },
  };
}

describe('queue gates across three nodes', () => {
  it('never runs more jobs under a named limit than its total, whichever node they go through', async () => {
    const nodes = await cluster(3);
    await agents(nodes);
    const set = await api(nodes[1]!.clientsUrl, 'PUT', '/api/v1/limits/lic', { max: 3 });
    expect(set.status).toBe(200);
    const jobs = await Promise.all(
      Array.from({ length: 24 }, (_, i) => submit(nodes[i % 3]!.clientsUrl, licensedJob())),
    );
    const ended = await allEnded(
      nodes[2]!,
      jobs.map((j) => j.id),
    );
    expect(ended.map((j) => j.state)).toEqual(Array(24).fill('succeeded'));
    expect(existsSync(join(fx.dir, 'over'))).toBe(false);
    const held = (await readFile(join(fx.dir, 'held'), 'utf8')).trim().split('\n').map(Number);
    expect(held).toHaveLength(24);
    expect(Math.max(...held)).toBe(3);
    // Workers of more than one node took part.
    expect(new Set(ended.map((j) => j.workerName)).size).toBeGreaterThan(1);
  });

  it('holds a rate limit and a concurrency limit shared by every node', async () => {
    const nodes = await cluster(3);
    await agents(nodes, 'r');
    await api(nodes[0]!.clientsUrl, 'PUT', '/api/v1/queues/r', {
      rate: 20,
      burst: 2,
      concurrency: 2,
    });
    const starts = join(fx.dir, 'starts');
    const slots = [1, 2].map((s) => join(fx.dir, `cslot${s}`));
    const job = {
      type: 'shell',
      queue: 'r',
      payload: {
        command:
          `date +%s%3N >> ${starts}; got=; for s in ${slots.join(' ')}; do if mkdir "$s" 2>/dev/null; ` +
          `then got="$s"; break; fi; done; [ -n "$got" ] || { echo over >> ${join(fx.dir, 'over')}; exit 99; }; ` +
          `sleep 0.05; rmdir "$got"`,
      },
    };
    const jobs = [];
    for (let i = 0; i < 90; i++) jobs.push(await submit(nodes[i % 3]!.clientsUrl, job));
    const ended = await allEnded(
      nodes[1]!,
      jobs.map((j) => j.id),
    );
    expect(ended.every((j) => j.state === 'succeeded')).toBe(true);
    expect(existsSync(join(fx.dir, 'over'))).toBe(false);
    const times = (await readFile(starts, 'utf8'))
      .trim()
      .split('\n')
      .map(Number)
      .sort((a, b) => a - b);
    // After the burst: 20 a second, all nodes together (within 10%, over 3 s).
    const t0 = times[0]! + 500;
    const inWindow = times.filter((t) => t >= t0 && t < t0 + 3_000).length;
    expect(inWindow).toBeGreaterThanOrEqual(54);
    expect(inWindow).toBeLessThanOrEqual(66);
    expect(new Set(ended.map((j) => j.workerName)).size).toBeGreaterThan(1);
  });

  it('holds a pause set through one node on every node, and a resume through another', async () => {
    const nodes = await cluster(3);
    await agents(nodes, 'p');
    const paused = await api(nodes[0]!.clientsUrl, 'POST', '/api/v1/queues/p/pause');
    expect(paused.status).toBe(200);
    // Every node has heard of it (the event, or its re-read of the queues).
    await until(
      async () => {
        for (const n of nodes) {
          const q = await api<{ paused: boolean }>(n.clientsUrl, 'GET', '/api/v1/queues/p');
          if (!q.json.paused) return false;
        }
        return true;
      },
      10_000,
      'every node to see the pause',
    );
    // Changes through two nodes at once: each reads the other's, neither is lost.
    const changes = await Promise.all([
      api(nodes[1]!.clientsUrl, 'PUT', '/api/v1/queues/p', { rate: 5 }),
      api(nodes[2]!.clientsUrl, 'PUT', '/api/v1/queues/p', { concurrency: 3 }),
    ]);
    expect(changes.map((c) => c.status)).toEqual([200, 200]);
    await until(
      async () => {
        const q = await api<{ paused: boolean; settings: { rate: number; concurrency: number } }>(
          nodes[0]!.clientsUrl,
          'GET',
          '/api/v1/queues/p',
        );
        return q.json.paused && q.json.settings.rate === 5 && q.json.settings.concurrency === 3;
      },
      10_000,
      'both changes and the pause, kept together',
    );
    const jobs = await Promise.all(
      nodes.map((n) =>
        submit(n.clientsUrl, { type: 'shell', queue: 'p', payload: { command: 'true' } }),
      ),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    for (const j of jobs) expect((await getJob(nodes[2]!.clientsUrl, j.id)).state).toBe('queued');
    expect((await api(nodes[2]!.clientsUrl, 'POST', '/api/v1/queues/p/resume')).status).toBe(200);
    const ended = await allEnded(
      nodes[1]!,
      jobs.map((j) => j.id),
    );
    expect(ended.map((j) => j.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });
});
