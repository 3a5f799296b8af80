/**
 * Chooses and opens the Store a `store` setting names (config `store`, default `sqlite`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The SQLite file's name inside the data directory. */
export const sqliteFileName = 'switchyard.db';

/** A value safe to echo in an error: a URL's password is masked. */
function redact(spec: string): string {
  try {
    const url = new URL(spec);
    if (url.password === '') return spec;
    url.password = '***';
    return url.toString();
  } catch {
    return spec;
  }
}

/**
 * Opens the store `spec` names: `sqlite` opens (creating it and `dataDir` if needed)
 * `<dataDir>/switchyard.db`. PostgreSQL URLs are recognised but not supported yet.
 */
export async function openStore(spec: string, dataDir: string): Promise<Store> {
  if (spec === 'sqlite') {
    mkdirSync(dataDir, { recursive: true });
    return SqliteStore.open({ path: join(dataDir, sqliteFileName) });
  }
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    throw new Error(
      `store "${redact(spec)}": PostgreSQL support is not available yet; use "sqlite" for now`,
    );
  }
  throw new Error(
    `store "${redact(spec)}" is not supported: expected "sqlite" or a postgres:// URL`,
  );
}
