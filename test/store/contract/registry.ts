/** Contract: workers, nodes and settings. */
import { describe, expect, it } from 'vitest';
import type { WorkerRecord } from '../../../src/store/store.js';
import { T0, useStore, type StoreFactory } from './helpers.js';

function workerRecord(id: string, overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id,
    name: `worker-${id}`,
    nodeId: 'n1',
    labels: { env: ['c', 'python'], threads: ['8'] },
    types: ['shell', 'http'],
    queues: ['default'],
    slots: 4,
    address: '10.0.0.7',
    connectedAt: T0,
    lastSeenAt: T0,
    online: true,
    secretHash: null,
    ...overrides,
  };
}

/** The small tables the broker keeps for the dashboard and for several nodes. */
export function describeRegistry(factory: StoreFactory): void {
  describe('workers', () => {
    const ctx = useStore(factory);

    it('stores a worker and replaces it on the next upsert', async () => {
      const a = workerRecord('a');
      const b = workerRecord('b', { address: null, labels: {}, types: [], queues: ['x', 'y'] });
      await ctx.store.write(async (tx) => {
        await tx.workerUpsert(b);
        await tx.workerUpsert(a);
      });
      expect(await ctx.store.workerList()).toStrictEqual([a, b]);
      const a2 = workerRecord('a', {
        name: 'renamed',
        nodeId: 'n2',
        slots: 1,
        connectedAt: T0 + 10,
        lastSeenAt: T0 + 11,
      });
      await ctx.store.write((tx) => tx.workerUpsert(a2));
      expect(await ctx.store.workerList()).toStrictEqual([a2, b]);
    });

    it("keeps a worker's secret hash and reads one worker by id", async () => {
      const hash = 'ab'.repeat(32);
      await ctx.store.write((tx) => tx.workerUpsert(workerRecord('a', { secretHash: hash })));
      expect(await ctx.store.workerGet('a')).toStrictEqual(workerRecord('a', { secretHash: hash }));
      expect(await ctx.store.workerGet('nobody')).toBeUndefined();
    });

    it('marks a worker offline only if it is still attached to that node', async () => {
      await ctx.store.write((tx) => tx.workerUpsert(workerRecord('a')));
      await ctx.store.write((tx) => tx.workerSetOffline('a', 'n2', T0 + 400));
      expect((await ctx.store.workerGet('a'))?.online).toBe(true);
    });

    it('marks a worker offline with when it was last seen', async () => {
      await ctx.store.write((tx) => tx.workerUpsert(workerRecord('a')));
      await ctx.store.write(async (tx) => {
        await tx.workerSetOffline('a', 'n1', T0 + 500);
        await tx.workerSetOffline('unknown', 'n1', T0 + 500);
      });
      expect(await ctx.store.workerList()).toStrictEqual([
        workerRecord('a', { online: false, lastSeenAt: T0 + 500 }),
      ]);
      await ctx.store.write((tx) => tx.workerUpsert(workerRecord('a', { lastSeenAt: T0 + 900 })));
      expect((await ctx.store.workerList())[0]?.online).toBe(true);
    });
  });

  describe('nodes', () => {
    const ctx = useStore(factory);

    it('records node heartbeats, one row per node', async () => {
      expect(await ctx.store.nodeList()).toEqual([]);
      const n1 = { id: 'n1', address: 'a:9658', startedAt: T0, heartbeatAt: T0 };
      const n2 = { id: 'n2', address: 'b:9658', startedAt: T0 + 1, heartbeatAt: T0 + 1 };
      await ctx.store.write(async (tx) => {
        await tx.nodeHeartbeat(n2);
        await tx.nodeHeartbeat({ ...n1, queueStats: '{"queues":{}}' });
      });
      // A heartbeat without queue counts keeps the last ones.
      await ctx.store.write((tx) => tx.nodeHeartbeat({ ...n1, heartbeatAt: T0 + 5_000 }));
      expect(await ctx.store.nodeList()).toStrictEqual([
        { ...n1, heartbeatAt: T0 + 5_000, queueStats: '{"queues":{}}' },
        { ...n2, queueStats: null },
      ]);
    });
  });

  describe('node commands', () => {
    const ctx = useStore(factory);
    const add = (nodeId: string, body: string) =>
      ctx.store.write((tx) => tx.nodeCommandAdd({ nodeId, body, now: T0 }));

    it('keeps commands per node until that node takes them, oldest first', async () => {
      await add('n1', 'first');
      await add('n2', 'other');
      await add('n1', 'x'.repeat(20_000));
      const taken = await ctx.store.write((tx) => tx.nodeCommandTake('n1'));
      expect(taken).toEqual(['first', 'x'.repeat(20_000)]);
      expect(await ctx.store.write((tx) => tx.nodeCommandTake('n1'))).toEqual([]);
      expect(await ctx.store.write((tx) => tx.nodeCommandTake('n2'))).toEqual(['other']);
    });

    it('keeps a command taken in a transaction that rolled back', async () => {
      await add('n1', 'kept');
      await expect(
        ctx.store.write(async (tx) => {
          await tx.nodeCommandTake('n1');
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await ctx.store.write((tx) => tx.nodeCommandTake('n1'))).toEqual(['kept']);
    });

    it('drops the commands of nodes that are not live', async () => {
      await add('n1', 'a');
      await add('dead', 'b');
      await add('dead', 'c');
      expect(await ctx.store.write((tx) => tx.nodeCommandPurge(['n1', 'n2']))).toBe(2);
      expect(await ctx.store.write((tx) => tx.nodeCommandTake('dead'))).toEqual([]);
      expect(await ctx.store.write((tx) => tx.nodeCommandTake('n1'))).toEqual(['a']);
    });
  });

  describe('settings', () => {
    const ctx = useStore(factory);

    it('stores, overwrites and reads settings; unknown keys are undefined', async () => {
      expect(await ctx.store.settingGet('frozen')).toBeUndefined();
      await ctx.store.write((tx) => tx.settingSet('frozen', 'true'));
      await ctx.store.write((tx) => tx.settingSet('frozen', 'false'));
      await ctx.store.write((tx) => tx.settingSet('empty', ''));
      expect(await ctx.store.settingGet('frozen')).toBe('false');
      expect(await ctx.store.settingGet('empty')).toBe('');
    });
  });
}
