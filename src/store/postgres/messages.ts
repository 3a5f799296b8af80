/**
 * A job's messages (src/broker/journal.ts): changes of state, progress and attribute changes in
 * `job_messages`, output in `job_logs`. Both take their seqs from job_logs' identity sequence
 * (migration 4), so that one job's messages of every kind are ordered by seq, and a reader
 * resumes after the last seq it saw. One statement appends a batch.
 */
import { messageFromRow, type MessageRow } from '../message-row.js';
import type { JobMessage, NewJobMessage } from '../store.js';
import type { Queryable } from './connection.js';

/** `ORDER BY ord` gives the messages their seqs in the order appended. */
const insertSql = `
  INSERT INTO job_messages (job_id, attempt, at, kind, data)
  SELECT job_id, attempt, at, kind, data
  FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::text[], $5::text[])
    WITH ORDINALITY AS m(job_id, attempt, at, kind, data, ord)
  ORDER BY ord
  RETURNING seq`;

/** Both tables merged in seq order; each side limited first, a range of its (job_id, seq) key. */
const readSql = `
  (SELECT seq, attempt, at, kind, data, NULL AS stream FROM job_messages
   WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
  UNION ALL
  (SELECT seq, attempt, at, 'log', data, stream FROM job_logs
   WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
  ORDER BY seq LIMIT $3`;

/** Appends messages; their jobs must exist (foreign key). Returns their seqs, in order. */
export async function jobMessageAppend(
  c: Queryable,
  messages: readonly NewJobMessage[],
): Promise<number[]> {
  if (messages.length === 0) return [];
  const { rows } = await c.query<{ seq: number }>(insertSql, [
    messages.map((m) => m.jobId),
    messages.map((m) => m.attempt),
    messages.map((m) => m.at),
    messages.map((m) => m.kind),
    messages.map((m) => m.data),
  ]);
  // Identity values follow the insertion order (ORDER BY ord); RETURNING need not.
  return rows.map((r) => r.seq).sort((a, b) => a - b);
}

export async function jobMessages(
  c: Queryable,
  jobId: number,
  afterSeq: number,
  limit: number,
): Promise<JobMessage[]> {
  if (limit <= 0) return [];
  const { rows } = await c.query<MessageRow>(readSql, [jobId, afterSeq, Math.floor(limit)]);
  return rows.map((r) => messageFromRow(jobId, r));
}
