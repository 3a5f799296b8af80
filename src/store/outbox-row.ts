/**
 * A callback of the notifier's outbox as both stores read it back (./sqlite/outbox.ts,
 * ./postgres/outbox.ts) when they claim due ones.
 */
import type { Callback } from './store.js';

export interface CallbackRow {
  id: number;
  key: string;
  target: 'global' | 'job';
  url: string;
  body: string;
  attempts: number;
  next_at: number;
  created_at: number;
}

/** Claimed rows as callbacks, the earliest due first (RETURNING keeps no order). */
export function callbacksFromRows(rows: readonly CallbackRow[]): Callback[] {
  return rows
    .map((r) => ({
      id: r.id,
      key: r.key,
      target: r.target,
      url: r.url,
      body: r.body,
      attempts: r.attempts,
      nextAt: r.next_at,
      createdAt: r.created_at,
    }))
    .sort((a, b) => a.nextAt - b.nextAt || a.id - b.id);
}
