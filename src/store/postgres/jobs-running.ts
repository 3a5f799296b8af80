/**
 * What a running attempt reports while it runs: progress, attributes (HTCondor's chirp) and
 * log lines. Progress and attributes apply only to the current attempt, so that a worker that
 * lost its job cannot scribble over the attempt that replaced it. They leave `updated_at` alone:
 * it tracks lifecycle changes, not chatter. Each call is one statement.
 */
import type { AttributeUpdate, NewLogEntry, ProgressUpdate } from '../store.js';
import { encodeText } from '../text.js';
import type { Queryable } from './connection.js';
import { jsonb } from './rows.js';

const progressSql = `
  UPDATE jobs j SET progress = u.progress::json
  FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(id, attempt, progress)
  WHERE j.id = u.id AND j.state = 'running' AND j.attempt = u.attempt`;

/** `||` with an object replaces the keys it names and keeps the others. */
const attributeSql = `
  UPDATE jobs j SET attributes = j.attributes || u.patch::jsonb
  FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(id, attempt, patch)
  WHERE j.id = u.id AND j.state = 'running' AND j.attempt = u.attempt`;

/** `ORDER BY ord` gives the lines their sequence numbers in the order appended. */
const logSql = `
  INSERT INTO job_logs (job_id, attempt, stream, at, data)
  SELECT job_id, attempt, stream, at, data
  FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::bigint[], $5::text[])
    WITH ORDINALITY AS l(job_id, attempt, stream, at, data, ord)
  ORDER BY ord`;

/** The key of one attempt, for folding several updates of it into one. */
const attemptKey = (u: { id: number; attempt: number }): string => `${u.id}:${u.attempt}`;

/** Replaces the progress of each current attempt named; of several for one, the last wins. */
export async function jobProgressSet(
  c: Queryable,
  updates: readonly ProgressUpdate[],
): Promise<void> {
  if (updates.length === 0) return;
  const last = new Map<string, ProgressUpdate>();
  for (const u of updates) last.set(attemptKey(u), u);
  const list = [...last.values()];
  await c.query(progressSql, [
    list.map((u) => u.id),
    list.map((u) => u.attempt),
    list.map((u) => JSON.stringify(u.progress)),
  ]);
}

/** Sets one attribute per update, keeping the others; later updates of a key win. */
export async function jobAttributeSet(
  c: Queryable,
  updates: readonly AttributeUpdate[],
): Promise<void> {
  if (updates.length === 0) return;
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
  await c.query(attributeSql, [
    list.map((p) => p.id),
    list.map((p) => p.attempt),
    // A Map, not an object literal: a key such as `__proto__` stays an ordinary key.
    list.map((p) => jsonb(Object.fromEntries(p.patch))),
  ]);
}

/** Appends log lines; their job must exist (foreign key). */
export async function jobLogAppend(c: Queryable, entries: readonly NewLogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await c.query(logSql, [
    entries.map((e) => e.jobId),
    entries.map((e) => e.attempt),
    entries.map((e) => e.stream),
    entries.map((e) => e.at),
    entries.map((e) => encodeText(e.data)),
  ]);
}
