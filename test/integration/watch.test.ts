/**
 * `Client.watch(id)` against a real broker process: the job's messages in order until its end,
 * resumed where it left off after the broker was killed and restarted in the middle.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, SwitchyardError } from '../../src/client/index.js';
import type { JobMessageBody, MessageList } from '../../src/protocol/api.js';
import { api, submit, until } from '../helpers/http.js';
import {
  brokerArgs,
  FAST_LIVENESS,
  killAll,
  startAgent,
  startBrokerProcess,
  type BrokerProcess,
} from '../helpers/processes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-watch-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

const brokerOn = (ports?: { clients: number; workers: number }) =>
  startBrokerProcess([...brokerArgs(join(dir, 'data'), ports), ...FAST_LIVENESS]);

async function storedOf(base: string, id: string): Promise<JobMessageBody[]> {
  const r = await api<MessageList>(base, 'GET', `/api/v1/jobs/${id}/messages?limit=1000`);
  return r.json.messages;
}

describe('Client.watch', () => {
  it('resumes after a broker restart, missing no message and repeating none', async () => {
    let b: BrokerProcess = await brokerOn();
    const ports = {
      clients: Number(new URL(b.clientsUrl).port),
      workers: Number(new URL(b.workersUrl).port),
    };
    await startAgent(b, 'watch-agent');
    const gate = join(dir, 'go');
    const job = await submit(b.clientsUrl, {
      type: 'shell',
      payload: {
        command: `i=0; while [ ! -e ${gate} ]; do echo "tick $i"; i=$((i+1)); sleep 0.05; done; echo end`,
      },
    });
    const client = new Client({ url: b.clientsUrl });
    const seen: JobMessageBody[] = [];
    const watching = (async () => {
      for await (const m of client.watch(job.id)) seen.push(m);
    })();
    await until(() => seen.filter((m) => m.kind === 'log').length >= 5, 20_000, 'output');
    await b.proc.stop('SIGKILL');
    const atKill = seen.length;
    b = await brokerOn(ports);
    await until(() => seen.length > atKill + 5, 30_000, 'messages after the restart');
    await writeFile(gate, '');
    await watching;
    const stored = await storedOf(b.clientsUrl, job.id);
    expect(stored.at(-1)).toMatchObject({ kind: 'state', data: { to: 'succeeded' } });
    expect(seen).toEqual(stored);
  });

  it('ends at once for an ended job, and says so for a job that does not exist', async () => {
    const b = await brokerOn();
    await startAgent(b, 'watch-agent');
    const client = new Client({ url: b.clientsUrl });
    const job = await client.submit({ type: 'shell', payload: { command: 'echo hi' } });
    await client.wait(job.id);
    const all: JobMessageBody[] = [];
    for await (const m of client.watch(job.id)) all.push(m);
    expect(all).toEqual(await storedOf(b.clientsUrl, job.id));
    const after: JobMessageBody[] = [];
    for await (const m of client.watch(job.id, { since: all[1]!.seq })) after.push(m);
    expect(after).toEqual(all.slice(2));
    const missing = client.watch('987654');
    await expect(missing.next()).rejects.toThrow(SwitchyardError);
  });
});
