/**
 * Gated dispatch on the injected clock, against a real SQLite store: a rate limit of 50 per
 * second holds over 5 s, its gate reopens by the bucket's timer, per-group rates skip the
 * groups out of tokens, and concurrency and named limits count what runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Committer } from '../../../src/broker/committer.js';
import { EventBus } from '../../../src/broker/events.js';
import { Gates } from '../../../src/broker/gates.js';
import { NeedsRegistry } from '../../../src/broker/needs.js';
import { QueueRegistry } from '../../../src/broker/queues.js';
import { ManualClock } from '../../../src/domain/clock.js';
import type { QueueSettingsPatch } from '../../../src/domain/queues.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { NewJob, RunningJob } from '../../../src/store/store.js';

const T0 = 1_700_000_000_000;
let dir: string;
let store: SqliteStore;
let clock: ManualClock;
let needs: NeedsRegistry;
let queues: QueueRegistry;
let gates: Gates;
let reopened: number[][];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-gates-'));
  store = SqliteStore.open({ path: join(dir, 'db'), durable: false });
  clock = new ManualClock(T0);
  const logger = pino({ level: 'silent' });
  const events = new EventBus();
  needs = new NeedsRegistry(store);
  const committer = new Committer(store, logger);
  queues = new QueueRegistry({ store, committer, events, needs, clock, logger });
  reopened = [];
  gates = new Gates(needs, queues, clock, (ids) => reopened.push([...ids]));
});

afterEach(async () => {
  gates.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function queueWith(name: string, patch: QueueSettingsPatch): Promise<void> {
  await queues.put(name, patch);
}

async function jobs(
  queue: string,
  n: number,
  over: Partial<NewJob> = {},
  limits: Array<{ name: string; units: number }> = [],
): Promise<number> {
  const needsId = await store.write((tx) =>
    needs.resolve(tx, { queue, type: 't', requires: {}, limits }),
  );
  const rows: NewJob[] = Array.from({ length: n }, () => ({
    type: 't',
    queue,
    needsId,
    payload: null,
    requires: {},
    meta: {},
    priority: 0,
    group: null,
    rank: 0,
    tag: 0,
    maxAttempts: 1,
    timeoutMs: null,
    killSignal: 'SIGTERM',
    killGraceMs: 0,
    state: 'queued',
    runAt: T0,
    createdAt: T0,
    options: null,
    hold: null,
    ...over,
  }));
  await store.write((tx) => tx.jobInsertMany(rows));
  return needsId;
}

/** One dispatch of a worker with `slots` free over `needsIds`, now; returns the jobs started. */
async function dispatch(needsIds: number[], slots = 1_000): Promise<RunningJob[]> {
  const got: RunningJob[] = [];
  const free = new Map([['w', slots]]);
  await store.write((tx) =>
    gates.dispatch(
      tx,
      [{ session: 'w', needsIds, lessee: { workerId: 'w', workerName: 'w', nodeId: 'n' } }],
      free,
      (_, list) => got.push(...list),
      () => undefined,
      clock.now(),
    ),
  );
  return got;
}

describe('rate limits', () => {
  it('starts 50 per second over 5 s, dispatching every millisecond (burst 1)', async () => {
    await queueWith('r', { rate: 50, burst: 1 });
    const n = await jobs('r', 1_000);
    let started = 0;
    for (let ms = 0; ms < 5_000; ms++) {
      started += (await dispatch([n])).length;
      clock.advance(1);
    }
    // The full bucket's one token at the start, then one every 20 ms.
    expect(started).toBe(1 + 249);
  });

  it('lets a burst go at once, then holds the rate', async () => {
    await queueWith('r', { rate: 10, burst: 5 });
    const n = await jobs('r', 100);
    expect(await dispatch([n])).toHaveLength(5);
    expect(await dispatch([n])).toHaveLength(0);
    clock.advance(250);
    expect(await dispatch([n])).toHaveLength(2);
    // A quiet spell fills the bucket up to the burst, no more.
    clock.advance(60_000);
    expect(await dispatch([n])).toHaveLength(5);
  });

  it('blocks a needs out of tokens and reopens it by a timer at the next token', async () => {
    await queueWith('r', { rate: 4, burst: 1 });
    const n = await jobs('r', 10);
    expect(await dispatch([n])).toHaveLength(1);
    expect(await dispatch([n])).toHaveLength(0);
    expect(gates.blockedBy(n)).toEqual({ kind: 'rate', queue: 'r' });
    clock.advance(249);
    expect(reopened).toEqual([]);
    clock.advance(1);
    expect(reopened).toEqual([[n]]);
    expect(gates.blockedBy(n)).toBeUndefined();
    expect(await dispatch([n])).toHaveLength(1);
  });

  it('per group: a group out of tokens does not hold back another group', async () => {
    await queueWith('g', { groupRate: 1, groupBurst: 2 });
    const n = await jobs('g', 50, { group: 'A' });
    await jobs('g', 5, { group: 'B', createdAt: T0 + 1 });
    const first = await dispatch([n]);
    // Two of A (its burst), then two of B though 48 of A come before them.
    expect(first).toHaveLength(4);
    const byGroup = await Promise.all(first.map(async (j) => (await store.jobGet(j.id))!.group));
    expect(byGroup.sort()).toEqual(['A', 'A', 'B', 'B']);
    expect(await dispatch([n])).toHaveLength(0);
    clock.advance(1_000);
    expect(await dispatch([n])).toHaveLength(2);
  });
});

describe('concurrency and named limits', () => {
  it('counts what runs against a queue’s concurrency, and reopens when a job of it leaves running', async () => {
    await queueWith('c', { concurrency: 3 });
    const n = await jobs('c', 10);
    expect(await dispatch([n])).toHaveLength(3);
    expect(await dispatch([n])).toHaveLength(0);
    expect(gates.blockedBy(n)).toEqual({ kind: 'concurrency', queue: 'c' });
    // Another queue's job ending concerns it not.
    expect(gates.leftRunning('elsewhere')).toEqual([]);
    expect(reopened).toEqual([]);
    expect(gates.leftRunning('c')).toEqual([n]);
    expect(reopened).toEqual([[n]]);
  });

  it('counts units of named limits across needs, and a limit without a total limits nothing', async () => {
    await store.write((tx) => tx.limitPut('lic', 4, T0));
    const two = await jobs('q', 5, {}, [{ name: 'lic', units: 2 }]);
    const one = await jobs('q', 5, {}, [{ name: 'lic', units: 1 }]);
    const free = await jobs('q', 5, {}, [{ name: 'nototal', units: 1 }]);
    const started = await dispatch([two, one, free]);
    const of = (id: number) => started.filter((j) => j.needsId === id).length;
    expect(of(two)).toBe(2);
    expect(of(one)).toBe(0);
    expect(of(free)).toBe(5);
    expect(gates.blockedBy(one)).toEqual({ kind: 'limit', name: 'lic' });
  });
});
