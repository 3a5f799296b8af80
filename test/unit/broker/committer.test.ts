/**
 * Group commit: operations that arrive together share one transaction; pokes cost no extra one;
 * a failed batch answers each operation with its own outcome.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Committer } from '../../../src/broker/committer.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { mountTmpfs } from '../../helpers/mounts.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function committer(): Committer {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-committer-'));
  dirs.push(dir);
  const store = SqliteStore.open({ path: join(dir, 'db'), durable: false });
  stores.push(store);
  return new Committer(store, pino({ level: 'silent' }));
}

describe('Committer', () => {
  it('writes operations queued in one turn in one transaction, answering each', async () => {
    const c = committer();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        c.run(async (tx) => {
          await tx.settingSet(`k${i}`, String(i));
          return i;
        }),
      ),
    );
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(c.batches).toBe(1);
    expect(c.operations).toBe(10);
  });

  it('puts what arrives while a batch is written into the next batch, together', async () => {
    const c = committer();
    const first = c.run((tx) => tx.settingSet('a', '1'));
    // Queued a turn later, while the first batch is being written: they go together after it.
    const during = await new Promise<Array<Promise<void>>>((resolve) =>
      setImmediate(() => resolve([1, 2, 3].map((i) => c.run((tx) => tx.settingSet(`b${i}`, 'x'))))),
    );
    await Promise.all([first, ...during]);
    expect(c.operations).toBe(4);
    expect(c.batches).toBe(2);
  });

  it('runs no extra batch for a poke made by an operation of the batch being written', async () => {
    const c = committer();
    let hookRuns = 0;
    c.addHook(async () => {
      hookRuns++;
    });
    await c.run(async (tx) => {
      c.poke();
      await tx.settingSet('k', 'v');
    });
    await c.idle();
    expect(c.batches).toBe(1);
    expect(hookRuns).toBe(1);

    // A poke from outside a batch does get one (the hooks have work).
    c.poke();
    await c.idle();
    expect(c.batches).toBe(2);
    expect(hookRuns).toBe(2);
  });

  it('tells committed-listeners after the effects and before the callers hear back', async () => {
    const c = committer();
    const order: string[] = [];
    c.onCommitted(() => order.push('committed'));
    await c
      .run(async (tx, ctx) => {
        await tx.settingSet('k', 'v');
        ctx.afterCommit(() => order.push('effect'));
      })
      .then(() => order.push('caller'));
    expect(order).toEqual(['effect', 'committed', 'caller']);
  });

  it('fails a batch with a bad operation alone, answering its neighbours', async () => {
    const c = committer();
    const results = await Promise.allSettled([
      c.run((tx) => tx.settingSet('a', '1')),
      c.run(async () => {
        throw new Error('a bug');
      }),
      c.run((tx) => tx.settingSet('b', '2')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  describe('on a full disk (a real tmpfs)', () => {
    let disk: ReturnType<typeof mountTmpfs> | undefined;
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
      disk?.unmount();
      disk = undefined;
    });

    it('fails every operation of the batch with the fault in one try, then works again', async () => {
      disk = mountTmpfs('2m');
      const store = SqliteStore.open({ path: join(disk.dir, 'db') });
      stores.push(store);
      const c = new Committer(store, pino({ level: 'silent' }));
      let tries = 0;
      c.addHook(async () => {
        tries++;
      });
      await c.run((tx) => tx.settingSet('before', 'x'));
      tries = 0;

      disk.fill();
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) => c.run((tx) => tx.settingSet(`k${i}`, 'x'))),
      );
      // Retrying them one by one, as for a bad operation, would only meet the fault again.
      expect(tries).toBe(1);
      for (const r of results) {
        expect(r).toMatchObject({
          status: 'rejected',
          reason: { code: 'store_unavailable', fault: 'disk_full' },
        });
      }

      disk.unfill();
      expect(await c.run(async (tx) => (await tx.settingSet('after', 'x'), 'done'))).toBe('done');
      expect(await store.settingGet('k1')).toBeUndefined();
      expect(await store.settingGet('after')).toBe('x');
    });
  });
});
