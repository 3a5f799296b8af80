/**
 * The monitor against a real broker and a real worker agent: stored messages replayed to a late
 * subscriber in order, then live ones; several subscribers; the socket closed on every
 * terminal state; resuming with `since`; a channel's memory freed once its job ended and its
 * subscribers left; a browser refused as a publisher; links scoped to one job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobAccess } from '../../src/broker/access.js';
import type { JobMessageBody, MessageList } from '../../src/protocol/api.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { api, submit, until, waitJob } from '../helpers/http.js';
import { openMonitor } from '../helpers/monitor.js';
import { killAll, startAgent, type BrokerProcess } from '../helpers/processes.js';

let tb: TestBroker | undefined;
afterEach(async () => {
  await killAll();
  await tb?.close();
  tb = undefined;
});

const asProcess = (t: TestBroker) =>
  ({ clientsUrl: t.broker.clientsUrl, workersUrl: t.broker.workersUrl }) as BrokerProcess;

/** A shell job that reports progress with a step, an attribute and output, then ends. */
const chatty = (command = 'true') => ({
  type: 'shell',
  maxAttempts: 1,
  payload: {
    command:
      'echo "::progress 10 starting"; echo first; echo "::attr port=4711"; ' +
      'echo "::step build completed compiled"; echo second >&2; ' +
      `echo "::progress 90 almost"; ${command}`,
  },
});

/** The messages but output, as short strings (output arrives in pieces of any size). */
const kinds = (ms: readonly JobMessageBody[]) =>
  ms.flatMap((m) =>
    m.kind === 'state'
      ? [`state:${m.data.from ?? '-'}>${m.data.to}`]
      : m.kind === 'progress'
        ? [
            `progress:${m.data.percent ?? '-'}` +
              (m.data.step ? `:${m.data.step.id}=${m.data.step.status}` : ''),
          ]
        : m.kind === 'attribute'
          ? [`attribute:${m.data.key}=${m.data.value}`]
          : [],
  );

/** The output among the messages, of one stream, as one text. */
const output = (ms: readonly JobMessageBody[], stream: 'stdout' | 'stderr') =>
  ms.map((m) => (m.kind === 'log' && m.data.stream === stream ? m.data.text : '')).join('');

async function stored(base: string, id: string, since = '0'): Promise<MessageList> {
  const r = await api<MessageList>(base, 'GET', `/api/v1/jobs/${id}/messages?since=${since}`);
  expect(r.status).toBe(200);
  return r.json;
}

describe('monitor', () => {
  beforeEach(async () => {
    tb = await startTestBroker();
    await startAgent(asProcess(tb), 'monitor-agent');
  });

  it('replays a finished job’s messages to a late subscriber in order, then closes', async () => {
    const base = tb!.broker.clientsUrl;
    const job = await submit(base, chatty());
    await waitJob(base, job.id, (j) => j.state === 'succeeded');
    const m = await openMonitor(base, `?job=${job.id}`);
    const closed = await m.closed;
    expect(closed.code).toBe(1000);
    // States in order around the reports; a worker sends a plain progress report only if no
    // newer one replaced it while it waited, a step report always.
    const k = kinds(m.messages);
    expect(k.slice(0, 2)).toEqual(['state:->queued', 'state:queued>running']);
    expect(k.at(-1)).toBe('state:running>succeeded');
    expect(k.slice(2, -1).sort()).toEqual(
      expect.arrayContaining(['attribute:port=4711', 'progress:10:build=completed', 'progress:90']),
    );
    expect(k.slice(2, -1).every((x) => !x.startsWith('state:'))).toBe(true);
    expect(output(m.messages, 'stdout')).toMatch(/starting\nfirst\n.*build completed.*almost/s);
    expect(output(m.messages, 'stderr')).toBe('second\n');
    // The monitor sends exactly what is stored, seqs growing.
    const list = await stored(base, job.id);
    expect(m.messages).toEqual(list.messages);
    const seqs = m.messages.map((x) => Number(x.seq));
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(m.messages.every((x) => x.job === job.id)).toBe(true);
    expect(m.messages[1]).toMatchObject({ attempt: 1, data: { workerId: expect.any(String) } });
    expect(m.messages[0]!.attempt).toBeNull();
    // Nothing of the channel is left.
    await until(() => tb!.broker.monitor.channelCount === 0, 5_000, 'channel dropped');
  });

  it('gives several live subscribers every message, the job named either way', async () => {
    const base = tb!.broker.clientsUrl;
    const gate = `${tb!.dataDir}/go`;
    const job = await submit(base, {
      ...chatty(`while [ ! -e ${gate} ]; do sleep 0.05; done; echo after`),
    });
    const a = await openMonitor(base, `?job=${job.id}`);
    const b = await openMonitor(base, '', { first: job.id });
    const c = await openMonitor(base, '', { first: ` ${job.id}\n` });
    // Everything up to the wait, replayed or live.
    const upToWait = (s: { messages: JobMessageBody[] }) =>
      kinds(s.messages).includes('progress:90') && output(s.messages, 'stderr') === 'second\n';
    for (const s of [a, b, c]) await until(() => upToWait(s), 20_000, 'messages up to the wait');
    expect(tb!.broker.monitor.channelCount).toBe(1);
    await (await import('node:fs/promises')).writeFile(gate, '');
    const ends = await Promise.all([a.closed, b.closed, c.closed]);
    expect(ends.map((e) => e.code)).toEqual([1000, 1000, 1000]);
    const all = await stored(base, job.id);
    for (const s of [a, b, c]) expect(s.messages).toEqual(all.messages);
    expect(kinds(all.messages).at(-1)).toBe('state:running>succeeded');
    expect(output(all.messages, 'stdout')).toMatch(/almost\nafter\n$/);
    await until(() => tb!.broker.monitor.channelCount === 0, 5_000, 'channel dropped');
  });

  it('closes on a failure and on a cancellation, after their message', async () => {
    const base = tb!.broker.clientsUrl;
    const failing = await submit(base, chatty('exit 3'));
    const f = await openMonitor(base, `?job=${failing.id}`);
    expect((await f.closed).code).toBe(1000);
    expect(f.messages.at(-1)).toMatchObject({
      kind: 'state',
      data: { from: 'running', to: 'failed', error: { code: expect.any(String) } },
    });

    const held = await submit(base, { type: 'shell', payload: { command: 'true' }, hold: true });
    const h = await openMonitor(base, `?job=${held.id}`);
    await h.count(1);
    expect(h.messages[0]).toMatchObject({ data: { from: null, to: 'held' } });
    const r = await api(base, 'POST', `/api/v1/jobs/${held.id}/cancel`);
    expect(r.status).toBe(200);
    expect((await h.closed).code).toBe(1000);
    expect(kinds(h.messages)).toEqual(['state:->held', 'state:held>canceled']);
  });

  it('erases a running job that is watched, and tells its watcher it was deleted', async () => {
    const base = tb!.broker.clientsUrl;
    const job = await submit(base, {
      type: 'shell',
      payload: { command: 'exec sleep 60' },
      killGrace: 1,
    });
    await waitJob(base, job.id, (j) => j.state === 'running');
    const m = await openMonitor(base, `?job=${job.id}`);
    await m.count(2);
    const r = await api(base, 'DELETE', `/api/v1/jobs/${job.id}`);
    expect(r.status).toBe(200);
    expect(await m.closed).toEqual({ code: 4404, reason: `job ${job.id} was deleted` });
    expect((await api(base, 'GET', `/api/v1/jobs/${job.id}/messages`)).status).toBe(404);
    await until(() => tb!.broker.monitor.channelCount === 0, 5_000, 'channel dropped');
  });

  it('resumes after the last message seen, missing none and repeating none', async () => {
    const base = tb!.broker.clientsUrl;
    const job = await submit(base, chatty());
    await waitJob(base, job.id, (j) => j.state === 'succeeded');
    const all = (await stored(base, job.id)).messages;
    const first = await openMonitor(base, `?job=${job.id}`);
    await first.closed;
    const resumed = await openMonitor(base, `?job=${job.id}&since=${all[3]!.seq}`);
    await resumed.closed;
    expect(resumed.messages).toEqual(all.slice(4));
    // The stored list pages the same way.
    expect((await stored(base, job.id, all[3]!.seq)).messages).toEqual(all.slice(4));
  });

  it('refuses a browser that publishes, and a job that does not exist', async () => {
    const base = tb!.broker.clientsUrl;
    const job = await submit(base, { type: 'shell', payload: { command: 'true' }, hold: true });
    const m = await openMonitor(base, `?job=${job.id}`);
    await m.count(1);
    m.ws.send(JSON.stringify({ kind: 'state', data: { to: 'succeeded' } }));
    expect(await m.closed).toEqual({
      code: 1008,
      reason: 'only the broker publishes on the monitor',
    });
    // Nothing was published: the job is still held, and has one message.
    expect((await stored(base, job.id)).messages.length).toBe(1);
    await until(() => tb!.broker.monitor.channelCount === 0, 5_000, 'channel dropped');

    const none = await openMonitor(base, '?job=987654');
    expect(await none.closed).toEqual({ code: 4404, reason: 'no job 987654' });
    const bad = await openMonitor(base, '', { first: 'not-an-id' });
    expect((await bad.closed).code).toBe(1008);
  });
});

describe('monitor links for one job', () => {
  const SECRET = 'monitor-test-secret';
  const CLIENT = 'monitor-client-token';

  beforeEach(async () => {
    tb = await startTestBroker({ auth: { clientTokens: [CLIENT] }, monitor: { secret: SECRET } });
  });

  it('lets a link watch its job and no other, and refuses forged and expired ones', async () => {
    const base = tb!.broker.clientsUrl;
    const auth = { authorization: `Bearer ${CLIENT}` };
    const hold = { type: 'shell', payload: { command: 'true' }, hold: true };
    const post = (path: string, body?: unknown) =>
      fetch(`${base}/api/v1${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
    const a = (await (await post('/jobs', hold)).json()) as { id: string };
    const b = (await (await post('/jobs', hold)).json()) as { id: string };
    const minted = await post(`/jobs/${a.id}/monitor-token`, { ttl: 60 });
    expect(minted.status).toBe(201);
    const link = (await minted.json()) as { token: string; path: string; expiresAt: string };
    expect(link.path).toBe(`/api/v1/monitor?job=${a.id}&access=${link.token}`);

    // Its job, with no client token.
    const ok = await openMonitor(base, '', { path: link.path });
    await ok.count(1);
    expect(ok.messages[0]).toMatchObject({ job: a.id, data: { to: 'held' } });
    ok.ws.close();
    // Another job: refused once named, either way.
    const other = await openMonitor(base, `?job=${b.id}&access=${link.token}`);
    expect((await other.closed).code).toBe(4403);
    expect(other.messages).toEqual([]);
    const named = await openMonitor(base, `?access=${link.token}`, { first: b.id });
    expect((await named.closed).code).toBe(4403);
    // No token at all, a forged one, an expired one: no socket.
    await expect(openMonitor(base, `?job=${a.id}`)).rejects.toThrow(/401/);
    const forged = `${b.id}.${link.token.split('.')[1]}.${link.token.split('.')[2]}`;
    await expect(openMonitor(base, `?job=${b.id}&access=${forged}`)).rejects.toThrow(
      /401.*not valid/,
    );
    const expired = new JobAccess(Buffer.from(SECRET)).issue(Number(a.id), Date.now() - 1000);
    await expect(openMonitor(base, `?job=${a.id}&access=${expired}`)).rejects.toThrow(
      /401.*expired/,
    );
    // A client token watches any job.
    const any = await openMonitor(base, `?job=${b.id}&token=${CLIENT}`);
    await any.count(1);
    any.ws.close();
    const header = await openMonitor(base, `?job=${b.id}`, { headers: auth });
    await header.count(1);
    header.ws.close();
    // Minting needs a client token, and a job.
    expect(
      (await fetch(`${base}/api/v1/jobs/${a.id}/monitor-token`, { method: 'POST' })).status,
    ).toBe(401);
    expect((await post('/jobs/987654/monitor-token')).status).toBe(404);
  });
});
