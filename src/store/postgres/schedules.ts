/**
 * Cron schedules (src/broker/schedules.ts). A tick is fired by `scheduleAdvance`, a conditional
 * update of the due time: of two nodes firing one tick at once, the second waits for the first's
 * row lock, then finds the due time moved on and updates nothing (READ COMMITTED re-checks the
 * condition on the row as committed).
 */
import type { ScheduleAdvance, ScheduleRecord, ScheduleSettings } from '../store.js';
import type { Queryable } from './connection.js';

interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  template: string;
  overlap: 'skip' | 'allow';
  missed: 'once' | 'skip';
  paused: boolean;
  next_at: number | null;
  last_run_at: number | null;
  last_job_id: number | null;
  fired: number;
  skipped: number;
  created_at: number;
  updated_at: number;
}

const insertSql = `
  INSERT INTO schedules (name, cron, timezone, template, overlap, missed, paused, next_at,
    last_run_at, last_job_id, fired, skipped, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
  ON CONFLICT (name) DO NOTHING`;
const updateSql = `
  UPDATE schedules SET cron = $1, timezone = $2, template = $3, overlap = $4, missed = $5,
    paused = $6, next_at = $7, updated_at = $8
  WHERE name = $9`;
const deleteSql = 'DELETE FROM schedules WHERE name = $1';
const getForUpdateSql = 'SELECT * FROM schedules WHERE name = $1 FOR UPDATE';
const getSql = 'SELECT * FROM schedules WHERE name = $1';
const listSql = 'SELECT * FROM schedules ORDER BY name';
const nextAtSql = 'SELECT min(next_at) AS t FROM schedules WHERE NOT paused';
const advanceSql = `
  UPDATE schedules SET next_at = $1, last_run_at = $2, fired = fired + $3,
    skipped = skipped + $4
  WHERE name = $5 AND next_at = $6 AND NOT paused`;
const lastJobSql = 'UPDATE schedules SET last_job_id = $1 WHERE name = $2';

function fromRow(r: ScheduleRow): ScheduleRecord {
  return {
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    template: JSON.parse(r.template) as unknown,
    overlap: r.overlap,
    missed: r.missed,
    paused: r.paused,
    nextAt: r.next_at,
    lastRunAt: r.last_run_at,
    lastJobId: r.last_job_id,
    fired: r.fired,
    skipped: r.skipped,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function scheduleInsert(c: Queryable, s: ScheduleRecord): Promise<boolean> {
  const { rowCount } = await c.query(insertSql, [
    s.name,
    s.cron,
    s.timezone,
    JSON.stringify(s.template),
    s.overlap,
    s.missed,
    s.paused,
    s.nextAt,
    s.lastRunAt,
    s.lastJobId,
    s.fired,
    s.skipped,
    s.createdAt,
    s.updatedAt,
  ]);
  return rowCount === 1;
}

export async function scheduleUpdate(c: Queryable, s: ScheduleSettings): Promise<boolean> {
  const { rowCount } = await c.query(updateSql, [
    s.cron,
    s.timezone,
    JSON.stringify(s.template),
    s.overlap,
    s.missed,
    s.paused,
    s.nextAt,
    s.updatedAt,
    s.name,
  ]);
  return rowCount === 1;
}

export async function scheduleDelete(c: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await c.query(deleteSql, [name]);
  return rowCount === 1;
}

export async function scheduleGetForUpdate(
  c: Queryable,
  name: string,
): Promise<ScheduleRecord | undefined> {
  const { rows } = await c.query<ScheduleRow>(getForUpdateSql, [name]);
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

export async function scheduleGet(c: Queryable, name: string): Promise<ScheduleRecord | undefined> {
  const { rows } = await c.query<ScheduleRow>(getSql, [name]);
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

export async function scheduleList(c: Queryable): Promise<ScheduleRecord[]> {
  const { rows } = await c.query<ScheduleRow>(listSql);
  return rows.map(fromRow);
}

export async function scheduleNextAt(c: Queryable): Promise<number | null> {
  const { rows } = await c.query<{ t: number | null }>(nextAtSql);
  return rows[0]?.t ?? null;
}

export async function scheduleAdvance(c: Queryable, a: ScheduleAdvance): Promise<boolean> {
  const { rowCount } = await c.query(advanceSql, [
    a.nextAt,
    a.now,
    a.fired,
    a.skipped,
    a.name,
    a.dueAt,
  ]);
  return rowCount === 1;
}

export async function scheduleSetLastJob(c: Queryable, name: string, jobId: number): Promise<void> {
  await c.query(lastJobSql, [jobId, name]);
}
