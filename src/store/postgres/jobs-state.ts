/**
 * Changes of state, as the domain plans them (src/domain/transitions.ts): each applied only if
 * its job is still as the plan found it. One statement applies many: the changes travel as
 * parallel arrays, and the answer lists the positions (`ord`) that applied.
 */
import { isTerminal, type JobOptions, type JobRecord } from '../../domain/job.js';
import { stateColumns, stateRowOf, type StateColumns } from '../state-row.js';
import type { JobReplan, JobStateRow, StateChange } from '../store.js';
import type { Queryable } from './connection.js';
import { jobFromRow, jsonb, jsonOrNull, type JobRow } from './rows.js';

/**
 * A field a change leaves undefined keeps its value: `coalesce` for those that are never NULL,
 * a flag for result and error, which may be set to NULL. The lease is checked only when the
 * change names one.
 */
const changeSql = `
  UPDATE jobs j SET state = c.to_state, run_at = coalesce(c.run_at, j.run_at),
    ahead = coalesce(c.ahead, j.ahead),
    result = CASE WHEN c.set_result THEN c.result::json ELSE j.result END,
    error = CASE WHEN c.set_error THEN c.error::json ELSE j.error END,
    request_failures = coalesce(c.request_failures, j.request_failures),
    finished_at = c.finished_at, updated_at = c.now,
    attempts = CASE WHEN c.record IS NULL THEN j.attempts
      ELSE j.attempts || jsonb_build_array(c.record::jsonb) END,
    hold = CASE WHEN c.set_hold THEN c.hold::jsonb ELSE j.hold END,
    uncounted = coalesce(c.uncounted, j.uncounted),
    error_group = CASE WHEN c.set_error_group THEN c.error_group ELSE j.error_group END,
    attributes = coalesce(c.attributes::jsonb, j.attributes)
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::boolean[],
    $7::text[], $8::boolean[], $9::text[], $10::integer[], $11::bigint[], $12::bigint[],
    $13::text[], $14::integer[], $15::text[], $16::text[], $17::boolean[], $18::text[],
    $19::integer[], $20::boolean[], $21::text[], $22::text[])
    WITH ORDINALITY AS c(id, from_state, to_state, run_at, ahead, set_result, result, set_error,
      error, request_failures, finished_at, now, record, attempt, worker_id, node_id, set_hold,
      hold, uncounted, set_error_group, error_group, attributes, ord)
  WHERE j.id = c.id AND j.state = c.from_state
    AND (c.attempt IS NULL
      OR (j.attempt = c.attempt AND j.worker_id = c.worker_id AND j.node_id = c.node_id))
  RETURNING c.ord`;

/** Never a job that runs or has ended: those have no place in a queue to change. */
const replanSql = `
  UPDATE jobs j SET priority = coalesce(c.priority, j.priority),
    queue = coalesce(c.queue, j.queue), needs_id = coalesce(c.needs_id, j.needs_id),
    rank = coalesce(c.rank, c.priority, j.rank), tag = coalesce(c.tag, j.tag), updated_at = c.now
  FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[], $6::bigint[],
    $7::integer[], $8::float8[])
    WITH ORDINALITY AS c(id, from_state, priority, queue, needs_id, now, rank, tag, ord)
  WHERE j.id = c.id AND j.state = c.from_state
    AND j.state NOT IN ('running', 'succeeded', 'failed', 'canceled')
  RETURNING c.ord`;

const lockSql = 'SELECT * FROM jobs WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE';

/**
 * Splits changes into rounds in which each job appears at most once, keeping their order: one
 * UPDATE cannot apply two changes to one row, but rounds run one after another behave as if each
 * change ran alone, in order (a second end of the same attempt finds it no longer running).
 */
function rounds<C extends { id: number }>(
  changes: readonly C[],
): Array<Array<{ change: C; index: number }>> {
  const seen = new Map<number, number>();
  const result: Array<Array<{ change: C; index: number }>> = [];
  changes.forEach((change, index) => {
    const round = seen.get(change.id) ?? 0;
    seen.set(change.id, round + 1);
    (result[round] ??= []).push({ change, index });
  });
  return result;
}

/** Applies one round's changes in one statement; marks the ones that applied in `applied`. */
async function applyRound(
  c: Queryable,
  round: ReadonlyArray<{ change: StateChange; index: number }>,
  applied: boolean[],
): Promise<void> {
  const list = round.map((r) => r.change);
  const { rows } = await c.query<{ ord: number }>(changeSql, [
    list.map((s) => s.id),
    list.map((s) => s.from),
    list.map((s) => s.to),
    list.map((s) => s.runAt ?? null),
    // Every way into the queue says where: at the front, or in its place by age.
    list.map((s) => (s.to === 'queued' ? s.front === true : null)),
    list.map((s) => s.result !== undefined),
    list.map((s) => (s.result === undefined ? null : jsonOrNull(s.result))),
    list.map((s) => s.error !== undefined),
    // A cleared error is NULL, not JSON null, which a search for "null" would find.
    list.map((s) => (s.error == null ? null : jsonOrNull(s.error))),
    list.map((s) => s.requestFailures ?? null),
    list.map((s) => (isTerminal(s.to) ? s.now : null)),
    list.map((s) => s.now),
    list.map((s) => (s.record === undefined ? null : jsonb(s.record))),
    list.map((s) => s.lease?.attempt ?? null),
    list.map((s) => s.lease?.workerId ?? null),
    list.map((s) => s.lease?.nodeId ?? null),
    // Exactly the held jobs have a hold (a CHECK says so): one leaving `held` loses it whether
    // or not its plan says so (a cancellation names none).
    list.map((s) => s.hold !== undefined || s.to !== 'held'),
    list.map((s) => (s.hold == null ? null : jsonb(s.hold))),
    list.map((s) => s.uncounted ?? null),
    list.map((s) => s.errorGroup !== undefined),
    list.map((s) => s.errorGroup ?? null),
    list.map((s) => (s.attributes === undefined ? null : jsonb(s.attributes))),
  ]);
  for (const { ord } of rows) {
    const entry = round[ord - 1];
    if (entry !== undefined) applied[entry.index] = true;
  }
}

/** Applies changes in order; the answers say which found their job as planned. */
export async function jobSetStateIfMany(
  c: Queryable,
  changes: readonly StateChange[],
): Promise<boolean[]> {
  const applied = changes.map(() => false);
  for (const round of rounds(changes)) await applyRound(c, round, applied);
  return applied;
}

const statesSql = `SELECT ${stateColumns} FROM jobs WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE`;

/** What planning changes by hand reads of the named jobs, locked as jobGetForUpdate locks them. */
export async function jobStatesForUpdate(
  c: Queryable,
  ids: readonly number[],
): Promise<JobStateRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await c.query<StateColumns<JobOptions | null>>(statesSql, [[...new Set(ids)]]);
  return rows.map((r) => stateRowOf(r, r.options));
}

/** The named jobs, their rows locked until the commit (in id order, so that lockers never deadlock). */
export async function jobGetForUpdate(c: Queryable, ids: readonly number[]): Promise<JobRecord[]> {
  if (ids.length === 0) return [];
  const { rows } = await c.query<JobRow>(lockSql, [[...new Set(ids)]]);
  return rows.map(jobFromRow);
}

/**
 * Applies replans in order, each only if its job is still in `from` (and waits); the answers
 * say which did. A job moved to another queue must get that queue's needs with it.
 */
export async function jobReplan(c: Queryable, changes: readonly JobReplan[]): Promise<boolean[]> {
  for (const r of changes) {
    if (r.queue !== undefined && r.needsId === undefined) {
      throw new Error(`a replan moving job ${r.id} to queue ${r.queue} names no needs`);
    }
  }
  const applied = changes.map(() => false);
  for (const round of rounds(changes)) {
    const list = round.map((r) => r.change);
    const { rows } = await c.query<{ ord: number }>(replanSql, [
      list.map((r) => r.id),
      list.map((r) => r.from),
      list.map((r) => r.priority ?? null),
      list.map((r) => r.queue ?? null),
      list.map((r) => r.needsId ?? null),
      list.map((r) => r.now),
      list.map((r) => r.rank ?? null),
      list.map((r) => r.tag ?? null),
    ]);
    for (const { ord } of rows) {
      const entry = round[ord - 1];
      if (entry !== undefined) applied[entry.index] = true;
    }
  }
  return applied;
}
