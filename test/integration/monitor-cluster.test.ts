/**
 * Messages across nodes: on two PostgreSQL nodes, a subscriber on node B of a job that runs on a
 * worker of node A sees every one of its messages, in order, also across a `kill -9` and restart
 * of A; the SDK's watch (on B) and the monitor socket (on B) agree with what is stored.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.js';
import { Client } from '../../src/client/index.js';
import type { JobMessageBody, MessageList } from '../../src/protocol/api.js';
import { api, submit, until } from '../helpers/http.js';
import { openMonitor } from '../helpers/monitor.js';
import { cli, type BrokerProcess } from '../helpers/processes.js';

const fx = useCluster({ dir: 'switchyard-monitor-cluster-', schema: 'sy_monitor' });

const { node } = fx;

const portsOf = (b: BrokerProcess) => ({
  clients: Number(new URL(b.clientsUrl).port),
  workers: Number(new URL(b.workersUrl).port),
});

const ticks = (ms: readonly JobMessageBody[]) =>
  ms
    .map((m) => (m.kind === 'log' ? m.data.text : ''))
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('tick'));

describe('the monitor across nodes', () => {
  it('gives a subscriber on node B every message of a job on node A, across a restart of A', async () => {
    let a = await node('a');
    const b = await node('b');
    const ports = portsOf(a);
    cli(['worker', '--json', '--name', 'on-a', '--broker', a.workersUrl]);
    await until(
      async () =>
        (await api<{ workers: Array<{ name: string }> }>(a.clientsUrl, 'GET', '/api/v1/workers'))
          .json.workers.length === 1,
      15_000,
      'the worker on A',
    );
    const gate = join(fx.dir, 'go');
    const job = await submit(a.clientsUrl, {
      type: 'shell',
      payload: {
        command:
          `i=0; while [ ! -e ${gate} ]; do echo "tick $i"; echo "::progress $((i % 100))"; ` +
          'i=$((i+1)); sleep 0.05; done; echo "tick end"',
      },
    });

    // Watched on B: from code, and by a browser.
    const watched: JobMessageBody[] = [];
    const watching = (async () => {
      for await (const m of new Client({ url: b.clientsUrl }).watch(job.id)) watched.push(m);
    })();
    const browser = await openMonitor(b.clientsUrl, `?job=${job.id}`);
    await until(() => ticks(browser.messages).length >= 5, 20_000, 'ticks on B');

    // A dies and comes back on its ports; the worker finds it again and keeps its job.
    await a.proc.stop('SIGKILL');
    a = await node('a', ports);
    const before = ticks(browser.messages).length;
    await until(
      () => ticks(browser.messages).length >= before + 5,
      30_000,
      'ticks after A came back',
    );
    await writeFile(gate, '');
    const closed = await browser.closed;
    expect(closed.code).toBe(1000);
    await watching;

    const stored: JobMessageBody[] = [];
    let since = '0';
    for (;;) {
      const page = await api<MessageList>(
        b.clientsUrl,
        'GET',
        `/api/v1/jobs/${job.id}/messages?since=${since}&limit=1000`,
      );
      stored.push(...page.json.messages);
      if (page.json.next === null) break;
      since = page.json.next;
    }
    expect(stored.at(-1)).toMatchObject({ kind: 'state', data: { to: 'succeeded' } });
    expect(ticks(stored).at(-1)).toBe('tick end');
    // Every message, once each, in order, live on another node than the job's.
    expect(browser.messages).toEqual(stored);
    expect(watched).toEqual(stored);
    expect(new Set(stored.map((m) => m.seq)).size).toBe(stored.length);
  });
});
