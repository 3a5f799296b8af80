/**
 * Uniqueness keys (deduplication of submissions): which job holds each key, with its rule. The
 * broker takes a key, judges its holder, and either answers with the holder or gives the key
 * to the job it inserts, in one transaction; several nodes may submit with one key at once.
 *
 * Taking a key locks its row until the commit, so that concurrent takers of one key run one
 * after another, each seeing what the one before committed:
 *
 * 1. A new key is inserted for job 0 (none yet). ON CONFLICT DO NOTHING waits for a concurrent
 *    inserter of the same key to commit (then does nothing) or to roll back (then inserts).
 * 2. The key's row is locked. A taker blocked here gets, once the holder of the lock commits,
 *    the row as that one left it (READ COMMITTED follows the update).
 * 3. Its job is read in a statement of its own, begun after the lock was granted: it sees the
 *    job the previous taker inserted. Read in the locking statement, a join would see the jobs
 *    as they were when that statement began, before that job existed.
 *
 * Keys are escaped as other text the database could not hold exactly (src/store/text.ts).
 */
import type { JobState } from '../../domain/job.js';
import type { UniqueHolder } from '../store.js';
import { encodeText } from '../text.js';
import type { Queryable } from './connection.js';
import { jsonb, uniqueHolderFromRows, type HolderRow, type UniqueRow } from './rows.js';

/** Tries at taking keys that other transactions keep deleting between steps 1 and 2. */
const TAKE_TRIES = 5;

/** Takes the key (see the file comment); returns the job holding it, or null when none does. */
export async function uniqueTake(c: Queryable, key: string): Promise<UniqueHolder | null> {
  return (await uniqueTakeMany(c, [key])).get(key) ?? null;
}

/** Gives the key, taken in this transaction, to a job, with the rule it was submitted with. */
export async function uniqueSet(
  c: Queryable,
  key: string,
  jobId: number,
  rule: { forMs: number | null; while: JobState[] | null },
): Promise<void> {
  await uniqueSetMany(c, [{ key, jobId, rule }]);
}

const insertManySql =
  'INSERT INTO unique_keys (key, job_id) SELECT k, 0 FROM unnest($1::text[]) AS k ' +
  'ORDER BY k ON CONFLICT (key) DO NOTHING';
const lockManySql =
  'SELECT key, job_id, for_ms, while_states FROM unique_keys WHERE key = ANY ($1::text[]) ' +
  'ORDER BY key FOR UPDATE';
const holdersSql =
  'SELECT id, state, created_at, started_at, finished_at FROM jobs WHERE id = ANY ($1::bigint[])';
/** An upsert, as in SQLite: the row is there when the key was taken, as it must have been. */
const setManySql = `
  INSERT INTO unique_keys (key, job_id, for_ms, while_states)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::jsonb[])
  ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, for_ms = excluded.for_ms,
    while_states = excluded.while_states`;

/**
 * Takes many keys at once, as uniqueTake takes one, in three statements whatever their number:
 * in key order, so that two transactions taking overlapping keys lock them in the same order
 * and never deadlock. Returns each key's holder (null: none).
 */
export async function uniqueTakeMany(
  c: Queryable,
  keys: readonly string[],
): Promise<Map<string, UniqueHolder | null>> {
  const out = new Map<string, UniqueHolder | null>();
  let left = [...new Set(keys.map(encodeText))].sort();
  const rows = new Map<string, UniqueRow>();
  for (let i = 0; i < TAKE_TRIES && left.length > 0; i++) {
    await c.query(insertManySql, [left]);
    const locked = await c.query<UniqueRow & { key: string }>(lockManySql, [left]);
    for (const r of locked.rows) rows.set(r.key, r);
    // Missing when a key existed at step 1 and its holder was deleted since (jobDelete takes
    // its keys along): then it is new again, once more. 0: taken and never given to a job.
    left = left.filter((k) => !rows.has(k));
  }
  if (left.length > 0) throw new Error(`the uniqueness key ${left[0]} could not be taken`);
  const ids = [...rows.values()].map((r) => r.job_id).filter((id) => id !== 0);
  const jobs = new Map<number, HolderRow>();
  if (ids.length > 0) {
    const found = await c.query<HolderRow & { id: number }>(holdersSql, [ids]);
    for (const j of found.rows) jobs.set(j.id, j);
  }
  for (const key of keys) {
    const row = rows.get(encodeText(key))!;
    const job = row.job_id === 0 ? undefined : jobs.get(row.job_id);
    out.set(key, job === undefined ? null : uniqueHolderFromRows(row, job));
  }
  return out;
}

/** Gives many keys (taken in this transaction) to their jobs, in one statement. */
export async function uniqueSetMany(
  c: Queryable,
  entries: ReadonlyArray<{
    key: string;
    jobId: number;
    rule: { forMs: number | null; while: JobState[] | null };
  }>,
): Promise<void> {
  if (entries.length === 0) return;
  await c.query(setManySql, [
    entries.map((e) => encodeText(e.key)),
    entries.map((e) => e.jobId),
    entries.map((e) => e.rule.forMs),
    entries.map((e) => (e.rule.while === null ? null : jsonb(e.rule.while))),
  ]);
}
