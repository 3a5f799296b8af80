/**
 * What operators decide about workers (status, schedule, queues and types), the blocklist and
 * the workers' usage series. Writes run on the write transaction's connection, reads on the pool.
 */
import type { Block } from '../../domain/blocklist.js';
import type { UsageResolution, UsageSample } from '../../domain/usage.js';
import type { WorkerControl } from '../../domain/worker-control.js';
import type { BlocklistFailure, UsageRow } from '../store.js';
import type { Queryable } from './connection.js';
import { jsonb } from './rows.js';

const controlSetSql = `
  INSERT INTO worker_controls (worker_id, body, updated_at) VALUES ($1, $2::jsonb, $3)
  ON CONFLICT (worker_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`;
const controlGetSql = 'SELECT body FROM worker_controls WHERE worker_id = $1';

/** $4: threshold, $5: now. Concurrent failures on two nodes serialise on the row. */
const failureSql = `
  INSERT INTO worker_blocklist AS b (worker_id, queue, type, failures, blocked_at, updated_at)
  VALUES ($1, $2, $3, 1, CASE WHEN $4::int <= 1 THEN $5::bigint END, $5)
  ON CONFLICT (worker_id, queue, type) DO UPDATE SET failures = b.failures + 1,
    blocked_at = coalesce(b.blocked_at, CASE WHEN b.failures + 1 >= $4::int THEN $5::bigint END),
    updated_at = $5
  RETURNING failures, blocked_at`;
const blockColumns = 'worker_id, queue, type, failures, blocked_at';
const clearSql = `
  DELETE FROM worker_blocklist WHERE worker_id = $1 AND type = $2 AND ($3::text IS NULL OR queue = $3)
  RETURNING ${blockColumns}`;
const blocksOfWorkerSql = `SELECT ${blockColumns} FROM worker_blocklist WHERE blocked_at IS NOT NULL AND worker_id = $1 ORDER BY worker_id, queue, type`;
const blocksAllSql = `SELECT ${blockColumns} FROM worker_blocklist WHERE blocked_at IS NOT NULL ORDER BY worker_id, queue, type`;
const blocksOfPairsSql = `
  SELECT ${blockColumns} FROM worker_blocklist
  WHERE blocked_at IS NOT NULL AND (queue, type) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  ORDER BY worker_id, queue, type`;

const usageAddSql = `
  INSERT INTO worker_usage (worker_id, resolution, at, body)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[])
  ON CONFLICT DO NOTHING`;
const usagePruneSql = `
  DELETE FROM worker_usage WHERE (resolution = 'fine' AND at < $1) OR (resolution = 'minute' AND at < $2)`;
const usageListSql = `
  SELECT body FROM worker_usage WHERE worker_id = $1 AND resolution = $2 AND at >= $3
  ORDER BY at LIMIT $4`;

interface BlockRow {
  worker_id: string;
  queue: string;
  type: string;
  failures: number;
  blocked_at: number | null;
}

const blockFromRow = (r: BlockRow): Block => ({
  workerId: r.worker_id,
  queue: r.queue,
  type: r.type,
  failures: Number(r.failures),
  blockedAt: Number(r.blocked_at ?? 0),
});

export async function workerControlSet(
  c: Queryable,
  workerId: string,
  control: WorkerControl,
  now: number,
): Promise<void> {
  await c.query(controlSetSql, [workerId, jsonb(control), now]);
}

export async function workerControlGet(
  c: Queryable,
  workerId: string,
): Promise<WorkerControl | undefined> {
  const { rows } = await c.query<{ body: WorkerControl }>(controlGetSql, [workerId]);
  return rows[0]?.body;
}

export async function blocklistFailure(c: Queryable, f: BlocklistFailure): Promise<Block | null> {
  const { rows } = await c.query<{ failures: number; blocked_at: number | null }>(failureSql, [
    f.workerId,
    f.queue,
    f.type,
    f.threshold,
    f.now,
  ]);
  const row = rows[0];
  if (row === undefined) return null;
  const blockedAt = row.blocked_at === null ? null : Number(row.blocked_at);
  if (blockedAt !== f.now || Number(row.failures) !== Math.max(1, f.threshold)) return null;
  return {
    workerId: f.workerId,
    queue: f.queue,
    type: f.type,
    failures: Number(row.failures),
    blockedAt: f.now,
  };
}

export async function blocklistClear(
  c: Queryable,
  q: { workerId: string; type: string; queue?: string },
): Promise<Block[]> {
  const { rows } = await c.query<BlockRow>(clearSql, [q.workerId, q.type, q.queue ?? null]);
  return rows.filter((r) => r.blocked_at !== null).map(blockFromRow);
}

export async function blocklistList(
  c: Queryable,
  q: { workerId?: string; pairs?: ReadonlyArray<{ queue: string; type: string }> },
): Promise<Block[]> {
  let rows: BlockRow[];
  if (q.pairs !== undefined) {
    if (q.pairs.length === 0) return [];
    rows = (
      await c.query<BlockRow>(blocksOfPairsSql, [
        q.pairs.map((p) => p.queue),
        q.pairs.map((p) => p.type),
      ])
    ).rows;
    if (q.workerId !== undefined) rows = rows.filter((r) => r.worker_id === q.workerId);
  } else if (q.workerId !== undefined) {
    rows = (await c.query<BlockRow>(blocksOfWorkerSql, [q.workerId])).rows;
  } else {
    rows = (await c.query<BlockRow>(blocksAllSql)).rows;
  }
  return rows.map(blockFromRow);
}

export async function usageAdd(c: Queryable, rows: readonly UsageRow[]): Promise<void> {
  if (rows.length === 0) return;
  await c.query(usageAddSql, [
    rows.map((r) => r.workerId),
    rows.map((r) => r.resolution),
    rows.map((r) => r.sample.at),
    rows.map((r) => jsonb(r.sample)),
  ]);
}

export async function usagePrune(
  c: Queryable,
  before: { fine: number; minute: number },
): Promise<number> {
  const { rowCount } = await c.query(usagePruneSql, [before.fine, before.minute]);
  return rowCount ?? 0;
}

export async function usageList(
  c: Queryable,
  q: { workerId: string; resolution: UsageResolution; since: number; limit: number },
): Promise<UsageSample[]> {
  const { rows } = await c.query<{ body: UsageSample }>(usageListSql, [
    q.workerId,
    q.resolution,
    q.since,
    q.limit,
  ]);
  return rows.map((r) => r.body);
}
