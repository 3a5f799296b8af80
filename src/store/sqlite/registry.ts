/**
 * The small tables: needs, workers, nodes and settings. Writes take the writer (inside a
 * transaction), reads the reader.
 */
import type { NeedsRecord, NodeRecord, WorkerRecord } from '../store.js';
import type { Conn } from './connection.js';
import {
  needsFromRow,
  nodeFromRow,
  workerFromRow,
  type NeedsRow,
  type NodeRow,
  type WorkerRow,
} from './rows.js';

const needsByKeySql = 'SELECT id FROM needs WHERE key = ?';
const needsInsertSql =
  'INSERT INTO needs (key, queue, type, requires, limits) VALUES (?, ?, ?, ?, ?)';
const needsListSql = 'SELECT id, key, queue, type, requires, limits FROM needs ORDER BY id';

const workerUpsertSql =
  'INSERT INTO workers (id, name, node_id, labels, types, queues, slots, address, ' +
  'connected_at, last_seen_at, online, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (id) DO UPDATE SET name = excluded.name, node_id = excluded.node_id, ' +
  'labels = excluded.labels, types = excluded.types, queues = excluded.queues, ' +
  'slots = excluded.slots, address = excluded.address, connected_at = excluded.connected_at, ' +
  'last_seen_at = excluded.last_seen_at, online = excluded.online, ' +
  'secret_hash = excluded.secret_hash';
const workerOfflineSql =
  'UPDATE workers SET online = 0, last_seen_at = ? WHERE id = ? AND node_id = ?';
const workerListSql = 'SELECT * FROM workers ORDER BY id';
const workerGetSql = 'SELECT * FROM workers WHERE id = ?';

const commandAddSql = 'INSERT INTO node_commands (node_id, body, created_at) VALUES (?, ?, ?)';
const commandTakeSql = 'DELETE FROM node_commands WHERE node_id = ? RETURNING id, body';
const commandPurgeSql =
  'DELETE FROM node_commands WHERE node_id NOT IN (SELECT value FROM json_each(?))';

const nodeHeartbeatSql =
  'INSERT INTO nodes (id, address, started_at, heartbeat_at, queue_stats) VALUES (?, ?, ?, ?, ?) ' +
  'ON CONFLICT (id) DO UPDATE SET address = excluded.address, ' +
  'started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, ' +
  'queue_stats = coalesce(excluded.queue_stats, nodes.queue_stats)';
const nodeListSql = 'SELECT * FROM nodes ORDER BY id';

const settingSetSql =
  'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value';
const settingGetSql = 'SELECT value FROM settings WHERE key = ?';

/** The id of the needs with this key; the existing one wins, whatever else it says. */
export function needsUpsert(c: Conn, needs: Omit<NeedsRecord, 'id'>): number {
  const found = c.stmt(needsByKeySql).get(needs.key) as { id: number } | undefined;
  if (found !== undefined) return found.id;
  const info = c
    .stmt(needsInsertSql)
    .run(
      needs.key,
      needs.queue,
      needs.type,
      JSON.stringify(needs.requires),
      needs.limits.length === 0 ? null : JSON.stringify(needs.limits),
    );
  return Number(info.lastInsertRowid);
}

/** All needs, by id: the dispatcher loads them at start and after a rollback. */
export function needsList(c: Conn): NeedsRecord[] {
  return (c.stmt(needsListSql).all() as NeedsRow[]).map(needsFromRow);
}

/** Inserts or replaces a worker as a whole: the broker holds its current picture. */
export function workerUpsert(c: Conn, w: WorkerRecord): void {
  c.stmt(workerUpsertSql).run(
    w.id,
    w.name,
    w.nodeId,
    JSON.stringify(w.labels),
    JSON.stringify(w.types),
    JSON.stringify(w.queues),
    w.slots,
    w.address,
    w.connectedAt,
    w.lastSeenAt,
    w.online ? 1 : 0,
    w.secretHash,
  );
}

/** Keeps the row (for the dashboard and history), marked offline, unless another node has it. */
export function workerSetOffline(c: Conn, id: string, nodeId: string, now: number): void {
  c.stmt(workerOfflineSql).run(now, id, nodeId);
}

/** All workers known, online or not, by id. */
export function workerList(c: Conn): WorkerRecord[] {
  return (c.stmt(workerListSql).all() as WorkerRow[]).map(workerFromRow);
}

/** One worker, online or not. */
export function workerGet(c: Conn, id: string): WorkerRecord | undefined {
  const row = c.stmt(workerGetSql).get(id) as WorkerRow | undefined;
  return row === undefined ? undefined : workerFromRow(row);
}

export function nodeCommandAdd(
  c: Conn,
  command: { nodeId: string; body: string; now: number },
): void {
  c.stmt(commandAddSql).run(command.nodeId, command.body, command.now);
}

/** The node's commands, oldest first (RETURNING gives no order of its own). */
export function nodeCommandTake(c: Conn, nodeId: string): string[] {
  const rows = c.stmt(commandTakeSql).all(nodeId) as Array<{ id: number; body: string }>;
  return rows.sort((a, b) => a.id - b.id).map((r) => r.body);
}

export function nodeCommandPurge(c: Conn, liveNodeIds: readonly string[]): number {
  return c.stmt(commandPurgeSql).run(JSON.stringify(liveNodeIds)).changes;
}

/** Inserts or refreshes a node; a node beats by rewriting its row. */
export function nodeHeartbeat(c: Conn, n: NodeRecord): void {
  c.stmt(nodeHeartbeatSql).run(n.id, n.address, n.startedAt, n.heartbeatAt, n.queueStats ?? null);
}

/** All nodes, by id; liveness is the caller's judgement of `heartbeatAt`. */
export function nodeList(c: Conn): NodeRecord[] {
  return (c.stmt(nodeListSql).all() as NodeRow[]).map(nodeFromRow);
}

/** Sets a setting, replacing its value. */
export function settingSet(c: Conn, key: string, value: string): void {
  c.stmt(settingSetSql).run(key, value);
}

/** A setting, or undefined when it was never set. */
export function settingGet(c: Conn, key: string): string | undefined {
  const row = c.stmt(settingGetSql).get(key) as { value: string } | undefined;
  return row?.value;
}
