/**
 * Selecting jobs by a JobSelector: listing them (paged by id), walking their ids in chunks
 * (actions), counting them. One WHERE builder serves the three, so that they select alike.
 * Run on the read-only connection: committed state only.
 *
 * At most one state per statement: several are read one by one and merged, because
 * `state IN (...) ORDER BY id` would sort every matching row, while `state = ? ... ORDER BY id
 * LIMIT ?` walks jobs_state in order and stops. Statements are cached by their text: a shape
 * (which filters are present, which order) is prepared once, and shapes are few.
 */
import type { JobRecord, JobState } from '../../domain/job.js';
import { asciiLower, searchable, searchId, selectorStates } from '../selector.js';
import type { JobQuery, JobSelector } from '../store.js';
import type { Conn } from './connection.js';
import { jobFromRow, type JobRow } from './rows.js';

/** The conditions of a selector besides its states, and their parameters in order. */
interface Filter {
  where: string[];
  params: unknown[];
  /** The index the statement must use, when the planner would not choose it. */
  index: string | undefined;
}

function filterOf(s: JobSelector): Filter {
  const where: string[] = [];
  const params: unknown[] = [];
  let index: string | undefined;
  if (s.queue !== undefined) {
    where.push('queue = ?');
    params.push(s.queue);
  }
  if (s.type !== undefined) {
    where.push('type = ?');
    params.push(s.type);
  }
  if (s.worker !== undefined) {
    where.push('(worker_id = ? OR worker_name = ?)');
    params.push(s.worker, s.worker);
  }
  if (s.group !== undefined) {
    // The state as a literal, so that the failed queue's partial index applies; without
    // statistics the planner would walk every failed job in jobs_state instead. The group ''
    // is that of jobs that failed before groups existed (see failedGroups).
    index = 'jobs_failed_group';
    if (s.group === '') {
      where.push(`state = 'failed' AND error_group IS NULL`);
    } else {
      where.push(`state = 'failed' AND error_group = ?`);
      params.push(s.group);
    }
  }
  if (s.createdAfter !== undefined) {
    where.push('created_at >= ?');
    params.push(s.createdAfter);
  }
  if (s.createdBefore !== undefined) {
    where.push('created_at < ?');
    params.push(s.createdBefore);
  }
  // A job that has not ended has no end time, which no comparison matches.
  if (s.finishedAfter !== undefined) {
    where.push('finished_at >= ?');
    params.push(s.finishedAfter);
  }
  if (s.finishedBefore !== undefined) {
    where.push('finished_at < ?');
    params.push(s.finishedBefore);
  }
  if (s.search !== undefined) searchFilter(s.search, where, params);
  if (s.attribute !== undefined) {
    // json_each, not json_extract: a key is any text, and a JSON path cannot quote every one
    // (a key holding a double quote, for one).
    const { key, value } = s.attribute;
    if (value === undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(jobs.attributes) AS a WHERE a.key = ?)');
      params.push(key);
    } else {
      where.push(
        'EXISTS (SELECT 1 FROM json_each(jobs.attributes) AS a WHERE a.key = ? AND a.value = ?)',
      );
      params.push(key, value);
    }
  }
  return { where, params, index };
}

/**
 * The id, when the text is one, or the text in the type or the JSON text of the payload, the
 * meta or the error. instr, not LIKE: no character of the text is a wildcard. lower() folds
 * ASCII letters only, as asciiLower does the text.
 */
function searchFilter(text: string, where: string[], params: unknown[]): void {
  const terms: string[] = [];
  const id = searchId(text);
  if (id !== undefined) {
    terms.push('id = ?');
    params.push(id);
  }
  if (searchable(text)) {
    const lowered = asciiLower(text);
    for (const column of ['type', 'payload', 'meta', 'error']) {
      terms.push(`instr(lower(${column}), ?) > 0`);
      params.push(lowered);
    }
  }
  where.push(terms.length === 0 ? '0' : `(${terms.join(' OR ')})`);
}

/** A page of `columns` of the jobs in `state` (or any) that the filter matches, by id. */
function selectPage<T>(
  c: Conn,
  columns: string,
  f: Filter,
  state: JobState | undefined,
  order: 'asc' | 'desc',
  cursor: number | undefined,
  limit: number,
): T[] {
  const where = state === undefined ? [...f.where] : ['state = ?', ...f.where];
  const params = state === undefined ? [...f.params] : [state, ...f.params];
  const desc = order === 'desc';
  if (cursor !== undefined) {
    where.push(desc ? 'id < ?' : 'id > ?');
    params.push(cursor);
  }
  params.push(limit);
  const from = f.index === undefined ? 'jobs' : `jobs INDEXED BY ${f.index}`;
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
  const sql = `SELECT ${columns} FROM ${from}${filter} ORDER BY id ${desc ? 'DESC' : 'ASC'} LIMIT ?`;
  return c.stmt(sql).all(...params) as T[];
}

/** Up to `limit` matching rows in id order: per state, merged. */
function selectRows<T extends { id: number }>(
  c: Conn,
  columns: string,
  s: JobSelector,
  order: 'asc' | 'desc',
  cursor: number | undefined,
  limit: number,
): T[] {
  if (limit <= 0) return [];
  const states = selectorStates(s);
  const f = filterOf(s);
  // A group names the failed state in its own terms (see filterOf).
  if (states === undefined || s.group !== undefined) {
    if (states?.length === 0) return [];
    return selectPage<T>(c, columns, f, undefined, order, cursor, limit);
  }
  if (states.length === 1) return selectPage<T>(c, columns, f, states[0], order, cursor, limit);
  const rows = states.flatMap((state) => selectPage<T>(c, columns, f, state, order, cursor, limit));
  rows.sort(order === 'desc' ? (a, b) => b.id - a.id : (a, b) => a.id - b.id);
  return rows.slice(0, limit);
}

/** A page of jobs; an empty `states` list matches no job, as `IN ()` would. */
export function jobList(c: Conn, q: JobQuery): JobRecord[] {
  return selectRows<JobRow>(c, '*', q, q.order, q.cursor, Math.floor(q.limit)).map(jobFromRow);
}

/** Ids of the matching jobs after `afterId`, ascending: a chunk of an action's walk. */
export function jobSelectIds(
  c: Conn,
  selector: JobSelector,
  afterId: number,
  limit: number,
): number[] {
  const rows = selectRows<{ id: number }>(c, 'id', selector, 'asc', afterId, Math.floor(limit));
  return rows.map((r) => r.id);
}

/** How many jobs match: per state, summed (each a range of jobs_state, covering when plain). */
export function jobCount(c: Conn, selector: JobSelector): number {
  const states = selectorStates(selector);
  const f = filterOf(selector);
  const count = (state: JobState | undefined): number => {
    const where = state === undefined ? f.where : ['state = ?', ...f.where];
    const params = state === undefined ? f.params : [state, ...f.params];
    const from = f.index === undefined ? 'jobs' : `jobs INDEXED BY ${f.index}`;
    const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
    const row = c.stmt(`SELECT count(*) AS n FROM ${from}${filter}`).get(...params) as {
      n: number;
    };
    return row.n;
  };
  if (states === undefined || selector.group !== undefined) {
    return states?.length === 0 ? 0 : count(undefined);
  }
  return states.reduce((sum, state) => sum + count(state), 0);
}
