/**
 * Where a PostgreSQL store lives: the URL and schema it was opened with and a description safe to
 * put in errors (no password). Pure, without the driver, so that a store URL can be checked
 * without loading pg.
 */

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
