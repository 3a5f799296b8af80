/**
 * Contract: cron schedules. Insert refuses a taken name; a tick's advance applies only while
 * the due time is the one read (and the schedule is not paused), so that of two fires of one
 * tick exactly one wins; the earliest due time leaves paused schedules out.
 */
import { describe, expect, it } from 'vitest';
import type { ScheduleRecord } from '../../../src/store/store.js';
import { T0, useStore, type StoreFactory } from './helpers.js';

/** A schedule due at T0 + 1 s, every second. */
export function newSchedule(over: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    name: 'nightly',
    cron: '* * * * * *',
    timezone: 'UTC',
    template: { type: 'report', payload: { text: 'a\u0000b 𝄞' } },
    overlap: 'skip',
    missed: 'once',
    paused: false,
    nextAt: T0 + 1_000,
    lastRunAt: null,
    lastJobId: null,
    fired: 0,
    skipped: 0,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function describeSchedules(factory: StoreFactory): void {
  describe('schedules', () => {
    const ctx = useStore(factory);

    it('keeps a schedule as given, template and all, and refuses a second of one name', async () => {
      const s = newSchedule();
      expect(await ctx.store.write((tx) => tx.scheduleInsert(s))).toBe(true);
      expect(await ctx.store.scheduleGet('nightly')).toEqual(s);
      const again = newSchedule({ cron: '0 * * * *' });
      expect(await ctx.store.write((tx) => tx.scheduleInsert(again))).toBe(false);
      expect((await ctx.store.scheduleGet('nightly'))!.cron).toBe('* * * * * *');
      expect(await ctx.store.scheduleGet('other')).toBeUndefined();
    });

    it('lists by name and gives the earliest due time of those not paused', async () => {
      await ctx.store.write(async (tx) => {
        await tx.scheduleInsert(newSchedule({ name: 'b', nextAt: T0 + 5_000 }));
        await tx.scheduleInsert(newSchedule({ name: 'a', nextAt: T0 + 1_000, paused: true }));
        await tx.scheduleInsert(newSchedule({ name: 'c', nextAt: null }));
      });
      expect((await ctx.store.scheduleList()).map((s) => s.name)).toEqual(['a', 'b', 'c']);
      expect(await ctx.store.scheduleNextAt()).toBe(T0 + 5_000);
      await ctx.store.write((tx) => tx.scheduleDelete('b'));
      expect(await ctx.store.scheduleNextAt()).toBeNull();
    });

    it('updates the settings but not the counters, and deletes', async () => {
      await ctx.store.write((tx) => tx.scheduleInsert(newSchedule({ fired: 3, skipped: 2 })));
      const changed = await ctx.store.write((tx) =>
        tx.scheduleUpdate({
          name: 'nightly',
          cron: '0 3 * * *',
          timezone: 'Europe/Prague',
          template: { type: 'other' },
          overlap: 'allow',
          missed: 'skip',
          paused: true,
          nextAt: null,
          updatedAt: T0 + 9,
        }),
      );
      expect(changed).toBe(true);
      expect(await ctx.store.scheduleGet('nightly')).toMatchObject({
        cron: '0 3 * * *',
        timezone: 'Europe/Prague',
        template: { type: 'other' },
        overlap: 'allow',
        missed: 'skip',
        paused: true,
        nextAt: null,
        fired: 3,
        skipped: 2,
        createdAt: T0,
        updatedAt: T0 + 9,
      });
      const gone = newSchedule({ name: 'gone' });
      expect(await ctx.store.write((tx) => tx.scheduleUpdate(gone))).toBe(false);
      expect(await ctx.store.write((tx) => tx.scheduleDelete('nightly'))).toBe(true);
      expect(await ctx.store.write((tx) => tx.scheduleDelete('nightly'))).toBe(false);
      expect(await ctx.store.write((tx) => tx.scheduleGetForUpdate('nightly'))).toBeUndefined();
    });

    it('advances a tick only from the due time read, once', async () => {
      await ctx.store.write((tx) => tx.scheduleInsert(newSchedule()));
      const tick = { name: 'nightly', dueAt: T0 + 1_000, nextAt: T0 + 2_000, now: T0 + 1_001 };
      const first = await ctx.store.write(async (tx) => {
        const won = await tx.scheduleAdvance({ ...tick, fired: 1, skipped: 0 });
        if (won) await tx.scheduleSetLastJob('nightly', 42);
        return won;
      });
      expect(first).toBe(true);
      // The same tick again (a second node, a double fire): nothing.
      expect(
        await ctx.store.write((tx) => tx.scheduleAdvance({ ...tick, fired: 1, skipped: 0 })),
      ).toBe(false);
      expect(await ctx.store.scheduleGet('nightly')).toMatchObject({
        nextAt: T0 + 2_000,
        lastRunAt: T0 + 1_001,
        lastJobId: 42,
        fired: 1,
        skipped: 0,
      });
      // A skip counts and advances too.
      const skip = { name: 'nightly', dueAt: T0 + 2_000, nextAt: T0 + 5_000, now: T0 + 4_500 };
      expect(
        await ctx.store.write((tx) => tx.scheduleAdvance({ ...skip, fired: 0, skipped: 3 })),
      ).toBe(true);
      expect(await ctx.store.scheduleGet('nightly')).toMatchObject({
        fired: 1,
        skipped: 3,
        lastJobId: 42,
      });
    });

    it('does not advance a paused schedule, nor a tick rolled back', async () => {
      await ctx.store.write((tx) => tx.scheduleInsert(newSchedule({ paused: true })));
      const tick = { name: 'nightly', dueAt: T0 + 1_000, nextAt: T0 + 2_000, now: T0 + 1_000 };
      expect(
        await ctx.store.write((tx) => tx.scheduleAdvance({ ...tick, fired: 1, skipped: 0 })),
      ).toBe(false);
      await ctx.store.write((tx) =>
        tx.scheduleUpdate({ ...newSchedule(), paused: false, updatedAt: T0 }),
      );
      await expect(
        ctx.store.write(async (tx) => {
          await tx.scheduleAdvance({ ...tick, fired: 1, skipped: 0 });
          throw new Error('the job could not be inserted');
        }),
      ).rejects.toThrow('the job could not be inserted');
      expect(await ctx.store.scheduleGet('nightly')).toMatchObject({
        nextAt: T0 + 1_000,
        fired: 0,
      });
    });
  });
}
