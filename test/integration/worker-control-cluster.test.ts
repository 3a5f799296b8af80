/**
 * Workers under control with two broker nodes on one PostgreSQL database, as real processes:
 * the status, queues and blocklist of a worker connected to node B, set through node A, take
 * effect on B (the control plane carries them); drain now stops and re-queues the running job,
 * and the agent process exits.
 */
import { describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.js';
import type { WorkerBody } from '../../src/protocol/api.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import { startAgent, type BrokerProcess } from '../helpers/processes.js';

const fx = useCluster({ dir: 'switchyard-worker-control-cluster-', schema: 'sy_worker_control' });

const { cluster } = fx;

async function workerId(b: BrokerProcess, name: string): Promise<string> {
  const r = await api<{ workers: WorkerBody[] }>(b.clientsUrl, 'GET', '/api/v1/workers');
  const w = r.json.workers.find((x) => x.name === name);
  if (w === undefined) throw new Error(`no worker ${name} on ${b.clientsUrl}`);
  return w.id;
}

const sleepy = (seconds: number) => ({ type: 'shell', payload: { command: `sleep ${seconds}` } });

describe('two nodes on PostgreSQL', () => {
  it('a status set through node A holds for a worker connected to node B', async () => {
    const [a, b] = await cluster(2);
    await startAgent(b!, 'far');
    const id = await workerId(b!, 'far');
    const set = await api<WorkerBody>(a!.clientsUrl, 'POST', `/api/v1/workers/${id}/status`, {
      status: 'asleep',
      when: 'after',
    });
    expect(set.status).toBe(200);
    expect(set.json.status).toBe('asleep');
    await until(
      async () =>
        (await api<WorkerBody>(b!.clientsUrl, 'GET', `/api/v1/workers/${id}`)).json.state ===
        'asleep',
      10_000,
      'node B to put its worker to sleep',
    );
    const job = await submit(a!.clientsUrl, { type: 'shell', payload: { command: 'true' } });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await getJob(a!.clientsUrl, job.id)).state).toBe('queued');

    await api(a!.clientsUrl, 'POST', `/api/v1/workers/${id}/status`, { status: 'awake' });
    expect((await waitJob(a!.clientsUrl, job.id, undefined, 20_000)).state).toBe('succeeded');
  });

  it('queues attached through node A are served by the worker on node B at once', async () => {
    const [a, b] = await cluster(2);
    await startAgent(b!, 'far');
    const id = await workerId(b!, 'far');
    const job = await submit(a!.clientsUrl, {
      type: 'shell',
      queue: 'night',
      payload: { command: 'true' },
    });
    await new Promise((r) => setTimeout(r, 600));
    expect((await getJob(a!.clientsUrl, job.id)).state).toBe('queued');
    const r = await api<WorkerBody>(a!.clientsUrl, 'PUT', `/api/v1/workers/${id}/queues`, {
      queues: ['default', 'night'],
    });
    expect(r.json.queues).toEqual(['default', 'night']);
    expect((await waitJob(a!.clientsUrl, job.id, undefined, 20_000)).state).toBe('succeeded');
  });

  it('drain now through node A: the job on node B goes back to the queue and the agent exits', async () => {
    const [a, b] = await cluster(2);
    const agent = await startAgent(b!, 'far');
    const id = await workerId(b!, 'far');
    const job = await submit(a!.clientsUrl, sleepy(60));
    await waitJob(a!.clientsUrl, job.id, (j) => j.state === 'running', 20_000);
    await api(a!.clientsUrl, 'POST', `/api/v1/workers/${id}/status`, {
      status: 'drain',
      when: 'now',
    });
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    const back = await waitJob(a!.clientsUrl, job.id, (j) => j.state === 'queued', 20_000);
    expect(back.requestFailures).toBe(0);
    expect(back.attempts[0]).toMatchObject({ error: { code: 'requeued' } });
  });
});
