/**
 * Cron schedules (src/broker/schedules.ts). A tick is fired by `scheduleAdvance`, a conditional
 * update of the due time: with one writer at a time it cannot race, and the condition keeps it
 * exactly once if anything fires a tick twice.
 */
import type { ScheduleAdvance, ScheduleRecord, ScheduleSettings } from '../store.js';
import type { Conn } from './connection.js';

interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  template: string;
  overlap: 'skip' | 'allow';
  missed: 'once' | 'skip';
  paused: number;
  next_at: number | null;
  last_run_at: number | null;
  last_job_id: number | null;
  fired: number;
  skipped: number;
  created_at: number;
  updated_at: number;
}

const insertSql =
  'INSERT INTO schedules (name, cron, timezone, template, overlap, missed, paused, next_at, ' +
  'last_run_at, last_job_id, fired, skipped, created_at, updated_at) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING';
const updateSql =
  'UPDATE schedules SET cron = ?, timezone = ?, template = ?, overlap = ?, missed = ?, ' +
  'paused = ?, next_at = ?, updated_at = ? WHERE name = ?';
const deleteSql = 'DELETE FROM schedules WHERE name = ?';
const getSql = 'SELECT * FROM schedules WHERE name = ?';
const listSql = 'SELECT * FROM schedules ORDER BY name';
const nextAtSql = 'SELECT min(next_at) AS t FROM schedules WHERE paused = 0';
const advanceSql =
  'UPDATE schedules SET next_at = ?, last_run_at = ?, fired = fired + ?, skipped = skipped + ? ' +
  'WHERE name = ? AND next_at = ? AND paused = 0';
const lastJobSql = 'UPDATE schedules SET last_job_id = ? WHERE name = ?';

function fromRow(r: ScheduleRow): ScheduleRecord {
  return {
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    template: JSON.parse(r.template) as unknown,
    overlap: r.overlap,
    missed: r.missed,
    paused: r.paused === 1,
    nextAt: r.next_at,
    lastRunAt: r.last_run_at,
    lastJobId: r.last_job_id,
    fired: r.fired,
    skipped: r.skipped,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function scheduleInsert(c: Conn, s: ScheduleRecord): boolean {
  return (
    c
      .stmt(insertSql)
      .run(
        s.name,
        s.cron,
        s.timezone,
        JSON.stringify(s.template),
        s.overlap,
        s.missed,
        s.paused ? 1 : 0,
        s.nextAt,
        s.lastRunAt,
        s.lastJobId,
        s.fired,
        s.skipped,
        s.createdAt,
        s.updatedAt,
      ).changes === 1
  );
}

export function scheduleUpdate(c: Conn, s: ScheduleSettings): boolean {
  return (
    c
      .stmt(updateSql)
      .run(
        s.cron,
        s.timezone,
        JSON.stringify(s.template),
        s.overlap,
        s.missed,
        s.paused ? 1 : 0,
        s.nextAt,
        s.updatedAt,
        s.name,
      ).changes === 1
  );
}

export function scheduleDelete(c: Conn, name: string): boolean {
  return c.stmt(deleteSql).run(name).changes === 1;
}

/** One schedule; the writer's transaction already excludes every other writer. */
export function scheduleGet(c: Conn, name: string): ScheduleRecord | undefined {
  const row = c.stmt(getSql).get(name) as ScheduleRow | undefined;
  return row === undefined ? undefined : fromRow(row);
}

export function scheduleList(c: Conn): ScheduleRecord[] {
  return (c.stmt(listSql).all() as ScheduleRow[]).map(fromRow);
}

export function scheduleNextAt(c: Conn): number | null {
  return (c.stmt(nextAtSql).get() as { t: number | null }).t;
}

export function scheduleAdvance(c: Conn, a: ScheduleAdvance): boolean {
  return c.stmt(advanceSql).run(a.nextAt, a.now, a.fired, a.skipped, a.name, a.dueAt).changes === 1;
}

export function scheduleSetLastJob(c: Conn, name: string, jobId: number): void {
  c.stmt(lastJobSql).run(jobId, name);
}
