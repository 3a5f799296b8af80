/**
 * Selecting jobs by a JobSelector: listing them (paged by id), walking their ids in chunks
 * (actions), counting them. One WHERE builder serves the three, so that they select alike.
 * Run on the pool, outside any write: committed state only.
 */
import type { JobRecord } from '../../domain/job.js';
import { searchable, searchId, selectorStates } from '../selector.js';
import type { JobQuery, JobSelector } from '../store.js';
import { encodeText } from '../text.js';
import type { Queryable } from './connection.js';
import { jobFromRow, type JobRow } from './rows.js';

/** The WHERE clause of a selector (empty for none), its parameters pushed onto `params`. */
function whereOf(s: JobSelector, params: unknown[]): string {
  const where: string[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  // A group names the failed state in its own terms (below).
  const states = selectorStates(s);
  if (states !== undefined && s.group === undefined)
    where.push(`state = ANY(${p(states)}::text[])`);
  if (s.queue !== undefined) where.push(`queue = ${p(s.queue)}`);
  if (s.type !== undefined) where.push(`type = ${p(s.type)}`);
  if (s.worker !== undefined) {
    const w = p(s.worker);
    where.push(`(worker_id = ${w} OR worker_name = ${w})`);
  }
  if (s.group !== undefined) {
    // The state as a literal, so that the planner can prove the failed queue's partial index
    // applies. The group '' is that of jobs that failed before groups existed.
    where.push(
      s.group === ''
        ? `state = 'failed' AND error_group IS NULL`
        : `state = 'failed' AND error_group = ${p(s.group)}`,
    );
  }
  if (s.createdAfter !== undefined) where.push(`created_at >= ${p(s.createdAfter)}`);
  if (s.createdBefore !== undefined) where.push(`created_at < ${p(s.createdBefore)}`);
  // A job that has not ended has no end time, which no comparison matches.
  if (s.finishedAfter !== undefined) where.push(`finished_at >= ${p(s.finishedAfter)}`);
  if (s.finishedBefore !== undefined) where.push(`finished_at < ${p(s.finishedBefore)}`);
  if (s.search !== undefined) {
    const terms: string[] = [];
    const id = searchId(s.search);
    if (id !== undefined) terms.push(`id = ${p(id)}`);
    if (searchable(s.search)) {
      // Over the JSON text as stored (json keeps it as written). ILIKE ignores ASCII case, and
      // also the case of other letters where the database's locale knows it: a leaky spot,
      // admitted (SQLite's store folds ASCII only).
      const pattern = p(`%${s.search.replace(/[\\%_]/g, '\\$&')}%`);
      for (const column of ['type', 'payload::text', 'meta::text', 'error::text']) {
        terms.push(`${column} ILIKE ${pattern}`);
      }
    }
    where.push(terms.length === 0 ? 'false' : `(${terms.join(' OR ')})`);
  }
  if (s.attribute !== undefined) {
    // jsonb strings are escaped as stored (src/store/text.ts): the key and value are too.
    const { key, value } = s.attribute;
    where.push(
      value === undefined
        ? `attributes ? ${p(encodeText(key))}`
        : `attributes ->> ${p(encodeText(key))} = ${p(encodeText(value))}`,
    );
  }
  return where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
}

/** Whether the selector can match no job whatever is stored (an empty `states`). */
function matchesNone(s: JobSelector): boolean {
  return selectorStates(s)?.length === 0;
}

/** A page of jobs; an empty `states` list matches no job. */
export async function jobList(c: Queryable, q: JobQuery): Promise<JobRecord[]> {
  const limit = Math.floor(q.limit);
  if (limit <= 0 || matchesNone(q)) return [];
  const params: unknown[] = [];
  let where = whereOf(q, params);
  const desc = q.order === 'desc';
  if (q.cursor !== undefined) {
    params.push(q.cursor);
    where += `${where === '' ? ' WHERE' : ' AND'} id ${desc ? '<' : '>'} $${params.length}`;
  }
  params.push(limit);
  const sql = `SELECT * FROM jobs${where} ORDER BY id ${desc ? 'DESC' : 'ASC'} LIMIT $${params.length}`;
  const { rows } = await c.query<JobRow>(sql, params);
  return rows.map(jobFromRow);
}

/** Ids of the matching jobs after `afterId`, ascending: a chunk of an action's walk. */
export async function jobSelectIds(
  c: Queryable,
  selector: JobSelector,
  afterId: number,
  limit: number,
): Promise<number[]> {
  if (limit <= 0 || matchesNone(selector)) return [];
  const params: unknown[] = [];
  const where = whereOf(selector, params);
  params.push(afterId, Math.floor(limit));
  const sql =
    `SELECT id FROM jobs${where}${where === '' ? ' WHERE' : ' AND'} id > $${params.length - 1} ` +
    `ORDER BY id LIMIT $${params.length}`;
  const { rows } = await c.query<{ id: number }>(sql, params);
  return rows.map((r) => r.id);
}

/** How many jobs match. */
export async function jobCount(c: Queryable, selector: JobSelector): Promise<number> {
  if (matchesNone(selector)) return 0;
  const params: unknown[] = [];
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*) AS n FROM jobs${whereOf(selector, params)}`,
    params,
  );
  return rows[0]?.n ?? 0;
}
