/**
 * Uniqueness keys (deduplication of submissions): which job holds each key, with its rule. The
 * broker takes a key, judges its holder, and either answers with the
 * holder or gives the key to the job it inserts, in one transaction. One connection writes, so
 * nothing can take the key in between: taking it is reading it. Keys are escaped as other text
 * the database could not hold exactly (src/store/text.ts).
 */
import type { JobState } from '../../domain/job.js';
import type { UniqueHolder } from '../store.js';
import { encodeText } from '../text.js';
import type { Conn } from './connection.js';
import { uniqueHolderFromRow, type UniqueRow } from './rows.js';

/** A key whose job was deleted joins no job: it is free. */
const takeSql =
  `SELECT u.job_id, u.for_ms, u.while_states, j.state, j.created_at, j.started_at, ` +
  `j.finished_at FROM unique_keys u LEFT JOIN jobs j ON j.id = u.job_id WHERE u.key = ?`;

const setSql =
  `INSERT INTO unique_keys (key, job_id, for_ms, while_states) VALUES (?, ?, ?, ?) ` +
  `ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, for_ms = excluded.for_ms, ` +
  `while_states = excluded.while_states`;

/** The job holding the key, or null when none does. */
export function uniqueTake(c: Conn, key: string): UniqueHolder | null {
  const row = c.stmt(takeSql).get(encodeText(key)) as UniqueRow | undefined;
  return row === undefined ? null : uniqueHolderFromRow(row);
}

/** Gives the key to a job, with the rule it was submitted with. */
export function uniqueSet(
  c: Conn,
  key: string,
  jobId: number,
  rule: { forMs: number | null; while: JobState[] | null },
): void {
  c.stmt(setSql).run(
    encodeText(key),
    jobId,
    rule.forMs,
    rule.while === null ? null : JSON.stringify(rule.while),
  );
}

/** Each key's holder (null: none), as uniqueTake reads one. */
export function uniqueTakeMany(c: Conn, keys: readonly string[]): Map<string, UniqueHolder | null> {
  const out = new Map<string, UniqueHolder | null>();
  for (const key of keys) out.set(key, uniqueTake(c, key));
  return out;
}

/** Gives keys to their jobs, as uniqueSet gives one. */
export function uniqueSetMany(
  c: Conn,
  entries: ReadonlyArray<{
    key: string;
    jobId: number;
    rule: { forMs: number | null; while: JobState[] | null };
  }>,
): void {
  for (const e of entries) uniqueSet(c, e.key, e.jobId, e.rule);
}
