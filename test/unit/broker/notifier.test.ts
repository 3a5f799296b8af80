/**
 * The notifier's delivery on the injected clock: a failed try is retried after its back-off
 * (and not before), with the same idempotency key; tries are bounded by the timeout and by
 * `maxAttempts`, after which the callback is logged and given up; in-flight requests are
 * bounded; a stop aborts them and puts their callbacks back. Nothing is written for jobs that
 * want no callback. A real (SQLite) store, a fake HTTP client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { BatchContext } from '../../../src/broker/committer.js';
import { Notifier, type JobEnd } from '../../../src/broker/notifier.js';
import { brokerDefaults, type NotifierConfig } from '../../../src/config/types.js';
import { ManualClock } from '../../../src/domain/clock.js';
import { verifySignature } from '../../../src/domain/notify.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../../src/store/store.js';

const T0 = 1_700_000_000_000;
const URL_ = 'http://notifier.test/hook';

interface Call {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Waits (really) until `check` holds: delivery runs on promises between clock steps. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Lets pending promise chains run without moving the clock. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

function setup(
  over: Partial<NotifierConfig> = {},
  answer: (call: Call, n: number) => Promise<Response> = async () =>
    new Response(null, { status: 204 }),
) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-notifier-'));
  const store: Store = SqliteStore.open({ path: join(dir, 'db'), durable: false });
  const clock = new ManualClock(T0);
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
  );
  const calls: Call[] = [];
  const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const call: Call = {
      url: String(url),
      headers: init!.headers as Record<string, string>,
      body: init!.body as string,
      signal: init!.signal!,
    };
    calls.push(call);
    return answer(call, calls.length);
  }) as typeof fetch;
  const config: NotifierConfig = {
    ...brokerDefaults.notifier,
    url: URL_,
    retryBaseMs: 1_000,
    retryMaxMs: 60_000,
    ...over,
  };
  const notifier = new Notifier({
    store,
    clock,
    logger,
    nodeId: 'n1',
    config,
    random: () => 0.5,
    fetch: fakeFetch,
  });
  cleanups.push(async () => {
    await notifier.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Ends jobs as the completion module would, committing and running the after-commit effects. */
  async function end(ends: JobEnd[]): Promise<number> {
    const effects: Array<() => void> = [];
    const ctx: BatchContext = { afterCommit: (e) => effects.push(e), scratch: new Map() };
    await store.write((tx) => notifier.jobsEnded(tx, ctx, ends));
    for (const e of effects) e();
    return effects.length;
  }
  /** Waits until `n` tries failed and the timer for the next one is set. */
  const retried = (n: number) =>
    until(
      () => lines.filter((l) => /will retry/.test(l.msg)).length >= n && clock.pending > 0,
      `retry ${n} armed`,
    );
  return { store, clock, notifier, calls, lines, end, config, retried };
}

const ended = (over: Partial<JobEnd> = {}): JobEnd => ({
  id: 7,
  type: 'shell',
  queue: 'default',
  state: 'succeeded',
  attempt: 1,
  error: null,
  result: { exitCode: 0 },
  options: null,
  ...over,
});

const status = (code: number) => Promise.resolve(new Response(null, { status: code }));

/** A fetch that answers only when its request is aborted (a receiver that never answers). */
const hang = (call: Call): Promise<Response> =>
  new Promise((_, reject) => {
    call.signal.addEventListener('abort', () => reject(call.signal.reason as Error));
  });

describe('Notifier', () => {
  it('retries a failed callback after its back-off, not before, with the same key', async () => {
    const t = setup({ secret: 'k' }, (_, n) => status(n === 1 ? 500 : 200));
    t.notifier.start();
    await t.end([ended()]);
    await until(() => t.calls.length === 1, 'the first try');
    await t.retried(1);
    expect(await t.notifier.backlog()).toBe(1);

    t.clock.advance(999);
    await settle();
    expect(t.calls).toHaveLength(1);
    t.clock.advance(1);
    await until(() => t.calls.length === 2, 'the second try');
    const [first, second] = t.calls;
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.body).toBe(first!.body);
    expect(first!.headers['content-type']).toBe('application/json');
    expect(
      verifySignature(
        'k',
        second!.headers['switchyard-signature']!,
        second!.body,
        (T0 + 1_000) / 1000,
      ),
    ).toBe(true);
    expect(JSON.parse(first!.body)).toMatchObject({
      event: 'job.succeeded',
      id: first!.headers['idempotency-key'],
      at: T0,
      job: { id: '7', type: 'shell', state: 'succeeded', attempt: 1, result: { exitCode: 0 } },
    });
    await until(async () => (await t.notifier.backlog()) === 0, 'the removal');
  }, 20_000);

  it('gives a callback up after maxAttempts tries, with a warning', async () => {
    const t = setup({ maxAttempts: 3 }, () => status(503));
    t.notifier.start();
    await t.end([ended({ state: 'failed', error: { code: 'x', message: 'boom' } })]);
    await t.retried(1);
    t.clock.advance(1_000);
    await t.retried(2);
    t.clock.advance(2_000);
    await until(() => t.calls.length === 3, 'try 3');
    await until(() => t.lines.some((l) => l.level === 40), 'the warning');
    const warning = t.lines.find((l) => l.level === 40)!;
    expect(warning.msg).toMatch(/given up after 3 tries: HTTP 503/);
    expect(warning.key).toBe(t.calls[0]!.headers['idempotency-key']);
    await until(async () => (await t.notifier.backlog()) === 0, 'the removal');
    t.clock.advance(3_600_000);
    await settle();
    expect(t.calls).toHaveLength(3);
  }, 20_000);

  it('aborts a try that outlasts the timeout and retries it', async () => {
    const t = setup({ timeoutMs: 5_000 }, (call, n) => (n === 1 ? hang(call) : status(204)));
    t.notifier.start();
    await t.end([ended()]);
    await until(() => t.calls.length === 1, 'try 1');
    t.clock.advance(4_999);
    await settle();
    expect(t.calls[0]!.signal.aborted).toBe(false);
    t.clock.advance(1);
    expect(t.calls[0]!.signal.aborted).toBe(true);
    await t.retried(1);
    expect(t.lines.find((l) => /will retry/.test(l.msg))!.error).toMatch(
      /no answer within 5000 ms/,
    );
    t.clock.advance(1_000);
    await until(() => t.calls.length === 2, 'try 2');
  }, 20_000);

  it('keeps at most `concurrency` requests in flight', async () => {
    const t = setup({ concurrency: 2 }, hang);
    t.notifier.start();
    await t.end([1, 2, 3, 4, 5].map((id) => ended({ id })));
    await until(() => t.calls.length === 2, 'two in flight');
    await settle();
    expect(t.calls).toHaveLength(2);
  }, 20_000);

  it('aborts in-flight requests on stop and keeps their callbacks, untried, for next time', async () => {
    const t = setup({}, hang);
    t.notifier.start();
    await t.end([ended()]);
    await until(() => t.calls.length === 1, 'in flight');
    await t.notifier.stop();
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect(await t.notifier.backlog()).toBe(1);
    const [again] = await t.store.write((tx) =>
      tx.outboxClaim({ owner: 'x', now: T0, leaseMs: 1, limit: 10 }),
    );
    expect(again).toMatchObject({ attempts: 1, nextAt: T0 });
  }, 20_000);

  it('writes nothing for a job without notify while no global notifier is set', async () => {
    const t = setup({ url: null });
    t.notifier.start();
    expect(t.notifier.wants('succeeded', null)).toBe(false);
    expect(await t.end([ended(), ended({ state: 'canceled' })])).toBe(0);
    expect(await t.notifier.backlog()).toBe(0);
  });

  it("sends a job's own callback only for its events, without the global credentials", async () => {
    const t = setup({ url: null, username: 'u', password: 'p', secret: 's' });
    t.notifier.start();
    const options = { notify: { url: 'https://own.test/cb', events: ['failed' as const] } };
    expect(await t.end([ended({ options })])).toBe(0);
    await t.end([ended({ id: 8, state: 'failed', options })]);
    await until(() => t.calls.length === 1, 'the callback');
    expect(t.calls[0]!.url).toBe('https://own.test/cb');
    expect(t.calls[0]!.headers.authorization).toBeUndefined();
    expect(t.calls[0]!.headers['switchyard-signature']).toMatch(/^t=\d+,v1=/);
    expect(JSON.parse(t.calls[0]!.body).job.id).toBe('8');
  });

  it('sends the global callback with basic auth, and only for its events', async () => {
    const t = setup({ username: 'user', password: 'pa:ss', events: ['canceled'] });
    t.notifier.start();
    expect(await t.end([ended()])).toBe(0);
    await t.end([ended({ state: 'canceled' })]);
    await until(() => t.calls.length === 1, 'the callback');
    const auth = t.calls[0]!.headers.authorization!;
    expect(Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()).toBe('user:pa:ss');
    expect(t.calls[0]!.headers['switchyard-signature']).toBeUndefined();
  });

  it('delivers what was left in the outbox when it starts', async () => {
    const t = setup();
    await t.end([ended()]);
    await settle();
    expect(t.calls).toHaveLength(0);
    t.notifier.start();
    await until(() => t.calls.length === 1, 'the callback');
  });
});
