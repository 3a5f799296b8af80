/**
 * Why a store could not be opened, in one line a person can act on: the errors of creating the
 * data directory, of opening the SQLite file and of reaching PostgreSQL, classified by their
 * codes (errno, SQLite's result codes, SQLSTATE) into StartupErrors that say what is wrong and
 * what to do. An error none of these tables knows is left as it is: it may be a bug, and the CLI
 * reports those with their stack. Reads codes only, so that it loads neither driver.
 */
import { StartupError } from '../domain/errors.js';
import { StoreUnavailableError } from './faults.js';

/** The `code` of an error (errno, SQLite or SQLSTATE), or of the first of an AggregateError's. */
function codeOf(error: unknown): string | undefined {
  if (error instanceof AggregateError && error.errors.length > 0) return codeOf(error.errors[0]);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

const ANOTHER_DIR = 'choose another data directory (--data-dir)';

/** The data directory could not be created: errno → what is wrong and what to do. */
const dataDirProblems: Readonly<Record<string, string>> = {
  ENOTDIR: `part of that path is a file, not a directory; ${ANOTHER_DIR}`,
  EEXIST: `it is a file, not a directory; ${ANOTHER_DIR}`,
  EACCES: `permission denied; make its parent writable by this user, or ${ANOTHER_DIR}`,
  EPERM: `operation not permitted; make its parent writable by this user, or ${ANOTHER_DIR}`,
  EROFS: `the file system is read-only; ${ANOTHER_DIR}`,
  ENOSPC: `no space left on the device; free some, or ${ANOTHER_DIR}`,
  ENAMETOOLONG: `the path is too long; ${ANOTHER_DIR}`,
  ELOOP: `the path has a loop of symbolic links; ${ANOTHER_DIR}`,
};

/** A StartupError for a data directory `mkdir` refused, or null for anything else. */
export function dataDirError(error: unknown, dataDir: string): StartupError | null {
  const code = codeOf(error);
  const problem = code === undefined ? undefined : dataDirProblems[code];
  if (problem === undefined) return null;
  return new StartupError(`cannot create the data directory ${dataDir}: ${problem}`, {
    cause: error,
  });
}

/**
 * SQLite's primary result code (SQLITE_IOERR_WRITE → SQLITE_IOERR) → what is wrong with the file
 * at `path` (given SQLite's own message) and what to do.
 */
const sqliteProblems: Readonly<Record<string, (path: string, says: string) => string>> = {
  SQLITE_NOTADB: (p) => `${p} is not a SQLite database; move it away, or ${ANOTHER_DIR}`,
  SQLITE_CORRUPT: (p) => `${p} is damaged; restore it from a backup, or ${ANOTHER_DIR}`,
  SQLITE_CANTOPEN: (p, says) =>
    `cannot open ${p} (${says}); make the data directory writable by this user, or ${ANOTHER_DIR}`,
  SQLITE_READONLY: (p, says) =>
    `cannot write ${p} (${says}); make it and its directory writable by this user, or ` +
    ANOTHER_DIR,
  SQLITE_PERM: (p) => `cannot write ${p}: permission denied; ${ANOTHER_DIR}`,
  SQLITE_BUSY: (p) =>
    `${p} is locked by another process (another broker on this data directory?); stop it, ` +
    `or ${ANOTHER_DIR}`,
  SQLITE_LOCKED: (p) => `${p} is locked by another connection; stop it, or ${ANOTHER_DIR}`,
  SQLITE_FULL: (p) => `cannot write ${p}: the disk is full; free some space, or ${ANOTHER_DIR}`,
  SQLITE_IOERR: (p, says) => `cannot use ${p} (${says}); check the disk, or ${ANOTHER_DIR}`,
};

/** A StartupError for the SQLite file at `path` that could not be opened, or null. */
export function sqliteError(error: unknown, path: string): StartupError | null {
  if (error instanceof StartupError) return error;
  if (error instanceof StoreUnavailableError) {
    // The store found out what the storage refuses (it probes a read-only or full disk): say so.
    if (error.fault === 'read_only' || error.fault === 'disk_full') {
      return new StartupError(`${error.message}; fix the storage, or ${ANOTHER_DIR}`, {
        cause: error,
      });
    }
    return sqliteError(error.cause, path);
  }
  const code = codeOf(error);
  const primary = code?.match(/^SQLITE_[A-Z]+/)?.[0];
  const problem = primary === undefined ? undefined : sqliteProblems[primary];
  if (problem === undefined) return null;
  return new StartupError(problem(path, messageOf(error)), { cause: error });
}

const CHECK_SERVER = 'check that PostgreSQL runs there and accepts connections, or fix --store';

/** Network errno → what happened. */
const networkProblems: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the server refused the connection',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (for now)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ECONNRESET: 'the server closed the connection',
  EPIPE: 'the server closed the connection',
};

/** SQLSTATE (or its two-character class) → what to do. */
const sqlstateAdvice: Readonly<Record<string, string>> = {
  '28': 'check the user and password in the URL (or PGPASSWORD, ~/.pgpass)',
  '3D000': 'create the database, or name another one in --store',
  '42501': 'grant the user CREATE on the database (or create the schema for it), or use ?schema=',
  '53': 'the server has no room for more connections now; try again, or raise its limits',
  '57P03': 'the server is starting up or shutting down; try again shortly',
  '08': CHECK_SERVER,
};

/**
 * A StartupError for a PostgreSQL store (`description`: its URL without password, and schema)
 * that could not be opened, or null. `error` is what PostgresStore.open threw; its cause is the
 * driver's error.
 */
export function postgresError(error: unknown, description: string): StartupError | null {
  if (error instanceof StartupError) return error;
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (cause instanceof StartupError) return new StartupError(cause.message, { cause: error });
  const where = `cannot open the PostgreSQL store ${description}`;
  const code = codeOf(cause);
  const network = code === undefined ? undefined : networkProblems[code];
  if (network !== undefined) {
    return new StartupError(`${where}: ${network}; ${CHECK_SERVER}`, { cause: error });
  }
  if (/connection timeout|timeout expired/i.test(messageOf(cause))) {
    return new StartupError(`${where}: the connection timed out; ${CHECK_SERVER}`, {
      cause: error,
    });
  }
  if (/ssl|tls|cert/i.test(`${code ?? ''} ${messageOf(cause)}`)) {
    return new StartupError(
      `${where}: ${messageOf(cause)}; check sslmode in the URL and the server's certificate`,
      { cause: error },
    );
  }
  if (cause instanceof URIError) {
    return new StartupError(
      `${where}: the URL is not well formed (${messageOf(cause)}); fix --store`,
      {
        cause: error,
      },
    );
  }
  const advice =
    code === undefined ? undefined : (sqlstateAdvice[code] ?? sqlstateAdvice[code.slice(0, 2)]);
  if (advice === undefined) return null;
  return new StartupError(`${where}: ${messageOf(cause)}; ${advice}`, { cause: error });
}
