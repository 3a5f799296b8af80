/**
 * Queues as objects (src/domain/queues.ts) on PostgreSQL: as the SQLite store's queues.ts, for
 * several nodes at once. Gated dispatch takes advisory locks (gateLock) so that, of nodes
 * dispatching jobs under one rate, concurrency or named limit, one at a time reads what runs
 * and claims, and the next reads after its commit.
 */
import { settingsFromJson, type Discipline, type QueueRecord } from '../../domain/queues.js';
import type { Bucket } from '../../domain/token-bucket.js';
import type { FairTagRequest, QueuedCandidate, QueueSummaryRow, RunningCount } from '../store.js';
import type { Queryable } from './connection.js';

const queuePutSql = `
  INSERT INTO queues (name, settings, paused, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, paused = excluded.paused,
    updated_at = excluded.updated_at`;
const queueListSql =
  'SELECT name, settings, paused, created_at, updated_at FROM queues ORDER BY name';

/** The smallest tag at the heads of the queue's needs: where its virtual time is. */
const headTagSql = `
  SELECT min(h.tag) AS v FROM unnest($1::bigint[]) AS n(needs_id)
  CROSS JOIN LATERAL (
    SELECT j.tag FROM jobs j WHERE j.needs_id = n.needs_id AND j.state = 'queued'
    ORDER BY j.rank DESC, j.ahead DESC, j.tag, j.id LIMIT 1
  ) h`;
const lastTagSql = 'SELECT max(last_tag) AS v FROM queue_groups WHERE queue = $1';
/** Groups in name order, so that two nodes advancing the same groups never deadlock. */
const advanceSql = `
  INSERT INTO queue_groups AS g (queue, grp, last_tag)
  SELECT $1, t.grp, $2 + t.span FROM unnest($3::text[], $4::float8[]) AS t(grp, span)
  ORDER BY t.grp
  ON CONFLICT (queue, grp) DO UPDATE
    SET last_tag = greatest(g.last_tag, $2) + (excluded.last_tag - $2)
  RETURNING g.grp, g.last_tag`;

const waitingStates = `('queued', 'scheduled', 'held', 'waiting')`;
const reorderPlainSql = `
  UPDATE jobs SET rank = CASE WHEN $1 = 'fifo' THEN 0 ELSE priority END, tag = 0
  WHERE queue = $2 AND state IN ${waitingStates}`;
const reorderFairListSql = `
  SELECT id, grp FROM jobs WHERE queue = $1 AND state IN ${waitingStates}
  ORDER BY rank DESC, ahead DESC, tag, id FOR UPDATE`;
const setTagsSql = `
  UPDATE jobs j SET rank = j.priority, tag = t.tag
  FROM unnest($1::bigint[], $2::float8[]) AS t(id, tag) WHERE j.id = t.id`;

const bucketsGetSql = 'SELECT key, tokens, at FROM buckets WHERE key = ANY ($1::text[])';
const bucketsPutSql = `
  INSERT INTO buckets (key, tokens, at)
  SELECT * FROM unnest($1::text[], $2::float8[], $3::bigint[])
  ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at`;

const runningSql = `
  SELECT needs_id AS "needsId", queue, count(*)::integer AS count FROM jobs
  WHERE state = 'running' GROUP BY needs_id, queue`;

const limitMaxesSql = 'SELECT name, max FROM limits WHERE name = ANY ($1::text[])';
const limitPutSql = `
  INSERT INTO limits (name, max, updated_at) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET max = excluded.max, updated_at = excluded.updated_at`;
const limitListSql = 'SELECT name, max FROM limits ORDER BY name';

const candidatesSql = `
  SELECT c.id, c.needs_id AS "needsId", c.grp AS "group" FROM unnest($1::bigint[]) AS n(needs_id)
  CROSS JOIN LATERAL (
    SELECT j.id, j.needs_id, j.grp, j.rank, j.ahead, j.tag FROM jobs j
    WHERE j.state = 'queued' AND j.needs_id = n.needs_id
    ORDER BY j.rank DESC, j.ahead DESC, j.tag, j.id LIMIT $2
  ) c
  ORDER BY c.rank DESC, c.ahead DESC, c.tag, c.id LIMIT $2`;

const summarySql = `
  SELECT queue, state, count(*)::integer AS count,
    min(run_at) FILTER (WHERE state = 'queued') AS "oldestRunAt"
  FROM jobs GROUP BY queue, state`;

const aheadSql = `
  SELECT (SELECT count(*)::integer FROM (
    SELECT 1 FROM jobs j
    WHERE j.needs_id = me.needs_id AND j.state = 'queued'
      AND (j.rank > me.rank OR (j.rank = me.rank AND (j.ahead > me.ahead OR
        (j.ahead = me.ahead AND (j.tag < me.tag OR (j.tag = me.tag AND j.id < me.id))))))
    LIMIT $2) a) AS n
  FROM jobs me WHERE me.id = $1 AND me.state = 'queued'`;

interface QueueRow {
  name: string;
  settings: string;
  paused: boolean;
  created_at: number;
  updated_at: number;
}

export async function queuePut(c: Queryable, q: QueueRecord): Promise<void> {
  await c.query(queuePutSql, [
    q.name,
    JSON.stringify(q.settings),
    q.paused,
    q.createdAt,
    q.updatedAt,
  ]);
}

export async function queueDelete(c: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await c.query('DELETE FROM queues WHERE name = $1', [name]);
  await c.query('DELETE FROM queue_groups WHERE queue = $1', [name]);
  await c.query('DELETE FROM buckets WHERE key = $1 OR starts_with(key, $2)', [
    `queue:${name}`,
    `group:${name}:`,
  ]);
  return (rowCount ?? 0) > 0;
}

function queueFromRow(r: QueueRow): QueueRecord {
  return {
    name: r.name,
    settings: settingsFromJson(r.settings),
    paused: r.paused,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function queueList(c: Queryable): Promise<QueueRecord[]> {
  return (await c.query<QueueRow>(queueListSql)).rows.map(queueFromRow);
}

/**
 * A queue's row, locked until the commit (with the queue's gate lock taken first, a queue
 * without a row yet is serialised too): a change of settings reads what it replaces.
 */
export async function queueGetForUpdate(
  c: Queryable,
  namespace: string,
  name: string,
): Promise<QueueRecord | undefined> {
  await gateLock(c, namespace, [`queue:${name}`]);
  const { rows } = await c.query<QueueRow>(
    'SELECT name, settings, paused, created_at, updated_at FROM queues WHERE name = $1 FOR UPDATE',
    [name],
  );
  return rows[0] === undefined ? undefined : queueFromRow(rows[0]);
}

export async function fairTags(c: Queryable, req: FairTagRequest): Promise<number[]> {
  if (req.groups.length === 0) return [];
  let v = (await c.query<{ v: number | null }>(headTagSql, [req.needsIds])).rows[0]?.v ?? null;
  if (v === null)
    v = (await c.query<{ v: number | null }>(lastTagSql, [req.queue])).rows[0]?.v ?? 0;
  const { rows } = await c.query<{ grp: string; last_tag: number }>(advanceSql, [
    req.queue,
    v,
    req.groups.map((g) => g.group),
    req.groups.map((g) => g.count * g.step),
  ]);
  const last = new Map(rows.map((r) => [r.grp, r.last_tag]));
  return req.groups.map(({ group, count, step }) => {
    const tag = last.get(group);
    if (tag === undefined) throw new Error(`fair queueing returned no tag for group ${group}`);
    return tag - count * step + step;
  });
}

export async function queueReorder(
  c: Queryable,
  queue: string,
  discipline: Discipline,
  weights: Record<string, number>,
): Promise<number> {
  if (discipline !== 'fair') {
    return (await c.query(reorderPlainSql, [discipline, queue])).rowCount ?? 0;
  }
  const { rows } = await c.query<{ id: number; grp: string | null }>(reorderFairListSql, [queue]);
  await c.query('DELETE FROM queue_groups WHERE queue = $1', [queue]);
  const last = new Map<string, number>();
  const ids: number[] = [];
  const tags: number[] = [];
  for (const r of rows) {
    const group = r.grp ?? '';
    const step = 1 / (Object.hasOwn(weights, group) ? weights[group]! : 1);
    const tag = (last.get(group) ?? 0) + step;
    last.set(group, tag);
    ids.push(r.id);
    tags.push(tag);
  }
  for (let i = 0; i < ids.length; i += 10_000) {
    await c.query(setTagsSql, [ids.slice(i, i + 10_000), tags.slice(i, i + 10_000)]);
  }
  if (last.size > 0) {
    await c.query(
      `INSERT INTO queue_groups (queue, grp, last_tag)
       SELECT $1, * FROM unnest($2::text[], $3::float8[])`,
      [queue, [...last.keys()], [...last.values()]],
    );
  }
  return rows.length;
}

/** Keys are taken one by one in sorted order: two nodes never wait for each other in a circle. */
export async function gateLock(
  c: Queryable,
  namespace: string,
  keys: readonly string[],
): Promise<void> {
  for (const key of [...new Set(keys)].sort()) {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `${namespace}:gate:${key}`,
    ]);
  }
}

export async function bucketsGet(
  c: Queryable,
  keys: readonly string[],
): Promise<Map<string, Bucket>> {
  const out = new Map<string, Bucket>();
  if (keys.length === 0) return out;
  const { rows } = await c.query<{ key: string; tokens: number; at: number }>(bucketsGetSql, [
    keys,
  ]);
  for (const r of rows) out.set(r.key, { tokens: r.tokens, at: r.at });
  return out;
}

export async function bucketsPut(
  c: Queryable,
  entries: ReadonlyArray<{ key: string; bucket: Bucket }>,
): Promise<void> {
  if (entries.length === 0) return;
  await c.query(bucketsPutSql, [
    entries.map((e) => e.key),
    entries.map((e) => e.bucket.tokens),
    entries.map((e) => e.bucket.at),
  ]);
}

export async function runningCounts(c: Queryable): Promise<RunningCount[]> {
  return (await c.query<RunningCount>(runningSql)).rows;
}

export async function limitMaxes(
  c: Queryable,
  names: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (names.length === 0) return out;
  const { rows } = await c.query<{ name: string; max: number }>(limitMaxesSql, [names]);
  for (const r of rows) out.set(r.name, r.max);
  return out;
}

export async function limitPut(
  c: Queryable,
  name: string,
  max: number | null,
  now: number,
): Promise<void> {
  if (max === null) await c.query('DELETE FROM limits WHERE name = $1', [name]);
  else await c.query(limitPutSql, [name, max, now]);
}

export async function limitList(c: Queryable): Promise<Array<{ name: string; max: number }>> {
  return (await c.query<{ name: string; max: number }>(limitListSql)).rows;
}

export async function jobQueuedCandidates(
  c: Queryable,
  needsIds: readonly number[],
  limit: number,
): Promise<QueuedCandidate[]> {
  if (needsIds.length === 0 || limit <= 0) return [];
  return (await c.query<QueuedCandidate>(candidatesSql, [[...new Set(needsIds)], limit])).rows;
}

export async function queueSummary(c: Queryable): Promise<QueueSummaryRow[]> {
  return (await c.query<QueueSummaryRow>(summarySql)).rows;
}

export async function jobQueuedAhead(
  c: Queryable,
  id: number,
  cap: number,
): Promise<number | null> {
  const { rows } = await c.query<{ n: number }>(aheadSql, [id, cap]);
  return rows[0]?.n ?? null;
}
