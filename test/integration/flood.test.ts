/**
 * A job that floods: 100,000 lines of output at once, while other jobs keep starting and
 * finishing on another slot; and a worker sending reports without end. What is stored stays
 * bounded (the output's head and tail, at most MAX_JOURNALED_REPORTS reports per attempt), and
 * the monitor still delivers the job's end.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_JOURNALED_REPORTS } from '../../src/broker/endpoint/session.js';
import type { JobBody, JobMessageBody, MessageList } from '../../src/protocol/api.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { api, getJob, submit, until, waitJob } from '../helpers/http.js';
import { openMonitor } from '../helpers/monitor.js';
import {
  brokerArgs,
  FAST_LIVENESS,
  killAll,
  startAgent,
  startBrokerProcess,
} from '../helpers/processes.js';
import { closeRawWorkers, RawWorker } from '../helpers/raw-worker.js';

let dir: string;
let tb: TestBroker | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-flood-'));
});
afterEach(async () => {
  await closeRawWorkers();
  await killAll();
  await tb?.close();
  tb = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function allMessages(base: string, id: string): Promise<JobMessageBody[]> {
  const out: JobMessageBody[] = [];
  let since = '0';
  for (;;) {
    const page = await api<MessageList>(
      base,
      'GET',
      `/api/v1/jobs/${id}/messages?since=${since}&limit=1000`,
    );
    out.push(...page.json.messages);
    if (page.json.next === null) return out;
    since = page.json.next;
  }
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe('a flood of output', () => {
  it('keeps the head and tail of 100,000 lines while other jobs keep starting', async () => {
    const b = await startBrokerProcess([...brokerArgs(join(dir, 'data')), ...FAST_LIVENESS], {
      SWITCHYARD_JOB_OUTPUT_HEAD: '64K',
      SWITCHYARD_JOB_OUTPUT_TAIL: '64K',
    });
    await startAgent(b, 'flood-agent', ['--slots', '2']);
    const flood = await submit(b.clientsUrl, {
      type: 'shell',
      payload: {
        command: 'for r in 1 2 3 4 5; do seq 1 20000 | sed "s/^/round $r line /"; done; echo last',
      },
    });
    const watcher = await openMonitor(b.clientsUrl, `?job=${flood.id}`);
    // Other jobs, one after the other on the second slot, while the flood runs.
    const others: JobBody[] = [];
    while ((await getJob(b.clientsUrl, flood.id)).state !== 'succeeded' || others.length < 20) {
      const job = await submit(b.clientsUrl, { type: 'shell', payload: { command: 'true' } });
      await waitJob(b.clientsUrl, job.id, (j) => j.state === 'succeeded', 20_000);
      others.push(job);
      if (others.length > 2000) throw new Error('the flood job never ended');
    }
    expect(await watcher.closed).toMatchObject({ code: 1000 });
    expect(watcher.messages.at(-1)).toMatchObject({ kind: 'state', data: { to: 'succeeded' } });

    const stored = await allMessages(b.clientsUrl, flood.id);
    const text = stored.map((m) => (m.kind === 'log' ? m.data.text : '')).join('');
    // The head and the tail of the output, not its middle: 128 KiB of about 1.9 MB.
    expect(text.startsWith('round 1 line 1\nround 1 line 2\n')).toBe(true);
    expect(text.endsWith('round 5 line 20000\nlast\n')).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(128 * 1024);
    expect(text).not.toContain('round 3 line 10000\n');
    const logs = await api<{ dropped: { bytes: number } | null }>(
      b.clientsUrl,
      'GET',
      `/api/v1/jobs/${flood.id}/logs?limit=1`,
    );
    expect(logs.json.dropped!.bytes).toBeGreaterThan(1_500_000);
    // Memory stayed bounded: the broker did not keep the flood.
    expect(await rssOf(b.proc.pid)).toBeLessThan(400 * 1024 * 1024);
  });
});

describe('a worker reporting without end', () => {
  it(`keeps ${MAX_JOURNALED_REPORTS} reports of an attempt as messages, and the latest on the job`, async () => {
    tb = await startTestBroker();
    const w = await RawWorker.open(tb.broker.workersUrl);
    w.hello();
    await w.next('welcome');
    const job = await submit(tb.broker.clientsUrl, { type: 't' });
    const assigned = (await w.next('assign')) as { job: { id: string; attempt: number } };
    const { id, attempt } = assigned.job;
    const total = MAX_JOURNALED_REPORTS + 500;
    for (let i = 0; i < total; i += 500) {
      const frame = Array.from({ length: 500 }, (_, k) =>
        (i + k) % 2 === 0
          ? { type: 'attr', jobId: id, attempt, key: 'n', value: String(i + k) }
          : { type: 'progress', jobId: id, attempt, percent: ((i + k) % 100) + 0, message: null },
      );
      w.send(...frame);
    }
    await until(
      async () => (await getJob(tb!.broker.clientsUrl, job.id)).attributes.n === String(total - 2),
      20_000,
      'the last attribute',
    );
    const stored = await allMessages(tb.broker.clientsUrl, job.id);
    const reports = stored.filter((m) => m.kind === 'attribute' || m.kind === 'progress');
    expect(reports).toHaveLength(MAX_JOURNALED_REPORTS);
    expect(reports.at(-1)).toMatchObject({ data: { value: String(MAX_JOURNALED_REPORTS - 2) } });
  });
});
