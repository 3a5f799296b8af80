/**
 * What a running attempt reports while it runs: progress, attributes (HTCondor's chirp) and
 * log lines. Progress and attributes apply only to the current attempt, so that a worker that
 * lost its job cannot scribble over the attempt that replaced it. They leave `updated_at` alone:
 * it tracks lifecycle changes, not chatter.
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
import type { Conn } from './connection.js';
import { takeSeqs } from './messages.js';

const progressSql = `UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running' AND attempt = ?`;

/**
 * json_patch with a one-key object as JSON text: any key is safe, unlike a JSON path built from
 * it, and the text keeps JSON's escapes (a value given to json_object as SQL text would lose
 * lone surrogates on its way through UTF-8).
 */
const attributeSql =
  `UPDATE jobs SET attributes = json_patch(attributes, ?) ` +
  `WHERE id = ? AND state = 'running' AND attempt = ?`;

const logSql =
  'INSERT INTO job_logs (seq, job_id, attempt, stream, at, data, bytes) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?)';
const logDeleteSql =
  'DELETE FROM job_logs WHERE job_id = ? AND seq IN (SELECT value FROM json_each(?))';
const droppedSql =
  'UPDATE jobs SET output_dropped = output_dropped + ?, ' +
  'output_gap_after = coalesce(output_gap_after, ?) WHERE id = ?';
const sizesSql = 'SELECT seq, bytes FROM job_logs WHERE job_id = ? ORDER BY seq';
const droppedOfSql = 'SELECT output_dropped FROM jobs WHERE id = ?';

/** Replaces the progress of each current attempt named. */
export function jobProgressSet(c: Conn, updates: readonly ProgressUpdate[]): Set<string> {
  const set = c.stmt(progressSql);
  const applied = new Set<string>();
  for (const u of updates)
    if (set.run(JSON.stringify(u.progress), u.id, u.attempt).changes > 0)
      applied.add(attemptKey(u));
  return applied;
}

/** Sets one attribute per update, keeping the others. */
export function jobAttributeSet(c: Conn, updates: readonly AttributeUpdate[]): Set<string> {
  const set = c.stmt(attributeSql);
  const applied = new Set<string>();
  // fromEntries, not an object literal: a key such as `__proto__` stays an ordinary key.
  for (const u of updates) {
    const patch = JSON.stringify(Object.fromEntries([[u.key, u.value]]));
    if (set.run(patch, u.id, u.attempt).changes > 0) applied.add(attemptKey(u));
  }
  return applied;
}

/**
 * Appends log lines; their job must exist (foreign key). Returns their seqs, taken from the
 * counter that a job's other messages take theirs from (./messages.ts).
 */
export function jobLogAppend(c: Conn, entries: readonly NewLogEntry[]): number[] {
  if (entries.length === 0) return [];
  const first = takeSeqs(c, entries.length);
  const insert = c.stmt(logSql);
  return entries.map((e, i) => {
    insert.run(
      first + i,
      e.jobId,
      e.attempt,
      e.stream,
      e.at,
      encodeText(e.data),
      utf8Bytes(e.data),
    );
    return first + i;
  });
}

export function jobLogDrop(c: Conn, drop: LogDrop): void {
  if (drop.seqs.length > 0) c.stmt(logDeleteSql).run(drop.jobId, JSON.stringify(drop.seqs));
  if (drop.dropped > 0) c.stmt(droppedSql).run(drop.dropped, drop.gapAfter, drop.jobId);
}

export function jobLogSizes(
  c: Conn,
  jobId: number,
): { pieces: Array<{ seq: number; bytes: number }>; dropped: number } {
  const pieces = c.stmt(sizesSql).all(jobId) as Array<{ seq: number; bytes: number }>;
  const row = c.stmt(droppedOfSql).get(jobId) as { output_dropped: number } | undefined;
  return { pieces, dropped: row?.output_dropped ?? 0 };
}
