/**
 * Which SQLite errors are storage faults (../faults.ts), in one place. SQLite names some faults
 * itself (SQLITE_FULL, SQLITE_READONLY) but reports others as a bare I/O error: a write to a
 * file system the kernel has remounted read-only fails with SQLITE_IOERR_WRITE, its EROFS lost.
 * For those, a probe of the database's directory tells a read-only or full file system apart.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  StoreUnavailableError,
  type FaultDescription,
  type StoreAccess,
  type StoreFault,
} from '../faults.js';

/** Faults by primary result code (the extended codes, SQLITE_IOERR_WRITE say, share these). */
const byPrimary: Readonly<Record<string, { fault: StoreFault; what: string }>> = {
  SQLITE_FULL: { fault: 'disk_full', what: 'the disk is full' },
  SQLITE_READONLY: { fault: 'read_only', what: 'the database is read-only' },
  SQLITE_IOERR: { fault: 'io_error', what: 'the disk failed a read or write' },
  SQLITE_CANTOPEN: { fault: 'cannot_open', what: 'the database file cannot be opened' },
  // Only after the busy timeout (connection.ts): another process holds the file's lock.
  SQLITE_BUSY: { fault: 'busy', what: 'another process holds the database lock' },
  SQLITE_LOCKED: { fault: 'busy', what: 'another connection holds the database lock' },
  SQLITE_NOTADB: { fault: 'corrupt', what: 'the database file is not a SQLite database' },
  SQLITE_CORRUPT: { fault: 'corrupt', what: 'the database file is damaged' },
  SQLITE_NOMEM: { fault: 'out_of_memory', what: 'SQLite ran out of memory' },
};

/** Extended codes that say more than their primary one. */
const byExtended: Readonly<Record<string, { fault: StoreFault; what: string }>> = {
  SQLITE_READONLY_DBMOVED: {
    fault: 'read_only',
    what: 'the database file was moved, replaced or deleted while open',
  },
};

/**
 * The fault a SQLite error stands for, or undefined for anything else: constraint violations,
 * SQL errors and misuse are bugs, not faults. Pure.
 */
export function sqliteFault(error: unknown): FaultDescription | undefined {
  if (!(error instanceof Database.SqliteError)) return undefined;
  const code = error.code;
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code;
  const known = byExtended[code] ?? byPrimary[primary];
  return known === undefined ? undefined : { ...known, code };
}

/**
 * Tries to write a small file next to the database: EROFS or ENOSPC say what an I/O error
 * could not. Runs only after a fault, never on the way of a healthy write. The database file
 * itself is never opened here: closing any descriptor of it would drop SQLite's POSIX locks.
 */
export function probeDirectory(dir: string): Extract<StoreFault, 'read_only' | 'disk_full'> | null {
  const probe = join(dir, `.switchyard-probe-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(probe, 'w');
    writeSync(fd, 'x');
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'read_only';
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk_full';
    return null;
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
        unlinkSync(probe);
      } catch {
        // Left behind on a file system failing under us; harmless, and reused by the next probe.
      }
    }
  }
}

const probed: Readonly<Record<'read_only' | 'disk_full', string>> = {
  read_only: 'the file system is read-only',
  disk_full: 'the disk is full',
};

/**
 * `error` as the store throws it: a StoreUnavailableError when it is a fault (an I/O error or a
 * file that cannot be opened refined by a probe of the database's directory), else as it is.
 * `path` is the database file, named in the message when opening it.
 */
export function sqliteStoreError(error: unknown, access: StoreAccess, path: string): unknown {
  let described = sqliteFault(error);
  if (described === undefined) return error;
  if (described.fault === 'io_error' || described.fault === 'cannot_open') {
    const found = probeDirectory(dirname(path));
    if (found !== null) described = { fault: found, what: probed[found], code: described.code };
  }
  return new StoreUnavailableError(access, described, error, access === 'open' ? path : undefined);
}
