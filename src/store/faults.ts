/**
 * Storage faults: the store cannot read or write for a reason outside Switchyard (a full disk, a
 * read-only file system, a database server that is down), as opposed to a bug (a constraint
 * violated, bad SQL), which stays an internal error. Each backend turns its driver's errors into
 * a StoreUnavailableError in one place (sqlite/faults.ts, postgres/faults.ts), for writes and
 * reads alike. The API answers it `503 store_unavailable` with Retry-After; nothing in the store
 * stays broken by it, so the next operation tries again and succeeds once the fault clears.
 */
import { SwitchyardError } from '../domain/errors.js';

/** What kind of fault; in the error's `details.fault`. */
export type StoreFault =
  /** No space left where the store writes (the disk, or the database server's disk). */
  | 'disk_full'
  /** The database or its file system accepts no writes. */
  | 'read_only'
  /** The storage failed a read or a write. */
  | 'io_error'
  /** The database file (or its directory) cannot be opened. */
  | 'cannot_open'
  /** Another connection held the database lock for longer than the store waits. */
  | 'busy'
  /** The file is not a database, or is damaged. */
  | 'corrupt'
  /** The database (its server, or SQLite in this process) ran out of memory. */
  | 'out_of_memory'
  /** The database server cannot be reached, or dropped the connection. */
  | 'connection'
  /** The database server refuses more connections. */
  | 'too_many_connections';

/** What the store was doing when the fault struck, for the message. */
export type StoreAccess = 'open' | 'read' | 'write';

/** A driver error recognised as a fault: its kind, a phrase for people, the driver's code. */
export interface FaultDescription {
  fault: StoreFault;
  /** Completes "the store cannot write: ...", e.g. "the disk is full". */
  what: string;
  /** The driver's own code (SQLITE_FULL, 53100, ECONNREFUSED), so that the log can be searched. */
  code: string;
}

/**
 * The store cannot do its work now; see the file comment. `cause` is the driver's error;
 * `target` names the database when opening it (a path, or a URL without its password).
 */
export class StoreUnavailableError extends SwitchyardError {
  readonly fault: StoreFault;

  constructor(access: StoreAccess, described: FaultDescription, cause: unknown, target?: string) {
    super(
      'store_unavailable',
      `the store cannot ${access}${target === undefined ? '' : ` ${target}`}: ` +
        `${described.what} (${described.code})`,
      { fault: described.fault },
    );
    this.name = 'StoreUnavailableError';
    this.fault = described.fault;
    this.cause = cause;
  }
}

/** Whether `error` says the store is unavailable (a StoreUnavailableError, or one rebuilt from JSON). */
export function isStoreUnavailable(error: unknown): error is SwitchyardError {
  return error instanceof SwitchyardError && error.code === 'store_unavailable';
}
