/**
 * A `switchyard worker` agent killed with SIGKILL takes its shell jobs' processes with it, so a
 * job never runs on as an orphan beside the broker's re-run of it elsewhere. Real processes: a
 * broker, the agent from dist/, and the job's process group.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { api, submit, until, waitJob } from '../helpers/http.js';
import { liveMembers, waitGroupGone } from '../helpers/process-groups.js';
import { cli, killAll, type Proc } from '../helpers/processes.js';

let dir = '';
let tb: TestBroker | undefined;
/** Process groups a test started, killed in afterEach should a test fail with them alive. */
const groups: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-agent-killed-'));
});
afterEach(async () => {
  await killAll();
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
  await tb?.close();
  tb = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function agentOn(workersUrl: string): Promise<Proc> {
  const agent = cli(['worker', '--json', '--broker', workersUrl, '--name', 'doomed']);
  await agent.waitFor((l) => l.includes('"welcomed by broker"'));
  return agent;
}

/** A pid the job's script wrote to `dir/name`, once it has. */
async function written(name: string): Promise<number> {
  const file = join(dir, name);
  await until(() => existsSync(file) && readFileSync(file, 'utf8').endsWith('\n'), 15_000, name);
  return Number(readFileSync(file, 'utf8'));
}

/** The job's process group, once its background child runs in it. */
async function jobGroup(): Promise<number> {
  const child = await written('child');
  const pgid = await written('pgid');
  groups.push(pgid);
  expect(liveMembers(pgid)).toEqual(expect.arrayContaining([pgid, child]));
  return pgid;
}

/** Generous (the machine may be busy), and still far below the 300 s the job would run. */
async function expectGroupGone(pgid: number): Promise<void> {
  expect(
    await waitGroupGone(pgid, 10_000),
    `processes of group ${pgid} outlived the agent`,
  ).toEqual([]);
}

describe('an agent killed with SIGKILL', () => {
  it('takes its running job’s whole process group with it', async () => {
    tb = await startTestBroker();
    const agent = await agentOn(tb.broker.workersUrl);
    await submit(tb.broker.clientsUrl, {
      type: 'shell',
      payload: { command: `sleep 300 & echo $! > ${dir}/child; echo $$ > ${dir}/pgid; wait` },
    });
    const pgid = await jobGroup();
    agent.kill('SIGKILL');
    await agent.exited;
    await expectGroupGone(pgid);
  });

  it('takes a canceled job that ignores its kill signal with it during the grace', async () => {
    tb = await startTestBroker();
    const agent = await agentOn(tb.broker.workersUrl);
    const base = tb.broker.clientsUrl;
    const job = await submit(base, {
      type: 'shell',
      killGrace: 300,
      payload: {
        command:
          `trap 'echo > ${dir}/term' TERM; (trap '' TERM; exec sleep 300) & ` +
          `echo $! > ${dir}/child; echo $$ > ${dir}/pgid; wait; wait`,
      },
    });
    const pgid = await jobGroup();
    expect((await api(base, 'POST', `/api/v1/jobs/${job.id}/cancel`)).status).toBe(200);
    await waitJob(base, job.id, (j) => j.state === 'canceled');
    // The shell trapped the SIGTERM and its child ignores it: the group waits out the grace.
    await until(() => existsSync(join(dir, 'term')), 15_000, 'the job to get SIGTERM');
    expect(liveMembers(pgid)).not.toEqual([]);
    agent.kill('SIGKILL');
    await agent.exited;
    await expectGroupGone(pgid);
  });
});
