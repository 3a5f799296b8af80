/**
 * Contract: the notifier's outbox. Callbacks are added in a transaction (and gone with its
 * rollback), claimed for one try at a time under a lease, and settled only by their claimant:
 * removed, or put back for a retry at a later time.
 */
import { describe, expect, it } from 'vitest';
import type { NewCallback, Store } from '../../../src/store/store.js';
import { T0, useStore, type StoreFactory } from './helpers.js';

function callback(key: string, overrides: Partial<NewCallback> = {}): NewCallback {
  return {
    key,
    target: 'global',
    url: 'http://127.0.0.1:9/hook',
    body: JSON.stringify({ event: 'job.succeeded', id: key }),
    nextAt: T0,
    createdAt: T0,
    ...overrides,
  };
}

const add = (store: Store, callbacks: NewCallback[]): Promise<void> =>
  store.write((tx) => tx.outboxAdd(callbacks));

const claim = (store: Store, owner: string, now: number, limit = 10, leaseMs = 1_000) =>
  store.write((tx) => tx.outboxClaim({ owner, now, leaseMs, limit }));

/** The outbox of callbacks. */
export function describeOutbox(factory: StoreFactory): void {
  describe('outbox', () => {
    const ctx = useStore(factory);

    it('keeps what a committed write added and nothing of one rolled back', async () => {
      expect(await ctx.store.outboxBacklog()).toBe(0);
      expect(await ctx.store.outboxNextAt()).toBeNull();
      await add(ctx.store, [callback('a'), callback('b', { nextAt: T0 + 50 })]);
      await expect(
        ctx.store.write(async (tx) => {
          await tx.outboxAdd([callback('c')]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await ctx.store.outboxBacklog()).toBe(2);
      expect(await ctx.store.outboxNextAt()).toBe(T0);
    });

    it('refuses a key twice: one event, one callback', async () => {
      await add(ctx.store, [callback('a')]);
      await expect(add(ctx.store, [callback('a')])).rejects.toThrow();
      expect(await ctx.store.outboxBacklog()).toBe(1);
    });

    it('claims due callbacks earliest first, counting the try, up to the limit', async () => {
      await add(ctx.store, [
        callback('late', { nextAt: T0 + 20, target: 'job', url: 'https://example.test/x' }),
        callback('early', { nextAt: T0 + 10 }),
        callback('future', { nextAt: T0 + 1_000 }),
      ]);
      const first = await claim(ctx.store, 'n1/1', T0 + 100, 1);
      expect(first).toEqual([
        {
          id: expect.any(Number),
          key: 'early',
          target: 'global',
          url: 'http://127.0.0.1:9/hook',
          body: JSON.stringify({ event: 'job.succeeded', id: 'early' }),
          attempts: 1,
          nextAt: T0 + 10,
          createdAt: T0,
        },
      ]);
      const second = await claim(ctx.store, 'n1/2', T0 + 100);
      expect(second.map((c) => [c.key, c.target, c.url])).toEqual([
        ['late', 'job', 'https://example.test/x'],
      ]);
      expect(await claim(ctx.store, 'n1/3', T0 + 100)).toEqual([]);
      expect(await claim(ctx.store, 'n1/4', T0 + 100, 0)).toEqual([]);
      // Claimed ones count in the backlog; the next time is the earliest claim's end.
      expect(await ctx.store.outboxBacklog()).toBe(3);
      expect(await ctx.store.outboxNextAt()).toBe(T0 + 1_000);
    });

    it('lets a lapsed claim be taken again, and only the current claimant settle', async () => {
      await add(ctx.store, [callback('a')]);
      const [mine] = await claim(ctx.store, 'n1/1', T0, 10, 500);
      expect(await claim(ctx.store, 'n2/1', T0 + 499)).toEqual([]);
      expect(await ctx.store.outboxNextAt()).toBe(T0 + 500);
      // The first claimant died mid-send: after its lease another node takes the callback.
      const [theirs] = await claim(ctx.store, 'n2/1', T0 + 500);
      expect(theirs).toMatchObject({ id: mine!.id, key: 'a', attempts: 2 });
      const stale = await ctx.store.write((tx) =>
        tx.outboxSettle([{ id: mine!.id, owner: 'n1/1', kind: 'remove' }]),
      );
      expect(stale).toEqual([false]);
      expect(await ctx.store.outboxBacklog()).toBe(1);
      const current = await ctx.store.write((tx) =>
        tx.outboxSettle([{ id: theirs!.id, owner: 'n2/1', kind: 'remove' }]),
      );
      expect(current).toEqual([true]);
      expect(await ctx.store.outboxBacklog()).toBe(0);
    });

    it('takes over callbacks claimed by another, leases and all, when asked to', async () => {
      await add(ctx.store, [callback('claimed'), callback('future', { nextAt: T0 + 9_000 })]);
      await claim(ctx.store, 'dead/1', T0, 1, 60_000);
      expect(await claim(ctx.store, 'n1/1', T0 + 1)).toEqual([]);
      const taken = await ctx.store.write((tx) =>
        tx.outboxClaim({ owner: 'n1/2', now: T0 + 1, leaseMs: 1_000, limit: 10, takeOver: true }),
      );
      expect(taken.map((c) => [c.key, c.attempts])).toEqual([['claimed', 2]]);
      const removed = await ctx.store.write((tx) =>
        tx.outboxSettle([{ id: taken[0]!.id, owner: 'n1/2', kind: 'remove' }]),
      );
      expect(removed).toEqual([true]);
    });

    it('puts a retried callback back for its next time with its tries counted', async () => {
      await add(ctx.store, [callback('a'), callback('b')]);
      const claimed = await claim(ctx.store, 'n1/1', T0);
      const [a, b] = claimed;
      const applied = await ctx.store.write((tx) =>
        tx.outboxSettle([
          { id: a!.id, owner: 'n1/1', kind: 'retry', nextAt: T0 + 300, attempts: 1, error: 'x' },
          { id: b!.id, owner: 'n1/1', kind: 'remove' },
          { id: a!.id + b!.id + 1000, owner: 'n1/1', kind: 'remove' },
        ]),
      );
      expect(applied).toEqual([true, true, false]);
      expect(await ctx.store.outboxBacklog()).toBe(1);
      expect(await ctx.store.outboxNextAt()).toBe(T0 + 300);
      expect(await claim(ctx.store, 'n1/2', T0 + 299)).toEqual([]);
      const [again] = await claim(ctx.store, 'n1/3', T0 + 300);
      expect(again).toMatchObject({ key: 'a', attempts: 2, nextAt: T0 + 300 });
      // A retry whose claim lapsed and was taken by another claimant does not apply.
      const [taken] = await claim(ctx.store, 'n2/1', T0 + 300 + 1_000);
      expect(taken).toMatchObject({ key: 'a', attempts: 3 });
      const late = await ctx.store.write((tx) =>
        tx.outboxSettle([
          { id: a!.id, owner: 'n1/3', kind: 'retry', nextAt: T0, attempts: 2, error: 'late' },
        ]),
      );
      expect(late).toEqual([false]);
    });
  });
}
