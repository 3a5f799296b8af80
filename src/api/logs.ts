/**
 * Reading a job's output: pages bounded in entries and in bytes (so that no answer has to hold
 * a job's whole output), and the whole of what is kept as a stream of text, read a little at a
 * time, with a line where output was dropped.
 */
import type { JobRecord } from '../domain/job.js';
import { utf8Bytes } from '../domain/output.js';
import { droppedLine, LOG_PAGE_BYTES, type LogList } from '../protocol/api.js';
import type { LogEntry, Store } from '../store/store.js';
import { logsView } from './views.js';

/** Entries read from the store at a time (each holds at most a worker's log chunk). */
const READ_AHEAD = 64;

/** One page: at most `limit` entries and about LOG_PAGE_BYTES of output (one entry at least). */
export async function readLogPage(
  store: Store,
  job: JobRecord,
  after: number,
  limit: number,
): Promise<LogList> {
  const entries: LogEntry[] = [];
  let bytes = 0;
  let cursor = after;
  // Whether the page ended before the output did (or may have): then it names the next one.
  let full = false;
  for (;;) {
    const want = Math.min(READ_AHEAD, limit - entries.length);
    const batch = await store.jobLogs(job.id, cursor, want);
    let overflow = false;
    for (const entry of batch) {
      const size = utf8Bytes(entry.data);
      if (entries.length > 0 && bytes + size > LOG_PAGE_BYTES) {
        overflow = true;
        break;
      }
      entries.push(entry);
      bytes += size;
      cursor = entry.seq;
    }
    if (overflow || (batch.length === want && entries.length >= limit)) {
      full = true;
      break;
    }
    if (batch.length < want) break;
  }
  return logsView(entries, full, job);
}

/** All the output a job keeps, as text, read as it is consumed. */
export async function* logText(store: Store, job: JobRecord): AsyncGenerator<string> {
  const gap = job.outputDropped > 0 ? (job.outputGapAfter ?? 0) : null;
  let marked = gap === null;
  let cursor = 0;
  for (;;) {
    const batch = await store.jobLogs(job.id, cursor, READ_AHEAD);
    for (const entry of batch) {
      if (!marked && entry.seq > gap!) {
        marked = true;
        yield droppedLine(job.outputDropped);
      }
      yield entry.data;
      cursor = entry.seq;
    }
    if (batch.length < READ_AHEAD) break;
  }
  if (!marked) yield droppedLine(job.outputDropped);
}
