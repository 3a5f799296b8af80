/**
 * The job lifecycle with three broker nodes on one PostgreSQL database, as real processes:
 * uniqueness under dozens of submitters spread over the nodes, freeze set on one node and obeyed
 * by the others, a running job held and released through a node other than its worker's, a
 * dependency ending on one node releasing a job submitted through another, and a filtered
 * action through a third.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.js';
import type { ActionResult, JobBody } from '../../src/protocol/api.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import { startAgent, type BrokerProcess } from '../helpers/processes.js';

const fx = useCluster({ dir: 'switchyard-lifecycle-cluster-', schema: 'sy_lifecycle' });

const { cluster } = fx;

const agentOn = (b: BrokerProcess, name: string) => startAgent(b, name, ['--slots', '2']);

describe('three nodes on PostgreSQL', () => {
  it('gives 45 concurrent submitters of one key, spread over the nodes, exactly one job', async () => {
    const nodes = await cluster(3);
    const body = {
      type: 'shell',
      payload: { command: 'true' },
      unique: { key: 'nightly-report', for: 600 },
    };
    const answers = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        api<JobBody>(nodes[i % 3]!.clientsUrl, 'POST', '/api/v1/jobs', body),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([...Array<number>(44).fill(200), 201]);
    expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
    const list = await api<{ jobs: JobBody[] }>(nodes[2]!.clientsUrl, 'GET', '/api/v1/jobs');
    expect(list.json.jobs).toHaveLength(1);
  });

  it('freezes every node from one, and unfreezes them', async () => {
    const nodes = await cluster(3);
    const job = { type: 'shell', payload: { command: 'true' } };
    expect((await api(nodes[0]!.clientsUrl, 'POST', '/api/v1/freeze')).json).toEqual({
      frozen: true,
    });
    for (const n of nodes) {
      await until(
        async () => (await api(n.clientsUrl, 'POST', '/api/v1/jobs', job)).status === 503,
        10_000,
        'every node to be frozen',
      );
    }
    const refused = await api(nodes[2]!.clientsUrl, 'POST', '/api/v1/jobs', job);
    expect(refused.json.error).toMatchObject({ code: 'frozen', message: 'The broker is frozen.' });
    await api(nodes[1]!.clientsUrl, 'POST', '/api/v1/unfreeze');
    for (const n of nodes) {
      await until(
        async () => (await api(n.clientsUrl, 'POST', '/api/v1/jobs', job)).status === 201,
        10_000,
        'every node to take jobs again',
      );
    }
  });

  it('holds and releases a running job through another node, and releases dependents across nodes', async () => {
    const nodes = await cluster(3);
    await agentOn(nodes[0]!, 'w0');
    const pidFile = join(fx.dir, 'pids');
    const job = await submit(nodes[1]!.clientsUrl, {
      type: 'shell',
      payload: { command: `echo $$ >> ${pidFile}; exec sleep 60` },
      killGrace: 1,
      maxAttempts: 1,
    });
    await until(() => existsSync(pidFile), 15_000, 'the job to start');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    // Held through node 2; its worker is on node 0.
    const held = await api<JobBody>(nodes[2]!.clientsUrl, 'POST', `/api/v1/jobs/${job.id}/hold`, {
      reason: 'elsewhere',
    });
    expect(held.json).toMatchObject({ state: 'held', hold: { reason: 'elsewhere' } });
    await until(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      10_000,
      'the process to be stopped through another node',
    );
    await api(nodes[1]!.clientsUrl, 'POST', `/api/v1/jobs/${job.id}/release`);
    const running = await waitJob(nodes[2]!.clientsUrl, job.id, (j) => j.state === 'running');
    expect(running.attempt).toBe(2);
    await api(nodes[2]!.clientsUrl, 'POST', `/api/v1/jobs/${job.id}/cancel`);

    // A dependency submitted and run on node 0, its dependent submitted through node 1.
    const first = await submit(nodes[0]!.clientsUrl, {
      type: 'shell',
      payload: { command: 'sleep 0.5' },
    });
    const second = await submit(nodes[1]!.clientsUrl, {
      type: 'shell',
      payload: { command: 'true' },
      dependsOn: [first.id],
    });
    expect(second.state).toBe('waiting');
    expect((await waitJob(nodes[2]!.clientsUrl, second.id)).state).toBe('succeeded');

    // A filtered action through node 2 reaches jobs submitted through the others.
    const ids = [];
    for (let i = 0; i < 6; i++) {
      ids.push(
        (
          await submit(nodes[i % 2]!.clientsUrl, {
            type: 'nobody',
            queue: 'parked',
            payload: { n: i },
          })
        ).id,
      );
    }
    const r = await api<ActionResult>(nodes[2]!.clientsUrl, 'POST', '/api/v1/jobs/actions', {
      action: 'cancel',
      filter: { queue: 'parked', state: 'queued' },
    });
    expect(r.json).toEqual({ matched: 6, changed: 6, dryRun: false });
    for (const id of ids) expect((await getJob(nodes[0]!.clientsUrl, id)).state).toBe('canceled');
  });
});
