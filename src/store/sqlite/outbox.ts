/**
 * The outbox of callbacks (src/broker/notifier.ts): added in the transaction of the event they
 * tell of, claimed for one try at a time under a lease, then removed or put back for a retry.
 * One node owns a SQLite file, so a claim needs no row locks; the lease still matters after a
 * crash mid-send (the row is taken again once it lapses).
 */
import { callbacksFromRows, type CallbackRow } from '../outbox-row.js';
import type { Callback, CallbackClaim, CallbackOutcome, NewCallback } from '../store.js';
import type { Conn } from './connection.js';

const addSql =
  'INSERT INTO outbox (key, target, url, body, attempts, next_at, created_at) ' +
  'VALUES (?, ?, ?, ?, 0, ?, ?)';

/** Due: its next try is due and nobody holds it (or the holder's lease lapsed). */
const claimSql =
  'UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 ' +
  'WHERE id IN (SELECT id FROM outbox WHERE (next_at <= ? ' +
  'AND (claimed_until IS NULL OR claimed_until <= ?)) OR (? = 1 AND claimed_by IS NOT NULL) ' +
  'ORDER BY next_at, id LIMIT ?) ' +
  'RETURNING id, key, target, url, body, attempts, next_at, created_at';

const removeSql = 'DELETE FROM outbox WHERE id = ? AND claimed_by = ?';
const retrySql =
  'UPDATE outbox SET next_at = ?, attempts = ?, last_error = ?, claimed_by = NULL, ' +
  'claimed_until = NULL WHERE id = ? AND claimed_by = ?';

const backlogSql = 'SELECT count(*) AS n FROM outbox';
const nextAtSql = 'SELECT min(max(next_at, coalesce(claimed_until, 0))) AS at FROM outbox';

export function outboxAdd(c: Conn, callbacks: readonly NewCallback[]): void {
  const add = c.stmt(addSql);
  for (const cb of callbacks) add.run(cb.key, cb.target, cb.url, cb.body, cb.nextAt, cb.createdAt);
}

export function outboxClaim(c: Conn, claim: CallbackClaim): Callback[] {
  if (claim.limit <= 0) return [];
  const rows = c
    .stmt(claimSql)
    .all(
      claim.owner,
      claim.now + claim.leaseMs,
      claim.now,
      claim.now,
      claim.takeOver === true ? 1 : 0,
      Math.floor(claim.limit),
    ) as CallbackRow[];
  // RETURNING gives no order.
  return callbacksFromRows(rows);
}

export function outboxSettle(c: Conn, outcomes: readonly CallbackOutcome[]): boolean[] {
  return outcomes.map((o) =>
    o.kind === 'remove'
      ? c.stmt(removeSql).run(o.id, o.owner).changes === 1
      : c.stmt(retrySql).run(o.nextAt, o.attempts, o.error, o.id, o.owner).changes === 1,
  );
}

export function outboxBacklog(c: Conn): number {
  return (c.stmt(backlogSql).get() as { n: number }).n;
}

export function outboxNextAt(c: Conn): number | null {
  return (c.stmt(nextAtSql).get() as { at: number | null }).at;
}
