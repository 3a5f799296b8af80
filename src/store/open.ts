/**
 * Chooses and opens the Store a `store` setting names (config `store`, default `sqlite`).
 *
 * Each store's module (and its driver, better-sqlite3 or pg) is imported only when that store is
 * opened: importing this file loads neither, and a broker on SQLite never loads pg.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { redactUrl } from './postgres/location.js';
import type { Store } from './store.js';

/** The SQLite file's name inside the data directory. */
export const sqliteFileName = 'switchyard.db';

/**
 * Opens the store `spec` names: `sqlite` opens (creating it and `dataDir` if needed)
 * `<dataDir>/switchyard.db`; a `postgres://` or `postgresql://` URL opens that database, in the
 * schema its `schema` query parameter names (default `public`; created if missing). Errors never
 * echo a password from the URL.
 */
export async function openStore(
  spec: string,
  dataDir: string,
  options: { onError?: (error: Error) => void } = {},
): Promise<Store> {
  if (spec === 'sqlite') {
    mkdirSync(dataDir, { recursive: true });
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return SqliteStore.open({ path: join(dataDir, sqliteFileName) });
  }
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open({
      url: spec,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  throw new Error(
    `store "${redactUrl(spec)}" is not supported: expected "sqlite" or a postgres:// URL`,
  );
}
