/**
 * A job's message as both stores read it back (./sqlite/messages.ts, ./postgres/messages.ts):
 * one row of job_messages or of job_logs, merged in seq order.
 */
import type { JobMessage } from './store.js';
import { decodeText } from './text.js';

export interface MessageRow {
  seq: number;
  attempt: number | null;
  at: number;
  kind: JobMessage['kind'];
  data: string;
  stream: 'stdout' | 'stderr' | null;
}

/** The message of a row: output's text decoded, other kinds' JSON text as stored. */
export function messageFromRow(jobId: number, r: MessageRow): JobMessage {
  return {
    seq: r.seq,
    jobId,
    attempt: r.attempt,
    at: r.at,
    kind: r.kind,
    data: r.kind === 'log' ? decodeText(r.data) : r.data,
    ...(r.stream !== null ? { stream: r.stream } : {}),
  };
}
