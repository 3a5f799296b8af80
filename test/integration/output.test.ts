/**
 * A job's output is kept within its budget: its head and its tail, with the amount dropped in
 * between said where it was dropped; reading it pages by size or streams it as text, however
 * much the job printed. A real shell job through the agent's runner and a real broker.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/index.js';
import { droppedLine, LOG_PAGE_BYTES, type LogList } from '../../src/protocol/api.js';
import { sqliteFileName } from '../../src/store/open.js';
import { createShellHandler, Worker } from '../../src/worker/index.js';
import { startTestBroker, type ConfigOverrides, type TestBroker } from '../helpers/broker.js';

let tb: TestBroker | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await tb?.close();
  tb = undefined;
});

async function setup(over: ConfigOverrides): Promise<Client> {
  tb = await startTestBroker(over);
  worker = new Worker({
    brokers: tb.broker.workersUrl,
    handlers: { shell: createShellHandler() },
  });
  await worker.start();
  return new Client({ url: tb.broker.clientsUrl });
}

async function allPages(client: Client, id: string): Promise<LogList[]> {
  const pages: LogList[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await client.logs(id, after === undefined ? {} : { after });
    pages.push(page);
    if (page.nextCursor === null) return pages;
    after = page.nextCursor;
  }
}

const bytes = (s: string) => Buffer.byteLength(s);

describe('output beyond the budget', () => {
  it('keeps the first and last output, says how much was dropped, and where', async () => {
    const K = 64 * 1024;
    const client = await setup({ jobOutput: { headBytes: K, tailBytes: K } });
    const printed = 30_000_000;
    const job = await client.submit({
      type: 'shell',
      payload: { command: `echo START; yes line | head -c ${printed}; echo END` },
      timeout: 120,
    });
    const done = await client.wait(job.id, { timeoutMs: 90_000 });
    expect(done.state).toBe('succeeded');
    const total = bytes('START\n') + printed + bytes('END\n');

    const pages = await allPages(client, job.id);
    const text = pages.flatMap((p) => p.logs.map((l) => l.data)).join('');
    expect(text.startsWith('START\nline\n')).toBe(true);
    expect(text.endsWith('line\nEND\n')).toBe(true);
    const head = text.slice(0, K);
    expect(bytes(head)).toBe(K);
    expect(bytes(text)).toBeLessThanOrEqual(2 * K);
    const dropped = pages[0]!.dropped;
    expect(dropped).not.toBeNull();
    expect(dropped!.bytes + bytes(text)).toBe(total);
    // The gap sits right after the head.
    const logs = pages.flatMap((p) => p.logs);
    const afterGap = logs.findIndex((l) => Number(l.seq) > Number(dropped!.after));
    expect(
      logs
        .slice(0, afterGap)
        .map((l) => l.data)
        .join(''),
    ).toBe(head);

    // The text form: head, the marker, tail.
    const res = await fetch(`${tb!.broker.clientsUrl}/api/v1/jobs/${job.id}/logs?format=text`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(head + droppedLine(dropped!.bytes) + text.slice(head.length));

    // The database holds about what was kept, not what was printed.
    const dbFiles = [sqliteFileName, `${sqliteFileName}-wal`].map((f) => join(tb!.dataDir, f));
    let size = 0;
    for (const f of dbFiles) size += (await stat(f).catch(() => ({ size: 0 }))).size;
    expect(size).toBeLessThan(printed / 3);
  }, 120_000);

  it('pages a large kept output by size, and each page names the next', async () => {
    const client = await setup({ jobOutput: { headBytes: 8 * 1024 * 1024, tailBytes: 0 } });
    const printed = 4_000_000;
    const job = await client.submit({
      type: 'shell',
      payload: { command: `yes 0123456789 | head -c ${printed}` },
    });
    expect((await client.wait(job.id, { timeoutMs: 60_000 })).state).toBe('succeeded');
    const pages = await allPages(client, job.id);
    expect(pages.length).toBeGreaterThanOrEqual(4);
    for (const page of pages) {
      const size = page.logs.reduce((n, l) => n + bytes(l.data), 0);
      // A page stops before the entry that would take it past the limit.
      expect(size).toBeLessThanOrEqual(LOG_PAGE_BYTES);
    }
    const text = pages.flatMap((p) => p.logs.map((l) => l.data)).join('');
    expect(bytes(text)).toBe(printed);
    expect(pages.every((p) => p.dropped === null)).toBe(true);
  }, 90_000);

  it('with a tail of 0, marks the drop at the end of the text', async () => {
    const client = await setup({ jobOutput: { headBytes: 10, tailBytes: 0 } });
    const job = await client.submit({
      type: 'shell',
      payload: { command: 'printf 0123456789abcdef' },
    });
    expect((await client.wait(job.id, { timeoutMs: 30_000 })).state).toBe('succeeded');
    const res = await fetch(`${tb!.broker.clientsUrl}/api/v1/jobs/${job.id}/logs?format=text`);
    expect(await res.text()).toBe(`0123456789${droppedLine(6)}`);
  });
});
