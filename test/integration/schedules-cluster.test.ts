/**
 * A cron schedule on three broker nodes (real processes) sharing one PostgreSQL database: one
 * job per tick whichever node fires it, and after the leader is killed with SIGKILL the ticks
 * go on from another node, with no tick fired twice and none lost: every second from the first
 * tick to the last is either the tick of one job or counted as skipped (`missed: once` merges
 * the ticks that came due during the failover into one job). And after every node is killed
 * and one started again seconds later, `missed: once` fires one job for the ticks of the
 * downtime and `missed: skip` none, each tick still accounted for.
 */
import { describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.js';
import type { JobBody } from '../../src/protocol/api.js';
import type { ScheduleBody } from '../../src/protocol/schedules.js';
import { api, until } from '../helpers/http.js';
import { type BrokerProcess } from '../helpers/processes.js';

const fx = useCluster({ dir: 'switchyard-cron-cluster-', schema: 'sy_cron' }, []);

const node = (i: number): Promise<BrokerProcess> => fx.node(`node${i}`);

interface ClusterView {
  leader: string | null;
  nodes: Array<{ id: string; self: boolean }>;
}
const clusterOf = async (b: BrokerProcess) =>
  (await api<ClusterView>(b.clientsUrl, 'GET', '/api/v1/cluster')).json;

/** A schedule's jobs with their ticks (ms), in tick order; fails on a tick given twice. */
async function jobsOf(
  via: BrokerProcess,
  name: string,
): Promise<Array<{ tick: number; createdAt: number }>> {
  const r = await api<{ jobs: JobBody[] }>(via.clientsUrl, 'GET', '/api/v1/jobs?limit=1000');
  const mine = r.json.jobs.filter((j) => (j.meta as Record<string, unknown>).schedule === name);
  const out = mine.map((j) => ({
    tick: Date.parse((j.meta as Record<string, unknown>).tick as string),
    createdAt: Date.parse(j.createdAt),
  }));
  expect(new Set(out.map((j) => j.tick)).size, 'a tick fired twice').toBe(out.length);
  return out.sort((a, b) => a.tick - b.tick);
}

const ticks = async (via: BrokerProcess, name = 'beat'): Promise<number[]> =>
  (await jobsOf(via, name)).map((j) => j.tick);

const schedule = async (via: BrokerProcess, name: string): Promise<ScheduleBody> =>
  (await api<ScheduleBody>(via.clientsUrl, 'GET', `/api/v1/schedules/${name}`)).json;

/** Every second from the first tick to the last is a job's tick or a skipped one. */
function expectAccounted(t: readonly number[], s: ScheduleBody): void {
  expect(s.fired).toBe(t.length);
  let passed = 0;
  for (let i = 1; i < t.length; i++) {
    const gap = t[i]! - t[i - 1]!;
    expect(gap % 1000).toBe(0);
    passed += gap / 1000 - 1;
  }
  expect(s.skipped).toBe(passed);
}

describe('a cron schedule on three nodes', () => {
  it('fires each tick once, and goes on from another node after the leader is killed', async () => {
    const nodes = [await node(0), await node(1), await node(2)];
    const view = await clusterOf(nodes[1]!);
    expect(view.leader).not.toBeNull();
    const selves = await Promise.all(
      nodes.map(async (b) => (await clusterOf(b)).nodes.find((n) => n.self)!.id),
    );
    const leader = nodes[selves.indexOf(view.leader!)]!;
    const others = nodes.filter((b) => b !== leader);

    // Set through a node that does not lead: the leader learns of it by its heartbeat.
    const created = await api<ScheduleBody>(others[0]!.clientsUrl, 'POST', '/api/v1/schedules', {
      name: 'beat',
      cron: '* * * * * *',
      overlap: 'allow',
      job: { type: 'noop' },
    });
    expect(created.status).toBe(201);
    await until(async () => (await ticks(others[1]!)).length >= 6, 20_000, 'six ticks');
    const before = await ticks(others[1]!);
    // Every tick on time so far (a loaded machine may be late by more than a second: then the
    // ticks merge, and the accounting below still holds).
    expect(before.length).toBeGreaterThanOrEqual(6);

    const killedAt = Date.now();
    await leader.proc.stop('SIGKILL');
    await until(
      async () => {
        const v = await clusterOf(others[0]!);
        return v.leader !== null && v.leader !== view.leader;
      },
      15_000,
      'a new leader',
    );
    await until(
      async () => (await ticks(others[0]!)).filter((t) => t > killedAt + 1_000).length >= 4,
      20_000,
      'ticks after the failover',
    );
    const paused = await api<ScheduleBody>(
      others[1]!.clientsUrl,
      'POST',
      '/api/v1/schedules/beat/pause',
    );
    expect(paused.status).toBe(200);
    // A tick being fired as the pause commits is either in or out of both reads below.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const all = await ticks(others[0]!);
    const s = await schedule(others[0]!, 'beat');
    expect(all.slice(0, before.length)).toEqual(before);
    expectAccounted(all, s);
    // The first tick is the first second after the schedule was created: none lost at start.
    expect(all[0]).toBe(Math.floor(Date.parse(s.createdAt) / 1000) * 1000 + 1000);
  }, 90_000);

  it('after every node is killed, fires one job for the missed ticks (once) or none (skip)', async () => {
    const first = await node(0);
    const second = await node(1);
    for (const [name, missed] of [
      ['once', 'once'],
      ['skip', 'skip'],
    ] as const) {
      const r = await api(first.clientsUrl, 'POST', '/api/v1/schedules', {
        name,
        cron: '* * * * * *',
        overlap: 'allow',
        missed,
        job: { type: 'noop' },
      });
      expect(r.status).toBe(201);
    }
    await until(async () => (await ticks(second, 'skip')).length >= 3, 20_000, 'three ticks');
    await Promise.all([first.proc.stop('SIGKILL'), second.proc.stop('SIGKILL')]);
    const downAt = Date.now();
    // Down for several ticks.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const back = await node(2);
    const upAt = Date.now();
    await until(
      async () => (await ticks(back, 'skip')).filter((t) => t > upAt).length >= 2,
      20_000,
      'ticks after the restart',
    );
    for (const name of ['once', 'skip']) {
      expect((await api(back.clientsUrl, 'POST', `/api/v1/schedules/${name}/pause`)).status).toBe(
        200,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));

    const once = await jobsOf(back, 'once');
    const onceSchedule = await schedule(back, 'once');
    expectAccounted(
      once.map((j) => j.tick),
      onceSchedule,
    );
    // One job, made after the restart, stands for the ticks of the downtime.
    const caughtUp = once.filter((j) => j.createdAt >= upAt - 1_000 && j.tick < downAt + 1_000);
    expect(caughtUp).toHaveLength(1);
    expect(onceSchedule.skipped).toBeGreaterThanOrEqual(3);

    const skip = await jobsOf(back, 'skip');
    const skipSchedule = await schedule(back, 'skip');
    expectAccounted(
      skip.map((j) => j.tick),
      skipSchedule,
    );
    // No job for a tick of the downtime.
    expect(skip.filter((j) => j.tick > downAt + 1_000 && j.tick < upAt - 1_000)).toEqual([]);
    expect(skipSchedule.skipped).toBeGreaterThanOrEqual(4);
  }, 90_000);
});
