/**
 * `switchyard queues`, `queue set|pause|resume|show|delete`, `limits`, `limit set` and
 * `submit --group --limit`, as real processes against a real broker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { getJob } from '../helpers/http.js';
import { runCli } from '../helpers/processes.js';

let tb: TestBroker | undefined;
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});

describe('the queue commands', () => {
  it('configure, pause, list, resume and delete a queue, and set limits', async () => {
    tb = await startTestBroker();
    const url = tb.broker.clientsUrl;
    const set = await runCli([
      'queue',
      'set',
      'builds',
      '--discipline',
      'fair',
      '--rate',
      '5',
      '--concurrency',
      '2',
      '--weight',
      'big=3',
      '--json',
      '--url',
      url,
    ]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({
      name: 'builds',
      settings: { discipline: 'fair', rate: 5, concurrency: 2, weights: { big: 3 } },
    });
    const bad = await runCli(['queue', 'set', 'builds', '--rate', 'fast', '--url', url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--rate: expected a number above 0, or none; got "fast"');
    expect((await runCli(['queue', 'pause', 'builds', '--url', url])).code).toBe(0);
    const submitted = await runCli([
      'submit',
      '--url',
      url,
      '--queue',
      'builds',
      '--group',
      'big',
      '--limit',
      'lic:2',
      '--',
      'true',
    ]);
    expect(submitted.code).toBe(0);
    const id = submitted.stdout.trim();
    const job = await getJob(url, id);
    expect(job).toMatchObject({ group: 'big', limits: ['lic:2'], state: 'queued' });
    const list = await runCli(['queues', '--url', url]);
    expect(list.code).toBe(0);
    const line = list.stdout.split('\n').find((l) => l.startsWith('builds'));
    expect(line).toMatch(/^builds\s+paused\s+fair\s+1\s+0\s+0\s+0\s/);
    expect(line).toContain('rate 5/s; concurrency 2; weights big=3; limits lic');
    const shown = await runCli(['job', id, '--url', url]);
    expect(shown.stdout).toContain('queue builds is paused');
    expect(shown.stdout).toMatch(/^limits: +lic:2$/m);
    expect((await runCli(['queue', 'resume', 'builds', '--url', url])).code).toBe(0);
    const limit = await runCli(['limit', 'set', 'lic', '4', '--url', url]);
    expect(limit.stdout).toBe('limit lic: at most 4, 0 in use\n');
    const limits = await runCli(['limits', '--json', '--url', url]);
    expect(JSON.parse(limits.stdout)).toEqual({ name: 'lic', max: 4, used: 0 });
    const refused = await runCli(['queue', 'delete', 'builds', '--url', url]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('has 1 job(s) that have not ended');
    const deleted = await runCli(['queue', 'delete', 'builds', '--force', '--url', url]);
    expect(deleted.stdout).toBe('deleted queue builds (canceled 1 jobs)\n');
  });
});
