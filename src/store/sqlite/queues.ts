/**
 * Queues as objects (src/domain/queues.ts): their rows, fair queueing's group tags, the token
 * buckets of rate limits, named limits, and what gated dispatch and the queue listing read.
 * One writer: nothing here needs a lock (gateLock is the PostgreSQL store's).
 */
import { settingsFromJson, type Discipline, type QueueRecord } from '../../domain/queues.js';
import type { Bucket } from '../../domain/token-bucket.js';
import type { FairTagRequest, QueuedCandidate, QueueSummaryRow, RunningCount } from '../store.js';
import type { Conn } from './connection.js';
import { mergedCandidates } from './jobs-claim.js';

const queuePutSql =
  'INSERT INTO queues (name, settings, paused, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ' +
  'ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, paused = excluded.paused, ' +
  'updated_at = excluded.updated_at';
const queueListSql =
  'SELECT name, settings, paused, created_at, updated_at FROM queues ORDER BY name';

/** The tag at the head of one needs' queued jobs: where the queue's virtual time is. */
const headTagSql =
  `SELECT tag FROM jobs INDEXED BY jobs_dispatch WHERE needs_id = ? AND state = 'queued' ` +
  `ORDER BY rank DESC, ahead DESC, tag, id LIMIT 1`;
/** With nothing queued, every tag given so far has been served: time is past the last one. */
const lastTagSql = 'SELECT max(last_tag) AS v FROM queue_groups WHERE queue = ?';
const advanceSql =
  'INSERT INTO queue_groups (queue, grp, last_tag) VALUES (?, ?, ? + ?) ' +
  'ON CONFLICT (queue, grp) DO UPDATE SET last_tag = max(queue_groups.last_tag, ?) + ? ' +
  'RETURNING last_tag';

const waitingStates = `('queued', 'scheduled', 'held', 'waiting')`;
const reorderPlainSql =
  `UPDATE jobs SET rank = CASE WHEN ? = 'fifo' THEN 0 ELSE priority END, tag = 0 ` +
  `WHERE queue = ? AND state IN ${waitingStates}`;
const reorderFairListSql =
  `SELECT id, grp FROM jobs WHERE queue = ? AND state IN ${waitingStates} ` +
  `ORDER BY rank DESC, ahead DESC, tag, id`;
const setTagSql = 'UPDATE jobs SET rank = priority, tag = ? WHERE id = ?';

const bucketsGetSql =
  'SELECT key, tokens, at FROM buckets WHERE key IN (SELECT value FROM json_each(?))';
const bucketPutSql =
  'INSERT INTO buckets (key, tokens, at) VALUES (?, ?, ?) ' +
  'ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at';

const runningSql =
  `SELECT needs_id AS needsId, queue, count(*) AS count FROM jobs WHERE state = 'running' ` +
  `GROUP BY needs_id, queue`;

const limitMaxesSql = 'SELECT name, max FROM limits WHERE name IN (SELECT value FROM json_each(?))';
const limitPutSql =
  'INSERT INTO limits (name, max, updated_at) VALUES (?, ?, ?) ' +
  'ON CONFLICT (name) DO UPDATE SET max = excluded.max, updated_at = excluded.updated_at';
const limitListSql = 'SELECT name, max FROM limits ORDER BY name';

const candidatesSql =
  `SELECT id, grp, rank, ahead, tag FROM jobs INDEXED BY jobs_dispatch ` +
  `WHERE needs_id = ? AND state = 'queued' ORDER BY rank DESC, ahead DESC, tag, id LIMIT ?`;

const summarySql =
  `SELECT queue, state, count(*) AS count, ` +
  `min(CASE WHEN state = 'queued' THEN run_at END) AS oldestRunAt FROM jobs GROUP BY queue, state`;

const queuedSelfSql = `SELECT needs_id, rank, ahead, tag FROM jobs WHERE id = ? AND state = 'queued'`;
/** Exported for the query-plan test: walks the dispatch index of the job's needs. */
export const aheadSql =
  `SELECT count(*) AS n FROM (SELECT 1 FROM jobs INDEXED BY jobs_dispatch ` +
  `WHERE needs_id = ? AND state = 'queued' AND (rank > ? OR (rank = ? AND (ahead > ? OR ` +
  `(ahead = ? AND (tag < ? OR (tag = ? AND id < ?)))))) LIMIT ?)`;

interface QueueRow {
  name: string;
  settings: string;
  paused: number;
  created_at: number;
  updated_at: number;
}

export function queuePut(c: Conn, q: QueueRecord): void {
  c.stmt(queuePutSql).run(
    q.name,
    JSON.stringify(q.settings),
    q.paused ? 1 : 0,
    q.createdAt,
    q.updatedAt,
  );
}

export function queueDelete(c: Conn, name: string): boolean {
  const removed = c.stmt('DELETE FROM queues WHERE name = ?').run(name).changes > 0;
  c.stmt('DELETE FROM queue_groups WHERE queue = ?').run(name);
  c.stmt(`DELETE FROM buckets WHERE key = ? OR substr(key, 1, ?) = ?`).run(
    `queue:${name}`,
    `group:${name}:`.length,
    `group:${name}:`,
  );
  return removed;
}

function queueFromRow(r: QueueRow): QueueRecord {
  return {
    name: r.name,
    settings: settingsFromJson(r.settings),
    paused: r.paused === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function queueList(c: Conn): QueueRecord[] {
  return (c.stmt(queueListSql).all() as QueueRow[]).map(queueFromRow);
}

export function queueGet(c: Conn, name: string): QueueRecord | undefined {
  const row = c
    .stmt('SELECT name, settings, paused, created_at, updated_at FROM queues WHERE name = ?')
    .get(name) as QueueRow | undefined;
  return row === undefined ? undefined : queueFromRow(row);
}

/** The queue's virtual time: the smallest tag at the heads of its needs, or past the last tag. */
function virtualTime(c: Conn, queue: string, needsIds: readonly number[]): number {
  let v: number | undefined;
  const head = c.stmt(headTagSql);
  for (const id of needsIds) {
    const row = head.get(id) as { tag: number } | undefined;
    if (row !== undefined && (v === undefined || row.tag < v)) v = row.tag;
  }
  if (v !== undefined) return v;
  return (c.stmt(lastTagSql).get(queue) as { v: number | null }).v ?? 0;
}

export function fairTags(c: Conn, req: FairTagRequest): number[] {
  if (req.groups.length === 0) return [];
  const v = virtualTime(c, req.queue, req.needsIds);
  const advance = c.stmt(advanceSql);
  return req.groups.map(({ group, count, step }) => {
    const span = count * step;
    const last = (advance.get(req.queue, group, v, span, v, span) as { last_tag: number }).last_tag;
    return last - span + step;
  });
}

export function queueReorder(
  c: Conn,
  queue: string,
  discipline: Discipline,
  weights: Record<string, number>,
): number {
  if (discipline !== 'fair') return c.stmt(reorderPlainSql).run(discipline, queue).changes;
  // In their present order, each group's jobs take tags from the group's last one on.
  const rows = c.stmt(reorderFairListSql).all(queue) as Array<{ id: number; grp: string | null }>;
  c.stmt('DELETE FROM queue_groups WHERE queue = ?').run(queue);
  const last = new Map<string, number>();
  const setTag = c.stmt(setTagSql);
  for (const r of rows) {
    const group = r.grp ?? '';
    const step = 1 / (Object.hasOwn(weights, group) ? weights[group]! : 1);
    const tag = (last.get(group) ?? 0) + step;
    last.set(group, tag);
    setTag.run(tag, r.id);
  }
  const put = c.stmt('INSERT INTO queue_groups (queue, grp, last_tag) VALUES (?, ?, ?)');
  for (const [group, tag] of last) put.run(queue, group, tag);
  return rows.length;
}

export function bucketsGet(c: Conn, keys: readonly string[]): Map<string, Bucket> {
  const out = new Map<string, Bucket>();
  if (keys.length === 0) return out;
  const rows = c.stmt(bucketsGetSql).all(JSON.stringify(keys)) as Array<{
    key: string;
    tokens: number;
    at: number;
  }>;
  for (const r of rows) out.set(r.key, { tokens: r.tokens, at: r.at });
  return out;
}

export function bucketsPut(c: Conn, entries: ReadonlyArray<{ key: string; bucket: Bucket }>): void {
  const put = c.stmt(bucketPutSql);
  for (const e of entries) put.run(e.key, e.bucket.tokens, e.bucket.at);
}

export function runningCounts(c: Conn): RunningCount[] {
  return c.stmt(runningSql).all() as RunningCount[];
}

export function limitMaxes(c: Conn, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  if (names.length === 0) return out;
  const rows = c.stmt(limitMaxesSql).all(JSON.stringify(names)) as Array<{
    name: string;
    max: number;
  }>;
  for (const r of rows) out.set(r.name, r.max);
  return out;
}

export function limitPut(c: Conn, name: string, max: number | null, now: number): void {
  if (max === null) c.stmt('DELETE FROM limits WHERE name = ?').run(name);
  else c.stmt(limitPutSql).run(name, max, now);
}

export function limitList(c: Conn): Array<{ name: string; max: number }> {
  return c.stmt(limitListSql).all() as Array<{ name: string; max: number }>;
}

export function jobQueuedCandidates(
  c: Conn,
  needsIds: readonly number[],
  limit: number,
): QueuedCandidate[] {
  const { candidates } = mergedCandidates<{
    id: number;
    grp: string | null;
    rank: number;
    ahead: number;
    tag: number;
  }>(c.stmt(candidatesSql), new Set(needsIds), limit);
  return candidates.slice(0, limit).map((r) => ({ id: r.id, needsId: r.needsId, group: r.grp }));
}

export function queueSummary(c: Conn): QueueSummaryRow[] {
  return c.stmt(summarySql).all() as QueueSummaryRow[];
}

export function jobQueuedAhead(c: Conn, id: number, cap: number): number | null {
  const me = c.stmt(queuedSelfSql).get(id) as
    { needs_id: number; rank: number; ahead: number; tag: number } | undefined;
  if (me === undefined) return null;
  const row = c
    .stmt(aheadSql)
    .get(me.needs_id, me.rank, me.rank, me.ahead, me.ahead, me.tag, me.tag, id, cap) as {
    n: number;
  };
  return row.n;
}
