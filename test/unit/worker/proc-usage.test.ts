import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupSampler, readGroups } from '../../../src/worker/proc-usage.js';
import { createShellHandler } from '../../../src/worker/shell.js';
import type { JobContext } from '../../../src/worker/worker.js';

const linux = process.platform === 'linux';
const kills: Array<() => void> = [];
afterEach(() => {
  for (const kill of kills.splice(0)) kill();
});

/** A busy process group: a shell spinning, and a sleeping child of it. */
function busyGroup(): number {
  const child = spawn('/bin/sh', ['-c', 'sleep 30 & while :; do :; done'], {
    detached: true,
    stdio: 'ignore',
  });
  const pid = child.pid!;
  kills.push(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  return pid;
}

describe.runIf(linux)('process group usage from /proc', () => {
  it("sums the group's processes: CPU since the last sample, resident memory", async () => {
    const pgid = busyGroup();
    await new Promise((r) => setTimeout(r, 200));
    const sampler = new GroupSampler();
    const first = sampler.sample(new Set([pgid]));
    expect(first.get(pgid)).toMatchObject({ cpu: null });
    expect(first.get(pgid)!.rss).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    const second = sampler.sample(new Set([pgid]));
    // A spinning shell uses most of a core (the machine is shared: a generous margin).
    expect(second.get(pgid)!.cpu).toBeGreaterThan(0.2);
    expect(second.get(pgid)!.cpu).toBeLessThan(4);
    // Two processes in the group, both counted.
    expect(readGroups(new Set([pgid])).get(pgid)!.pages).toBeGreaterThan(0);
  });

  it('reports nothing for groups that do not exist, and nothing without groups', () => {
    const sampler = new GroupSampler();
    expect(sampler.sample(new Set([2 ** 30])).size).toBe(0);
    expect(sampler.sample(new Set()).size).toBe(0);
  });

  it('the shell runner names the process group of its job', async () => {
    const groups: Array<number | null> = [];
    const controller = new AbortController();
    const ctx: JobContext = {
      id: '1',
      attempt: 1,
      type: 'shell',
      queue: 'default',
      payload: { command: 'true' },
      requires: {},
      priority: 0,
      timeoutMs: null,
      killSignal: 'SIGTERM',
      killGraceMs: 1000,
      signal: controller.signal,
      progress: () => undefined,
      step: () => undefined,
      log: () => undefined,
      attr: () => undefined,
      processGroup: (pgid) => void groups.push(pgid),
    };
    await createShellHandler()(ctx);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toBeGreaterThan(1);
  });
});
