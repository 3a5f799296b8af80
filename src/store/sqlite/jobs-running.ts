/**
 * What a running attempt reports while it runs: progress, attributes (HTCondor's chirp) and
 * log lines. Progress and attributes apply only to the current attempt, so that a worker that
 * lost its job cannot scribble over the attempt that replaced it. They leave `updated_at` alone:
 * it tracks lifecycle changes, not chatter.
 */
import type { AttributeUpdate, NewLogEntry, ProgressUpdate } from '../store.js';
import { encodeText } from '../text.js';
import type { Conn } from './connection.js';

const progressSql = `UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running' AND attempt = ?`;

/**
 * json_patch with a one-key object as JSON text: any key is safe, unlike a JSON path built from
 * it, and the text keeps JSON's escapes (a value given to json_object as SQL text would lose
 * lone surrogates on its way through UTF-8).
 */
const attributeSql =
  `UPDATE jobs SET attributes = json_patch(attributes, ?) ` +
  `WHERE id = ? AND state = 'running' AND attempt = ?`;

const logSql = 'INSERT INTO job_logs (job_id, attempt, stream, at, data) VALUES (?, ?, ?, ?, ?)';

/** Replaces the progress of each current attempt named. */
export function jobProgressSet(c: Conn, updates: readonly ProgressUpdate[]): void {
  const set = c.stmt(progressSql);
  for (const u of updates) set.run(JSON.stringify(u.progress), u.id, u.attempt);
}

/** Sets one attribute per update, keeping the others. */
export function jobAttributeSet(c: Conn, updates: readonly AttributeUpdate[]): void {
  const set = c.stmt(attributeSql);
  // fromEntries, not an object literal: a key such as `__proto__` stays an ordinary key.
  for (const u of updates)
    set.run(JSON.stringify(Object.fromEntries([[u.key, u.value]])), u.id, u.attempt);
}

/** Appends log lines; their job must exist (foreign key). */
export function jobLogAppend(c: Conn, entries: readonly NewLogEntry[]): void {
  const insert = c.stmt(logSql);
  for (const e of entries) insert.run(e.jobId, e.attempt, e.stream, e.at, encodeText(e.data));
}
