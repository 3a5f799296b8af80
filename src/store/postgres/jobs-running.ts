/**
 * What a running attempt reports while it runs: progress, attributes (HTCondor's chirp) and
 * log lines. Progress and attributes apply only to the current attempt, so that a worker that
 * lost its job cannot scribble over the attempt that replaced it. They leave `updated_at` alone:
 * it tracks lifecycle changes, not chatter. Each call is one statement.
 */
import { utf8Bytes } from '../../domain/output.js';
import {
  attemptKey,
  type AttributeUpdate,
  type LogDrop,
  type NewLogEntry,
  type ProgressUpdate,
} from '../store.js';
import { encodeText } from '../text.js';
import type { Queryable } from './connection.js';
import { jsonb } from './rows.js';

const progressSql = `
  UPDATE jobs j SET progress = u.progress::json
  FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(id, attempt, progress)
  WHERE j.id = u.id AND j.state = 'running' AND j.attempt = u.attempt
  RETURNING j.id, j.attempt`;

/** `||` with an object replaces the keys it names and keeps the others. */
const attributeSql = `
  UPDATE jobs j SET attributes = j.attributes || u.patch::jsonb
  FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(id, attempt, patch)
  WHERE j.id = u.id AND j.state = 'running' AND j.attempt = u.attempt
  RETURNING j.id, j.attempt`;

/** `ORDER BY ord` gives the lines their sequence numbers in the order appended. */
const logSql = `
  INSERT INTO job_logs (job_id, attempt, stream, at, data, bytes)
  SELECT job_id, attempt, stream, at, data, bytes
  FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])
    WITH ORDINALITY AS l(job_id, attempt, stream, at, data, bytes, ord)
  ORDER BY ord
  RETURNING seq`;
const logDeleteSql = 'DELETE FROM job_logs WHERE job_id = $1 AND seq = ANY ($2::bigint[])';
const droppedSql = `
  UPDATE jobs SET output_dropped = output_dropped + $1,
    output_gap_after = coalesce(output_gap_after, $2) WHERE id = $3`;
const sizesSql = 'SELECT seq, bytes FROM job_logs WHERE job_id = $1 ORDER BY seq';
const droppedOfSql = 'SELECT output_dropped FROM jobs WHERE id = $1';

/** Replaces the progress of each current attempt named; of several for one, the last wins. */
export async function jobProgressSet(
  c: Queryable,
  updates: readonly ProgressUpdate[],
): Promise<ReadonlySet<string>> {
  if (updates.length === 0) return new Set();
  const last = new Map<string, ProgressUpdate>();
  for (const u of updates) last.set(attemptKey(u), u);
  const list = [...last.values()];
  const { rows } = await c.query<{ id: number; attempt: number }>(progressSql, [
    list.map((u) => u.id),
    list.map((u) => u.attempt),
    list.map((u) => JSON.stringify(u.progress)),
  ]);
  return new Set(rows.map(attemptKey));
}

/** Sets one attribute per update, keeping the others; later updates of a key win. */
export async function jobAttributeSet(
  c: Queryable,
  updates: readonly AttributeUpdate[],
): Promise<ReadonlySet<string>> {
  if (updates.length === 0) return new Set();
  const patches = new Map<string, { id: number; attempt: number; patch: Map<string, string> }>();
  for (const u of updates) {
    const key = attemptKey(u);
    let entry = patches.get(key);
    if (entry === undefined) {
      entry = { id: u.id, attempt: u.attempt, patch: new Map() };
      patches.set(key, entry);
    }
    entry.patch.set(u.key, u.value);
  }
  const list = [...patches.values()];
  const { rows } = await c.query<{ id: number; attempt: number }>(attributeSql, [
    list.map((p) => p.id),
    list.map((p) => p.attempt),
    // A Map, not an object literal: a key such as `__proto__` stays an ordinary key.
    list.map((p) => jsonb(Object.fromEntries(p.patch))),
  ]);
  return new Set(rows.map(attemptKey));
}

/** Appends log lines; their job must exist (foreign key). Returns their seqs, in order. */
export async function jobLogAppend(
  c: Queryable,
  entries: readonly NewLogEntry[],
): Promise<number[]> {
  if (entries.length === 0) return [];
  const { rows } = await c.query<{ seq: number }>(logSql, [
    entries.map((e) => e.jobId),
    entries.map((e) => e.attempt),
    entries.map((e) => e.stream),
    entries.map((e) => e.at),
    entries.map((e) => encodeText(e.data)),
    entries.map((e) => utf8Bytes(e.data)),
  ]);
  // Identity values follow the insertion order (ORDER BY ord); RETURNING need not.
  return rows.map((r) => r.seq).sort((a, b) => a - b);
}

export async function jobLogDrop(c: Queryable, drop: LogDrop): Promise<void> {
  if (drop.seqs.length > 0) await c.query(logDeleteSql, [drop.jobId, drop.seqs]);
  if (drop.dropped > 0) await c.query(droppedSql, [drop.dropped, drop.gapAfter, drop.jobId]);
}

export async function jobLogSizes(
  c: Queryable,
  jobId: number,
): Promise<{ pieces: Array<{ seq: number; bytes: number }>; dropped: number }> {
  const { rows } = await c.query<{ seq: number; bytes: number }>(sizesSql, [jobId]);
  const job = await c.query<{ output_dropped: number }>(droppedOfSql, [jobId]);
  return { pieces: rows, dropped: job.rows[0]?.output_dropped ?? 0 };
}
