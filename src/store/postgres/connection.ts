/**
 * How a PostgreSQL store's connections are made (where it lives is ./location.ts): the settings
 * every connection shares (int8 parsed as a JS number, the schema as search_path), and the keys
 * of the advisory locks and the LISTEN channel derived from the schema, so that stores on
 * different schemas of one database never share a lock or a channel.
 */
import { createHash } from 'node:crypto';
import { types, type ClientConfig, type CustomTypesConfig, type PoolClient } from 'pg';
import { restoreJson } from '../text.js';
import type { Location } from './location.js';

/** Anything SQL can be sent to: the pool (reads) or one checked-out connection (a write). */
export interface Queryable {
  query: PoolClient['query'];
}

/** int8 values beyond 2^53 would silently lose digits as numbers; refuse them instead. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new Error(`the database returned ${text}, beyond the integers this store can represent`);
  }
  return n;
}

/**
 * Ids, times in ms and counts are int8 (bigint) in the schema and numbers in the domain.
 * Per connection, not `types.setTypeParser`, so that other pg users in the process keep theirs.
 */
const storeTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return types.getTypeParser(oid, format);
    if (oid === types.builtins.INT8) return parseInt8;
    // jsonb strings were escaped on the way in (src/store/text.ts); json keeps its own escapes.
    if (oid === types.builtins.JSONB) return (text: string) => restoreJson(text, JSON.parse(text));
    return types.getTypeParser(oid, format);
  }) as CustomTypesConfig['getTypeParser'],
};

/** How long to wait for a connection before giving up with an error. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Settings shared by the pool's connections and the session connection. */
export function clientConfig(location: Location, applicationName: string): ClientConfig {
  return {
    connectionString: location.connectionString,
    types: storeTypes,
    // A startup parameter, not a SET after connecting: no extra round trip, no window in
    // which a query could run against another schema.
    options: `-c search_path=${location.schema}`,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
}

/**
 * A 64-bit advisory lock key for one purpose on one schema (as a decimal string for a
 * `$1::bigint` parameter). Hashing keeps keys apart across schemas and from other applications'
 * small integer keys; a collision (2^-64) would only make two schemas share one lock.
 */
export function lockKey(purpose: 'migrate' | 'lead', schema: string): string {
  const digest = createHash('sha256').update(`switchyard:${purpose}:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * The LISTEN/NOTIFY channel of a schema. Channel names are identifiers of at most 63 bytes; a
 * long schema name is replaced by a hash of it.
 */
export function channelName(schema: string): string {
  const plain = `switchyard_${schema}`;
  if (plain.length <= 63) return plain;
  return `switchyard_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}
