/**
 * Contract: what nodes sharing a store tell each other (`tx.publish`, `store.subscribe`) and
 * cluster leadership (`store.lead`), as far as one store can show it: messages reach its own
 * subscribers only once their write commits, and a store alone on its database leads. Across
 * stores (several nodes) see each backend's own tests.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterChannel, Store } from '../../../src/store/store.js';
import { useStore, type StoreFactory } from './helpers.js';

type Message = [ClusterChannel, string];

/** Collects what a subscriber receives. */
function listen(store: Store): { messages: Message[]; stop: () => void } {
  const messages: Message[] = [];
  const stop = store.subscribe((channel, payload) => messages.push([channel, payload]));
  return { messages, stop };
}

/** Waits until `check` holds (delivery is asynchronous), failing after a few seconds. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const has = (messages: readonly Message[], payload: string): boolean =>
  messages.some(([, p]) => p === payload);

/** Publish on commit, subscribe, unsubscribe, lead. */
export function describeCluster(factory: StoreFactory): void {
  describe('publish and subscribe', () => {
    const ctx = useStore(factory);

    it('delivers what a committed write published, in order, with its channel', async () => {
      const sub = listen(ctx.store);
      await ctx.store.write(async (tx) => {
        await tx.publish('wake', '[1,2]');
        await tx.publish('event', '{"job":7}');
      });
      await until(() => sub.messages.length >= 2, 'both messages');
      expect(sub.messages).toEqual([
        ['wake', '[1,2]'],
        ['event', '{"job":7}'],
      ]);
      sub.stop();
    });

    it('delivers nothing before the write commits', async () => {
      const sub = listen(ctx.store);
      await ctx.store.write(async (tx) => {
        await tx.publish('event', 'pending');
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(sub.messages).toEqual([]);
      });
      await until(() => has(sub.messages, 'pending'), 'the message after commit');
      sub.stop();
    });

    it('delivers nothing for a write that rolled back', async () => {
      const sub = listen(ctx.store);
      await expect(
        ctx.store.write(async (tx) => {
          await tx.publish('event', 'rolled back');
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      await ctx.store.write((tx) => tx.publish('event', 'committed'));
      await until(() => has(sub.messages, 'committed'), 'the committed message');
      expect(sub.messages).toEqual([['event', 'committed']]);
      sub.stop();
    });

    it('stops delivering to a subscriber that unsubscribed, and only to it', async () => {
      const gone = listen(ctx.store);
      const stays = listen(ctx.store);
      await ctx.store.write((tx) => tx.publish('wake', 'first'));
      await until(() => has(gone.messages, 'first') && has(stays.messages, 'first'), 'first');
      gone.stop();
      await ctx.store.write((tx) => tx.publish('wake', 'second'));
      await until(() => has(stays.messages, 'second'), 'the second message');
      expect(gone.messages).toEqual([['wake', 'first']]);
      stays.stop();
    });
  });

  describe('leadership', () => {
    const ctx = useStore(factory);

    it('leads when it is the only store, and keeps leading', async () => {
      expect(await ctx.store.lead()).toBe(true);
      expect(await ctx.store.lead()).toBe(true);
    });
  });
}
