/**
 * The small tables: needs, workers, nodes and settings. Writes run on the write transaction's
 * connection, reads on the pool.
 */
import type { NeedsRecord, NodeRecord, WorkerRecord } from '../store.js';
import type { Queryable } from './connection.js';
import {
  jsonb,
  needsFromRow,
  nodeFromRow,
  workerFromRow,
  type NeedsRow,
  type NodeRow,
  type WorkerRow,
} from './rows.js';

/**
 * Finds or inserts in one round trip. Inserting only when not found keeps the identity from
 * advancing on every lookup; ON CONFLICT covers another node inserting the same key meanwhile,
 * in which case neither branch returns a row and the key is read again (below).
 */
const needsUpsertSql = `
  WITH found AS (SELECT id FROM needs WHERE key = $1),
  inserted AS (
    INSERT INTO needs (key, queue, type, requires, limits)
    SELECT $1, $2, $3, $4::jsonb, $5::jsonb WHERE NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT (key) DO NOTHING
    RETURNING id
  )
  SELECT id FROM found UNION ALL SELECT id FROM inserted`;
const needsByKeySql = 'SELECT id FROM needs WHERE key = $1';
const needsListSql = 'SELECT id, key, queue, type, requires, limits FROM needs ORDER BY id';

const workerUpsertSql = `
  INSERT INTO workers (id, name, node_id, labels, types, queues, slots, address,
    connected_at, last_seen_at, online, secret_hash)
  VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11, $12)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, node_id = excluded.node_id,
    labels = excluded.labels, types = excluded.types, queues = excluded.queues,
    slots = excluded.slots, address = excluded.address, connected_at = excluded.connected_at,
    last_seen_at = excluded.last_seen_at, online = excluded.online,
    secret_hash = excluded.secret_hash`;
const workerOfflineSql =
  'UPDATE workers SET online = false, last_seen_at = $1 WHERE id = $2 AND node_id = $3';
const workerListSql = 'SELECT * FROM workers ORDER BY id';
const workerGetSql = 'SELECT * FROM workers WHERE id = $1';

const commandAddSql = 'INSERT INTO node_commands (node_id, body, created_at) VALUES ($1, $2, $3)';
const commandTakeSql = 'DELETE FROM node_commands WHERE node_id = $1 RETURNING id, body';
const commandPurgeSql = 'DELETE FROM node_commands WHERE NOT (node_id = ANY ($1::text[]))';

const nodeHeartbeatSql = `
  INSERT INTO nodes (id, address, started_at, heartbeat_at, queue_stats)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (id) DO UPDATE SET address = excluded.address,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
    queue_stats = coalesce(excluded.queue_stats, nodes.queue_stats)`;
const nodeListSql = 'SELECT * FROM nodes ORDER BY id';

const settingSetSql =
  'INSERT INTO settings (key, value) VALUES ($1, $2) ' +
  'ON CONFLICT (key) DO UPDATE SET value = excluded.value';
const settingGetSql = 'SELECT value FROM settings WHERE key = $1';

/** The id of the needs with this key; the existing one wins, whatever else it says. */
export async function needsUpsert(c: Queryable, needs: Omit<NeedsRecord, 'id'>): Promise<number> {
  const { rows } = await c.query<{ id: number }>(needsUpsertSql, [
    needs.key,
    needs.queue,
    needs.type,
    jsonb(needs.requires),
    needs.limits.length === 0 ? null : jsonb(needs.limits),
  ]);
  const id = rows[0]?.id;
  if (id !== undefined) return id;
  // Another transaction inserted the key between our look and our insert, and has committed
  // (ON CONFLICT waited for it): this statement's newer snapshot sees its row.
  const again = await c.query<{ id: number }>(needsByKeySql, [needs.key]);
  const found = again.rows[0]?.id;
  if (found === undefined) throw new Error(`needs "${needs.key}" could be neither found nor added`);
  return found;
}

/** All needs, by id: the dispatcher loads them at start and after a rollback. */
export async function needsList(c: Queryable): Promise<NeedsRecord[]> {
  const { rows } = await c.query<NeedsRow>(needsListSql);
  return rows.map(needsFromRow);
}

/** Inserts or replaces a worker as a whole: the broker holds its current picture. */
export async function workerUpsert(c: Queryable, w: WorkerRecord): Promise<void> {
  await c.query(workerUpsertSql, [
    w.id,
    w.name,
    w.nodeId,
    jsonb(w.labels),
    jsonb(w.types),
    jsonb(w.queues),
    w.slots,
    w.address,
    w.connectedAt,
    w.lastSeenAt,
    w.online,
    w.secretHash,
  ]);
}

/** Keeps the row (for the dashboard and history), marked offline, unless another node has it. */
export async function workerSetOffline(
  c: Queryable,
  id: string,
  nodeId: string,
  now: number,
): Promise<void> {
  await c.query(workerOfflineSql, [now, id, nodeId]);
}

/** All workers known, online or not, by id. */
export async function workerList(c: Queryable): Promise<WorkerRecord[]> {
  const { rows } = await c.query<WorkerRow>(workerListSql);
  return rows.map(workerFromRow);
}

/** One worker, online or not. */
export async function workerGet(c: Queryable, id: string): Promise<WorkerRecord | undefined> {
  const { rows } = await c.query<WorkerRow>(workerGetSql, [id]);
  const row = rows[0];
  return row === undefined ? undefined : workerFromRow(row);
}

export async function nodeCommandAdd(
  c: Queryable,
  command: { nodeId: string; body: string; now: number },
): Promise<void> {
  await c.query(commandAddSql, [command.nodeId, command.body, command.now]);
}

/** The node's commands, oldest first (RETURNING gives no order of its own). */
export async function nodeCommandTake(c: Queryable, nodeId: string): Promise<string[]> {
  const { rows } = await c.query<{ id: number; body: string }>(commandTakeSql, [nodeId]);
  return rows.sort((a, b) => a.id - b.id).map((r) => r.body);
}

export async function nodeCommandPurge(
  c: Queryable,
  liveNodeIds: readonly string[],
): Promise<number> {
  const result = await c.query(commandPurgeSql, [liveNodeIds]);
  return result.rowCount ?? 0;
}

/** Inserts or refreshes a node; a node beats by rewriting its row. */
export async function nodeHeartbeat(c: Queryable, n: NodeRecord): Promise<void> {
  await c.query(nodeHeartbeatSql, [
    n.id,
    n.address,
    n.startedAt,
    n.heartbeatAt,
    n.queueStats ?? null,
  ]);
}

/** All nodes, by id; liveness is the caller's judgement of `heartbeatAt`. */
export async function nodeList(c: Queryable): Promise<NodeRecord[]> {
  const { rows } = await c.query<NodeRow>(nodeListSql);
  return rows.map(nodeFromRow);
}

/** Sets a setting, replacing its value. */
export async function settingSet(c: Queryable, key: string, value: string): Promise<void> {
  await c.query(settingSetSql, [key, value]);
}

/** A setting, or undefined when it was never set. */
export async function settingGet(c: Queryable, key: string): Promise<string | undefined> {
  const { rows } = await c.query<{ value: string }>(settingGetSql, [key]);
  return rows[0]?.value;
}
