/**
 * What operators decide about workers (status, schedule, queues and types), the blocklist and
 * the workers' usage series. Writes take the writer (inside a transaction), reads the reader.
 */
import type { Block } from '../../domain/blocklist.js';
import type { UsageResolution, UsageSample } from '../../domain/usage.js';
import type { WorkerControl } from '../../domain/worker-control.js';
import type { BlocklistFailure, UsageRow } from '../store.js';
import type { Conn } from './connection.js';

const controlSetSql =
  'INSERT INTO worker_controls (worker_id, body, updated_at) VALUES (?, ?, ?) ' +
  'ON CONFLICT (worker_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at';
const controlGetSql = 'SELECT body FROM worker_controls WHERE worker_id = ?';

const failureSql =
  'INSERT INTO worker_blocklist (worker_id, queue, type, failures, blocked_at, updated_at) ' +
  'VALUES (@workerId, @queue, @type, 1, CASE WHEN @threshold <= 1 THEN @now END, @now) ' +
  'ON CONFLICT (worker_id, queue, type) DO UPDATE SET failures = failures + 1, ' +
  'blocked_at = coalesce(blocked_at, CASE WHEN failures + 1 >= @threshold THEN @now END), ' +
  'updated_at = @now ' +
  'RETURNING failures, blocked_at';
const clearSql =
  'DELETE FROM worker_blocklist WHERE worker_id = ? AND type = ? AND (? IS NULL OR queue = ?) ' +
  'RETURNING worker_id, queue, type, failures, blocked_at';
const blockColumns = 'worker_id, queue, type, failures, blocked_at';
const blocksOfWorkerSql = `SELECT ${blockColumns} FROM worker_blocklist WHERE blocked_at IS NOT NULL AND worker_id = ? ORDER BY worker_id, queue, type`;
const blocksAllSql = `SELECT ${blockColumns} FROM worker_blocklist WHERE blocked_at IS NOT NULL ORDER BY worker_id, queue, type`;
const blocksOfPairsSql =
  `SELECT ${blockColumns} FROM worker_blocklist WHERE blocked_at IS NOT NULL AND (queue, type) IN ` +
  `(SELECT value ->> 0, value ->> 1 FROM json_each(?)) ORDER BY worker_id, queue, type`;

const usageAddSql =
  'INSERT INTO worker_usage (worker_id, resolution, at, body) VALUES (?, ?, ?, ?) ' +
  'ON CONFLICT DO NOTHING';
const usagePruneSql =
  "DELETE FROM worker_usage WHERE (resolution = 'fine' AND at < ?) OR (resolution = 'minute' AND at < ?)";
const usageListSql =
  'SELECT body FROM worker_usage WHERE worker_id = ? AND resolution = ? AND at >= ? ORDER BY at LIMIT ?';

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
  failures: r.failures,
  blockedAt: r.blocked_at ?? 0,
});

export function workerControlSet(
  c: Conn,
  workerId: string,
  control: WorkerControl,
  now: number,
): void {
  c.stmt(controlSetSql).run(workerId, JSON.stringify(control), now);
}

export function workerControlGet(c: Conn, workerId: string): WorkerControl | undefined {
  const row = c.stmt(controlGetSql).get(workerId) as { body: string } | undefined;
  return row === undefined ? undefined : (JSON.parse(row.body) as WorkerControl);
}

export function blocklistFailure(c: Conn, f: BlocklistFailure): Block | null {
  const row = c.stmt(failureSql).get({
    workerId: f.workerId,
    queue: f.queue,
    type: f.type,
    threshold: f.threshold,
    now: f.now,
  }) as { failures: number; blocked_at: number | null };
  // Blocked by this very failure: blocked now, and not by an earlier one.
  if (row.blocked_at !== f.now || row.failures !== Math.max(1, f.threshold)) return null;
  return {
    workerId: f.workerId,
    queue: f.queue,
    type: f.type,
    failures: row.failures,
    blockedAt: f.now,
  };
}

export function blocklistClear(
  c: Conn,
  q: { workerId: string; type: string; queue?: string },
): Block[] {
  const queue = q.queue ?? null;
  const rows = c.stmt(clearSql).all(q.workerId, q.type, queue, queue) as BlockRow[];
  return rows.filter((r) => r.blocked_at !== null).map(blockFromRow);
}

export function blocklistList(
  c: Conn,
  q: { workerId?: string; pairs?: ReadonlyArray<{ queue: string; type: string }> },
): Block[] {
  let rows: BlockRow[];
  if (q.pairs !== undefined) {
    if (q.pairs.length === 0) return [];
    rows = c
      .stmt(blocksOfPairsSql)
      .all(JSON.stringify(q.pairs.map((p) => [p.queue, p.type]))) as BlockRow[];
    if (q.workerId !== undefined) rows = rows.filter((r) => r.worker_id === q.workerId);
  } else if (q.workerId !== undefined) {
    rows = c.stmt(blocksOfWorkerSql).all(q.workerId) as BlockRow[];
  } else {
    rows = c.stmt(blocksAllSql).all() as BlockRow[];
  }
  return rows.map(blockFromRow);
}

export function usageAdd(c: Conn, rows: readonly UsageRow[]): void {
  const stmt = c.stmt(usageAddSql);
  for (const r of rows) stmt.run(r.workerId, r.resolution, r.sample.at, JSON.stringify(r.sample));
}

export function usagePrune(c: Conn, before: { fine: number; minute: number }): number {
  return c.stmt(usagePruneSql).run(before.fine, before.minute).changes;
}

export function usageList(
  c: Conn,
  q: { workerId: string; resolution: UsageResolution; since: number; limit: number },
): UsageSample[] {
  const rows = c.stmt(usageListSql).all(q.workerId, q.resolution, q.since, q.limit) as Array<{
    body: string;
  }>;
  return rows.map((r) => JSON.parse(r.body) as UsageSample);
}
