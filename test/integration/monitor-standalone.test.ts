/**
 * `switchyard monitor`, the standalone monitor, end to end with real processes: a broker with
 * tokens on a loopback port that the browser never connects to, the monitor in its own process
 * relaying to it, and a browser holding only a link for one job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobBody, MessageList } from '../../src/protocol/api.js';
import { until } from '../helpers/http.js';
import { openMonitor } from '../helpers/monitor.js';
import {
  brokerArgs,
  cli,
  FAST_LIVENESS,
  killAll,
  startBrokerProcess,
  type BrokerProcess,
} from '../helpers/processes.js';

const CLIENT = 'standalone-monitor-client-token';
const auth = { authorization: `Bearer ${CLIENT}`, 'content-type': 'application/json' };

let dir: string;
let broker: BrokerProcess;
let monitorUrl: string;

async function call<T>(path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${broker.clientsUrl}/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: auth,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-monitor-'));
  broker = await startBrokerProcess([...brokerArgs(join(dir, 'data')), ...FAST_LIVENESS], {
    SWITCHYARD_CLIENT_TOKENS: CLIENT,
  });
  cli(['worker', '--json', '--name', 'standalone-agent', '--broker', broker.workersUrl]);
  await until(
    async () => (await call<{ workers: unknown[] }>('/workers')).json.workers.length === 1,
    15_000,
    'the worker',
  );
  const monitor = cli(['monitor', '--json', '--broker', broker.clientsUrl, '--port', '0'], {
    env: { SWITCHYARD_TOKEN: CLIENT },
  });
  const line = await monitor.waitFor((l) => l.includes('"monitor started"'));
  monitorUrl = (JSON.parse(line) as { url: string }).url;
});

afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

describe('switchyard monitor', () => {
  it('relays one job’s messages, replayed then live, to a browser holding its link', async () => {
    expect(new URL(monitorUrl).port).not.toBe(new URL(broker.clientsUrl).port);
    const gate = join(dir, 'go');
    const job = (
      await call<JobBody>('/jobs', {
        type: 'shell',
        payload: {
          command: `echo "::progress 30 waiting"; while [ ! -e ${gate} ]; do sleep 0.05; done; echo done`,
        },
      })
    ).json;
    const other = (
      await call<JobBody>('/jobs', { type: 'shell', payload: { command: 'true' }, hold: true })
    ).json;
    const link = (await call<{ path: string; token: string }>(`/jobs/${job.id}/monitor-token`, {}))
      .json;

    // The browser knows the monitor and its link, nothing of the broker.
    const m = await openMonitor(monitorUrl, '', { path: link.path });
    await until(() => m.messages.some((x) => x.kind === 'progress'), 20_000, 'progress');
    await writeFile(gate, '');
    expect((await m.closed).code).toBe(1000);
    const stored = (await call<MessageList>(`/jobs/${job.id}/messages`)).json;
    expect(m.messages).toEqual(stored.messages);
    expect(m.messages.at(-1)).toMatchObject({ kind: 'state', data: { to: 'succeeded' } });

    // Resuming through the monitor.
    const resumed = await openMonitor(
      monitorUrl,
      `?job=${job.id}&since=${stored.messages[1]!.seq}&access=${link.token}`,
    );
    await resumed.closed;
    expect(resumed.messages).toEqual(stored.messages.slice(2));

    // The link is for its job only; without a link, nothing; the broker decides.
    const wrong = await openMonitor(monitorUrl, `?job=${other.id}&access=${link.token}`);
    expect((await wrong.closed).code).toBe(4403);
    await expect(openMonitor(monitorUrl, `?job=${other.id}`)).rejects.toThrow(/401/);
    const forged = await openMonitor(
      monitorUrl,
      `?job=${other.id}&access=${other.id}.9999999999.${'A'.repeat(43)}`,
    );
    expect(await forged.closed).toEqual({
      code: 4401,
      reason: 'the access token is not valid here',
    });
  });

  it('refuses a browser that publishes', async () => {
    const job = (
      await call<JobBody>('/jobs', { type: 'shell', payload: { command: 'true' }, hold: true })
    ).json;
    const link = (await call<{ token: string }>(`/jobs/${job.id}/monitor-token`, {})).json;
    const m = await openMonitor(monitorUrl, `?access=${link.token}`, { first: job.id });
    await m.count(1);
    m.ws.send('{"kind":"state","data":{"to":"succeeded"}}');
    expect(await m.closed).toEqual({
      code: 1008,
      reason: 'only the broker publishes on the monitor',
    });
    expect((await call<JobBody>(`/jobs/${job.id}`)).json.state).toBe('held');
  });
});
