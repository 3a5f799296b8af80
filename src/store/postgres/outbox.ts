/**
 * The outbox of callbacks (src/broker/notifier.ts): added in the transaction of the event they
 * tell of, claimed for one try at a time under a lease, then removed or put back for a retry.
 * Several nodes claim from one table: `FOR UPDATE SKIP LOCKED` makes each due row go to one
 * claim, and the lease (claimed_until) keeps it from the others until it lapses, which is how
 * a node that died mid-send leaves the callback to another.
 */
import { callbacksFromRows, type CallbackRow } from '../outbox-row.js';
import type { Callback, CallbackClaim, CallbackOutcome, NewCallback } from '../store.js';
import type { Queryable } from './connection.js';

const addSql = `
  INSERT INTO outbox (key, target, url, body, attempts, next_at, created_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[],
    $7::bigint[])`;

const claimSql = `
  WITH due AS (
    SELECT id FROM outbox
    WHERE (next_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1))
      OR ($5 AND claimed_by IS NOT NULL)
    ORDER BY next_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE outbox o SET claimed_by = $3, claimed_until = $4, attempts = o.attempts + 1
  FROM due WHERE o.id = due.id
  RETURNING o.id, o.key, o.target, o.url, o.body, o.attempts, o.next_at, o.created_at`;

const removeSql = `
  DELETE FROM outbox o USING unnest($1::bigint[], $2::text[]) AS u(id, owner)
  WHERE o.id = u.id AND o.claimed_by = u.owner
  RETURNING o.id`;

const retrySql = `
  UPDATE outbox o SET next_at = u.next_at, attempts = u.attempts, last_error = u.error,
    claimed_by = NULL, claimed_until = NULL
  FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::text[])
    AS u(id, owner, next_at, attempts, error)
  WHERE o.id = u.id AND o.claimed_by = u.owner
  RETURNING o.id`;

const backlogSql = 'SELECT count(*)::int AS n FROM outbox';
const nextAtSql = 'SELECT min(greatest(next_at, coalesce(claimed_until, 0))) AS at FROM outbox';

export async function outboxAdd(c: Queryable, callbacks: readonly NewCallback[]): Promise<void> {
  if (callbacks.length === 0) return;
  await c.query(addSql, [
    callbacks.map((cb) => cb.key),
    callbacks.map((cb) => cb.target),
    callbacks.map((cb) => cb.url),
    callbacks.map((cb) => cb.body),
    callbacks.map(() => 0),
    callbacks.map((cb) => cb.nextAt),
    callbacks.map((cb) => cb.createdAt),
  ]);
}

export async function outboxClaim(c: Queryable, claim: CallbackClaim): Promise<Callback[]> {
  if (claim.limit <= 0) return [];
  const { rows } = await c.query<CallbackRow>(claimSql, [
    claim.now,
    Math.floor(claim.limit),
    claim.owner,
    claim.now + claim.leaseMs,
    claim.takeOver === true,
  ]);
  return callbacksFromRows(rows);
}

export async function outboxSettle(
  c: Queryable,
  outcomes: readonly CallbackOutcome[],
): Promise<boolean[]> {
  const applied = new Set<number>();
  const removes = outcomes.filter((o) => o.kind === 'remove');
  if (removes.length > 0) {
    const { rows } = await c.query<{ id: number }>(removeSql, [
      removes.map((o) => o.id),
      removes.map((o) => o.owner),
    ]);
    for (const r of rows) applied.add(r.id);
  }
  const retries = outcomes.flatMap((o) => (o.kind === 'retry' ? [o] : []));
  if (retries.length > 0) {
    const { rows } = await c.query<{ id: number }>(retrySql, [
      retries.map((o) => o.id),
      retries.map((o) => o.owner),
      retries.map((o) => o.nextAt),
      retries.map((o) => o.attempts),
      retries.map((o) => o.error),
    ]);
    for (const r of rows) applied.add(r.id);
  }
  return outcomes.map((o) => applied.has(o.id));
}

export async function outboxBacklog(c: Queryable): Promise<number> {
  const { rows } = await c.query<{ n: number }>(backlogSql);
  return rows[0]?.n ?? 0;
}

export async function outboxNextAt(c: Queryable): Promise<number | null> {
  const { rows } = await c.query<{ at: number | null }>(nextAtSql);
  return rows[0]?.at ?? null;
}
