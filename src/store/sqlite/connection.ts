/**
 * Connections and their prepared-statement caches. The store keeps two connections to one file:
 * a writer, which runs `write` transactions, and a read-only reader. A `write` transaction may
 * span awaits, so a read on the writer could see another caller's uncommitted work; the reader
 * sees committed state only (WAL gives it a snapshot per statement without blocking the writer).
 */
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { StartupError } from '../../domain/errors.js';

/** A connection that prepares each distinct SQL text once. */
export class Conn {
  private readonly statements = new Map<string, Statement>();
  private readonly rawStatements = new Map<string, Statement>();

  constructor(readonly db: Db) {}

  /** The prepared statement for `sql`, cached: callers pass module-level constants. */
  stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * The same, answering rows as arrays in column order: no object (with its property names) to
   * build per row, for hot statements that return many rows.
   */
  rawStmt(sql: string): Statement {
    let s = this.rawStatements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql).raw(true);
      this.rawStatements.set(sql, s);
    }
    return s;
  }

  close(): void {
    this.statements.clear();
    this.rawStatements.clear();
    if (this.db.open) this.db.close();
  }
}

/** How long a connection waits for another process's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Page cache sizes, in KiB (SQLite's negative form). The default 2 MiB halves claim throughput
 * once the queue outgrows it; the memory is taken only as pages are read.
 */
const WRITER_CACHE_KIB = 65_536;
const READER_CACHE_KIB = 16_384;

/**
 * Opens the writer. WAL lets the reader read while a transaction is open; `synchronous = FULL`
 * makes every commit sync the WAL, which is what lets `write` promise durability. NORMAL
 * (non-durable) may lose the last commits on power loss, never consistency.
 */
export function openWriter(path: string, durable: boolean): Conn {
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new StartupError(
        `cannot use WAL journal mode on ${path} (got ${String(mode)}); choose a data directory ` +
          'on a local file system (--data-dir)',
      );
    }
    db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${WRITER_CACHE_KIB}`);
    return new Conn(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Opens the reader; the writer must have created the file (and its WAL) first. */
export function openReader(path: string): Conn {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma(`cache_size = -${READER_CACHE_KIB}`);
  return new Conn(db);
}
