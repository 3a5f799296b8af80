/**
 * Chooses and opens the Store a `store` setting names (config `store`, default `sqlite`).
 *
 * Each store's module (and its driver, better-sqlite3 or pg) is imported only when that store is
 * opened: importing this file loads neither, and a broker on SQLite never loads pg. What stops a
 * store from opening (a data directory or a file it cannot use, a server it cannot reach) is
 * thrown as a StartupError that says what to do (./startup-errors.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from '../domain/errors.js';
import { parseLocation, redactUrl, type Location } from './postgres/location.js';
import { dataDirError, postgresError, sqliteError } from './startup-errors.js';
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
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (error) {
      throw dataDirError(error, dataDir) ?? error;
    }
    const path = join(dataDir, sqliteFileName);
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    try {
      return SqliteStore.open({ path });
    } catch (error) {
      throw sqliteError(error, path) ?? error;
    }
  }
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    let location: Location;
    try {
      location = parseLocation(spec);
    } catch (error) {
      throw new StartupError(`store: ${(error as Error).message}; fix --store`, { cause: error });
    }
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    try {
      return await PostgresStore.open({
        url: spec,
        ...(options.onError ? { onError: options.onError } : {}),
      });
    } catch (error) {
      throw postgresError(error, location.description) ?? error;
    }
  }
  throw new StartupError(
    `store "${redactUrl(spec)}" is not supported: expected "sqlite" or a postgres:// URL; ` +
      'fix --store',
  );
}
