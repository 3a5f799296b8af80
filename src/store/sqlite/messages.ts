/**
 * A job's messages (src/broker/journal.ts): changes of state, progress and attribute changes in
 * `job_messages`, output in `job_logs`. Both take their seqs from one counter (the `sequences`
 * row `message`, migration 5), so that one job's messages of every kind are ordered by seq, and
 * a reader resumes after the last seq it saw. A batch takes its seqs with one statement; a
 * transaction that rolls back leaves a gap, never a repeat.
 */
import { messageFromRow, type MessageRow } from '../message-row.js';
import type { JobMessage, NewJobMessage } from '../store.js';
import type { Conn } from './connection.js';

const takeSql = `UPDATE sequences SET value = value + ? WHERE name = 'message' RETURNING value`;
const insertSql =
  'INSERT INTO job_messages (job_id, seq, attempt, at, kind, data) VALUES (?, ?, ?, ?, ?, ?)';

/**
 * A job's messages after `afterSeq`, both tables merged in seq order. Each side is limited
 * first, so that neither is read further than the page: both are ranges of their primary key
 * or index on (job_id, seq).
 */
const readSql = `
  SELECT seq, attempt, at, kind, data, NULL AS stream FROM (
    SELECT seq, attempt, at, kind, data FROM job_messages
    WHERE job_id = $id AND seq > $after ORDER BY seq LIMIT $limit)
  UNION ALL
  SELECT seq, attempt, at, 'log', data, stream FROM (
    SELECT seq, attempt, at, data, stream FROM job_logs
    WHERE job_id = $id AND seq > $after ORDER BY seq LIMIT $limit)
  ORDER BY seq LIMIT $limit`;

/** Takes `n` new seqs; returns the first (the others follow it). */
export function takeSeqs(c: Conn, n: number): number {
  const row = c.stmt(takeSql).get(n) as { value: number };
  return row.value - n + 1;
}

/** Appends messages; their jobs must exist (foreign key). Returns their seqs, in order. */
export function jobMessageAppend(c: Conn, messages: readonly NewJobMessage[]): number[] {
  if (messages.length === 0) return [];
  const first = takeSeqs(c, messages.length);
  const insert = c.stmt(insertSql);
  return messages.map((m, i) => {
    insert.run(m.jobId, first + i, m.attempt, m.at, m.kind, m.data);
    return first + i;
  });
}

export function jobMessages(c: Conn, jobId: number, afterSeq: number, limit: number): JobMessage[] {
  if (limit <= 0) return [];
  const rows = c
    .stmt(readSql)
    .all({ id: jobId, after: afterSeq, limit: Math.floor(limit) }) as MessageRow[];
  return rows.map((r) => messageFromRow(jobId, r));
}
