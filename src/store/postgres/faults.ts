/**
 * Which PostgreSQL errors are storage faults (../faults.ts), in one place: the server's own
 * (by SQLSTATE), the socket's (by Node's error code), and the few that pg raises with neither,
 * known by their text. Everything else (a constraint violated, bad SQL) is a bug and stays as
 * it is.
 */
import { DatabaseError } from 'pg';
import {
  StoreUnavailableError,
  type FaultDescription,
  type StoreAccess,
  type StoreFault,
} from '../faults.js';

type Known = { fault: StoreFault; what: string };

/** Server errors by SQLSTATE. */
const bySqlState: Readonly<Record<string, Known>> = {
  '25006': { fault: 'read_only', what: 'the database is read-only' },
  '53100': { fault: 'disk_full', what: "the database server's disk is full" },
  '53200': { fault: 'out_of_memory', what: 'the database server is out of memory' },
  '53300': { fault: 'too_many_connections', what: 'the database server has too many connections' },
  '57P01': { fault: 'connection', what: 'the database server ended the connection' },
  '57P02': { fault: 'connection', what: 'the database server crashed' },
  '57P03': { fault: 'connection', what: 'the database server is not accepting connections yet' },
  '58030': { fault: 'io_error', what: 'the database server failed a read or write' },
};

/** Class 08, connection exceptions, whatever the subclass. */
const connectionClass: Known = {
  fault: 'connection',
  what: 'the connection to the database server failed',
};

/** Socket and name resolution errors by Node's code. */
const bySocketCode: Readonly<Record<string, Known>> = {
  ECONNREFUSED: { fault: 'connection', what: 'the database server refused the connection' },
  ECONNRESET: { fault: 'connection', what: 'the database server reset the connection' },
  EPIPE: { fault: 'connection', what: 'the connection to the database server broke' },
  ETIMEDOUT: { fault: 'connection', what: 'the database server did not answer in time' },
  EHOSTUNREACH: { fault: 'connection', what: 'the database server cannot be reached' },
  ENETUNREACH: { fault: 'connection', what: 'the database server cannot be reached' },
  ENOTFOUND: { fault: 'connection', what: "the database server's name does not resolve" },
  EAI_AGAIN: { fault: 'connection', what: "the database server's name does not resolve" },
};

/** Errors pg raises without a code; their text is all there is. */
const byMessage: ReadonlyArray<[RegExp, Known & { code: string }]> = [
  [
    /^Connection terminated unexpectedly$/,
    { fault: 'connection', what: 'lost the connection to the database server', code: 'terminated' },
  ],
  [
    /^Client has encountered a connection error and is not queryable$/,
    { fault: 'connection', what: 'lost the connection to the database server', code: 'terminated' },
  ],
  [
    /^(timeout exceeded when trying to connect|Connection terminated due to connection timeout)$/,
    { fault: 'connection', what: 'the database server did not answer in time', code: 'timeout' },
  ],
];

/** The fault a pg error stands for, or undefined for anything else. Pure. */
export function postgresFault(error: unknown): FaultDescription | undefined {
  // Node gives a connection to a name with several addresses one error per address.
  const e = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (e instanceof DatabaseError && typeof code === 'string') {
    const known = bySqlState[code] ?? (code.startsWith('08') ? connectionClass : undefined);
    return known === undefined ? undefined : { ...known, code };
  }
  if (typeof code === 'string') {
    const known = bySocketCode[code];
    return known === undefined ? undefined : { ...known, code };
  }
  for (const [pattern, known] of byMessage) if (pattern.test(e.message)) return known;
  return undefined;
}

/**
 * `error` as the store throws it: a StoreUnavailableError when it is a fault, else as it is.
 * `target` names the database when opening it.
 */
export function postgresStoreError(error: unknown, access: StoreAccess, target?: string): unknown {
  const described = postgresFault(error);
  if (described === undefined) return error;
  return new StoreUnavailableError(access, described, error, target);
}
