/**
 * Changes of state, as the domain plans them (src/domain/transitions.ts): each applied only if
 * its job is still as the plan found it. The common ends of attempts have statements of their
 * own (a success is the hottest write after claim and insert); every other change goes through
 * one general statement.
 */
import { isTerminal, type JobOptions, type JobRecord } from '../../domain/job.js';
import { stateColumns, stateRowOf, type StateColumns } from '../state-row.js';
import type { JobReplan, JobStateRow, StateChange } from '../store.js';
import type { Conn } from './connection.js';
import { jobFromRow, jsonOrNull, type JobRow } from './rows.js';

/**
 * A success leaves the attempts JSON alone: the successful attempt is read back from the row's
 * lease columns, which the end keeps (see `jobFromRow`).
 */
const succeedSql =
  `UPDATE jobs SET state = 'succeeded', result = ?, error = NULL, ` +
  `request_failures = coalesce(?, request_failures), ` +
  `finished_at = ?, updated_at = ? ` +
  `WHERE id = ? AND state = 'running' AND attempt = ? AND worker_id = ? AND node_id = ?`;

/**
 * Any change. A field the change leaves undefined keeps its value (`coalesce`, or a flag for the
 * fields that may be set to NULL); the lease is checked only when the change names one.
 */
const changeSql =
  `UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), ahead = coalesce(?, ahead), ` +
  `result = CASE WHEN ? THEN ? ELSE result END, error = CASE WHEN ? THEN ? ELSE error END, ` +
  `request_failures = coalesce(?, request_failures), finished_at = ?, updated_at = ?, ` +
  `attempts = CASE WHEN ? IS NULL THEN attempts ELSE json_insert(attempts, '$[#]', json(?)) END, ` +
  `hold = CASE WHEN ? THEN ? ELSE hold END, uncounted = coalesce(?, uncounted), ` +
  `error_group = CASE WHEN ? THEN ? ELSE error_group END, ` +
  `attributes = coalesce(?, attributes) ` +
  `WHERE id = ? AND state = ? AND ` +
  `(? IS NULL OR (attempt = ? AND worker_id = ? AND node_id = ?))`;

/** Never a job that runs or has ended: those have no place in a queue to change. */
const replanSql =
  `UPDATE jobs SET priority = coalesce(?, priority), queue = coalesce(?, queue), ` +
  `needs_id = coalesce(?, needs_id), rank = coalesce(?, ?, rank), tag = coalesce(?, tag), ` +
  `updated_at = ? WHERE id = ? AND state = ? ` +
  `AND state NOT IN ('running', 'succeeded', 'failed', 'canceled')`;

const getSql = 'SELECT * FROM jobs WHERE id = ?';

/** Reused for every general change: binding an array is cheaper than building one per change. */
const params: unknown[] = new Array<unknown>(24);

function applyChange(c: Conn, s: StateChange): boolean {
  const record = s.record === undefined ? null : JSON.stringify(s.record);
  const lease = s.lease;
  params[0] = s.to;
  params[1] = s.runAt ?? null;
  // Every way into the queue says where: at the front, or in its place by age.
  params[2] = s.to === 'queued' ? (s.front === true ? 1 : 0) : null;
  params[3] = s.result === undefined ? 0 : 1;
  params[4] = s.result === undefined ? null : jsonOrNull(s.result);
  params[5] = s.error === undefined ? 0 : 1;
  // A cleared error is NULL, not JSON null, which a search for "null" would find.
  params[6] = s.error == null ? null : jsonOrNull(s.error);
  params[7] = s.requestFailures ?? null;
  params[8] = isTerminal(s.to) ? s.now : null;
  params[9] = s.now;
  params[10] = record;
  params[11] = record;
  // Exactly the held jobs have a hold (a CHECK says so): one leaving `held` loses it whether or
  // not its plan says so (a cancellation names none).
  const setHold = s.hold !== undefined || s.to !== 'held';
  params[12] = setHold ? 1 : 0;
  params[13] = s.hold == null ? null : JSON.stringify(s.hold);
  params[14] = s.uncounted ?? null;
  params[15] = s.errorGroup === undefined ? 0 : 1;
  params[16] = s.errorGroup ?? null;
  params[17] = s.attributes === undefined ? null : JSON.stringify(s.attributes);
  params[18] = s.id;
  params[19] = s.from;
  params[20] = lease === undefined ? null : 1;
  params[21] = lease?.attempt ?? null;
  params[22] = lease?.workerId ?? null;
  params[23] = lease?.nodeId ?? null;
  return c.stmt(changeSql).run(params).changes === 1;
}

/** Applies changes in order; the answers say which found their job as planned. */
export function jobSetStateIfMany(c: Conn, changes: readonly StateChange[]): boolean[] {
  const succeed = c.stmt(succeedSql);
  const applied = new Array<boolean>(changes.length);
  for (let i = 0; i < changes.length; i++) {
    const s = changes[i] as StateChange;
    const lease = s.lease;
    if (s.to === 'succeeded' && s.from === 'running' && lease !== undefined) {
      applied[i] =
        succeed.run(
          jsonOrNull(s.result),
          s.requestFailures ?? null,
          s.now,
          s.now,
          s.id,
          lease.attempt,
          lease.workerId,
          lease.nodeId,
        ).changes === 1;
    } else {
      applied[i] = applyChange(c, s);
    }
  }
  return applied;
}

const statesSql = `SELECT ${stateColumns} FROM jobs WHERE id = ?`;

/** What planning changes by hand reads of the named jobs, by id. */
export function jobStatesForUpdate(c: Conn, ids: readonly number[]): JobStateRow[] {
  const get = c.stmt(statesSql);
  const out: JobStateRow[] = [];
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const r = get.get(id) as StateColumns<string | null> | undefined;
    if (r === undefined) continue;
    out.push(stateRowOf(r, r.options === null ? null : (JSON.parse(r.options) as JobOptions)));
  }
  return out;
}

/** The named jobs as they are (the writer is the only one, so they stay so until the commit). */
export function jobGetForUpdate(c: Conn, ids: readonly number[]): JobRecord[] {
  const get = c.stmt(getSql);
  const out: JobRecord[] = [];
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const row = get.get(id) as JobRow | undefined;
    if (row !== undefined) out.push(jobFromRow(row));
  }
  return out;
}

/**
 * Applies replans in order, each only if its job is still in `from` (and waits); the answers
 * say which did. A job moved to another queue must get that queue's needs with it.
 */
export function jobReplan(c: Conn, changes: readonly JobReplan[]): boolean[] {
  const replan = c.stmt(replanSql);
  return changes.map((r) => {
    if (r.queue !== undefined && r.needsId === undefined) {
      throw new Error(`a replan moving job ${r.id} to queue ${r.queue} names no needs`);
    }
    return (
      replan.run(
        r.priority ?? null,
        r.queue ?? null,
        r.needsId ?? null,
        r.rank ?? null,
        r.priority ?? null,
        r.tag ?? null,
        r.now,
        r.id,
        r.from,
      ).changes === 1
    );
  });
}
