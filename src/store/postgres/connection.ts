/**
 * Where a PostgreSQL store lives and how its connections are made: the URL and schema it was
 * opened with, a description safe to put in errors (no password), the settings every connection
 * shares (int8 parsed as a JS number, the schema as search_path), and the keys of the advisory
 * locks and the LISTEN channel derived from the schema, so that stores on different schemas of
 * one database never share a lock or a channel.
 */
import { createHash } from 'node:crypto';
import { types, type ClientConfig, type CustomTypesConfig, type PoolClient } from 'pg';
import { restoreJson } from '../text.js';

/** Anything SQL can be sent to: the pool (reads) or one checked-out connection (a write). */
export interface Queryable {
  query: PoolClient['query'];
}

/**
 * Schema names are plain lower-case identifiers, so that they need no quoting anywhere they
 * appear (search_path, CREATE SCHEMA, LISTEN channels). PostgreSQL allows at most 63 bytes.
 */
const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema used when neither the URL (`?schema=`) nor the options name one. */
export const defaultSchema = 'public';

/** A parsed store location. */
export interface Location {
  /** The connection string without Switchyard's own parameters. */
  connectionString: string;
  schema: string;
  /** For messages: the URL without its password, and the schema. */
  description: string;
}

/** The URL with its password masked (or the text as given when it is not a URL). */
export function redactUrl(spec: string): string {
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
 * Parses a `postgres://` or `postgresql://` URL. `schema` (the option) wins over the URL's
 * `schema` query parameter, which wins over `public`. Throws naming what is wrong.
 */
export function parseLocation(url: string, schema?: string): Location {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `"${redactUrl(url)}" is not a URL: expected postgres://user@host:port/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`"${redactUrl(url)}" is not a PostgreSQL URL: expected postgres://...`);
  }
  const fromUrl = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  const chosen = schema ?? fromUrl ?? defaultSchema;
  if (!schemaPattern.test(chosen)) {
    throw new Error(
      `schema "${chosen}" is not supported: use 1 to 63 lower-case letters, digits and ` +
        `underscores, not starting with a digit`,
    );
  }
  const connectionString = parsed.toString();
  return {
    connectionString,
    schema: chosen,
    description: `${redactUrl(connectionString)} (schema "${chosen}")`,
  };
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
