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

    it('marks a worker offline with when it was last seen', async () => {
      await ctx.store.write((tx) => tx.workerUpsert(workerRecord('a')));
      await ctx.store.write(async (tx) => {
        await tx.workerSetOffline('a', T0 + 500);
        await tx.workerSetOffline('unknown', T0 + 500);
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
        await tx.nodeHeartbeat(n1);
      });
      await ctx.store.write((tx) => tx.nodeHeartbeat({ ...n1, heartbeatAt: T0 + 5_000 }));
      expect(await ctx.store.nodeList()).toStrictEqual([{ ...n1, heartbeatAt: T0 + 5_000 }, n2]);
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
