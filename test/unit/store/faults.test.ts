/**
 * Which driver errors are storage faults, by the codes the drivers give them: faults become a
 * 503 `store_unavailable` naming what is wrong, everything else (bugs) stays as it was. The
 * stores meeting real faults are tested in test/store/ and test/integration/storage-faults.
 */
import Database from 'better-sqlite3';
import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError, isStoreUnavailable } from '../../../src/store/faults.js';
import { postgresFault, postgresStoreError } from '../../../src/store/postgres/faults.js';
import { sqliteFault, sqliteStoreError } from '../../../src/store/sqlite/faults.js';
import { SwitchyardError } from '../../../src/domain/errors.js';

const sqlite = (code: string) => new Database.SqliteError('driver text', code);

function pgError(code: string): DatabaseError {
  const error = new DatabaseError('server text', 0, 'error');
  error.code = code;
  return error;
}

const socketError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('SQLite faults', () => {
  it.each([
    ['SQLITE_FULL', 'disk_full', 'the disk is full'],
    ['SQLITE_READONLY', 'read_only', 'the database is read-only'],
    ['SQLITE_READONLY_DBMOVED', 'read_only', 'the database file was moved'],
    ['SQLITE_READONLY_RECOVERY', 'read_only', 'the database is read-only'],
    ['SQLITE_IOERR', 'io_error', 'the disk failed a read or write'],
    ['SQLITE_IOERR_WRITE', 'io_error', 'the disk failed a read or write'],
    ['SQLITE_IOERR_FSYNC', 'io_error', 'the disk failed a read or write'],
    ['SQLITE_CANTOPEN', 'cannot_open', 'the database file cannot be opened'],
    ['SQLITE_BUSY', 'busy', 'another process holds the database lock'],
    ['SQLITE_BUSY_TIMEOUT', 'busy', 'another process holds the database lock'],
    ['SQLITE_LOCKED', 'busy', 'another connection holds the database lock'],
    ['SQLITE_NOTADB', 'corrupt', 'not a SQLite database'],
    ['SQLITE_CORRUPT', 'corrupt', 'the database file is damaged'],
    ['SQLITE_NOMEM', 'out_of_memory', 'SQLite ran out of memory'],
  ])('%s is %s', (code, fault, what) => {
    const described = sqliteFault(sqlite(code));
    expect(described).toMatchObject({ fault, code });
    expect(described?.what).toContain(what);
  });

  it.each(['SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', 'SQLITE_MISUSE'])(
    '%s is a bug, not a fault',
    (code) => {
      expect(sqliteFault(sqlite(code))).toBeUndefined();
      const error = sqlite(code);
      expect(sqliteStoreError(error, 'write', '/nonexistent/x.db')).toBe(error);
    },
  );

  it('leaves errors that are not SQLite errors as they are', () => {
    const error = Object.assign(new Error('x'), { code: 'SQLITE_FULL' });
    expect(sqliteFault(error)).toBeUndefined();
    expect(sqliteFault('SQLITE_FULL')).toBeUndefined();
  });

  it('says what the store was doing, keeping the driver error as the cause', () => {
    const cause = sqlite('SQLITE_FULL');
    const error = sqliteStoreError(cause, 'write', '/nonexistent/x.db');
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toBeInstanceOf(SwitchyardError);
    expect(error).toMatchObject({
      code: 'store_unavailable',
      status: 503,
      fault: 'disk_full',
      cause,
      message: 'the store cannot write: the disk is full (SQLITE_FULL)',
    });
    expect((error as StoreUnavailableError).toJSON()).toEqual({
      error: {
        code: 'store_unavailable',
        message: 'the store cannot write: the disk is full (SQLITE_FULL)',
        details: { fault: 'disk_full' },
      },
    });
    expect(isStoreUnavailable(error)).toBe(true);
    expect(isStoreUnavailable(cause)).toBe(false);
  });
});

describe('PostgreSQL faults', () => {
  it.each([
    ['25006', 'read_only', 'the database is read-only'],
    ['53100', 'disk_full', "the database server's disk is full"],
    ['53200', 'out_of_memory', 'the database server is out of memory'],
    ['53300', 'too_many_connections', 'the database server has too many connections'],
    ['57P01', 'connection', 'the database server ended the connection'],
    ['57P02', 'connection', 'the database server crashed'],
    ['57P03', 'connection', 'the database server is not accepting connections yet'],
    ['08006', 'connection', 'the connection to the database server failed'],
    ['08001', 'connection', 'the connection to the database server failed'],
    ['08P01', 'connection', 'the connection to the database server failed'],
    ['58030', 'io_error', 'the database server failed a read or write'],
  ])('SQLSTATE %s is %s', (code, fault, what) => {
    expect(postgresFault(pgError(code))).toEqual({ fault, what, code });
  });

  it.each(['23505', '23514', '42601', '42P01', '40001', 'XX000'])(
    'SQLSTATE %s is a bug (or a conflict), not a fault',
    (code) => {
      const error = pgError(code);
      expect(postgresFault(error)).toBeUndefined();
      expect(postgresStoreError(error, 'write')).toBe(error);
    },
  );

  it.each([
    ['ECONNREFUSED', 'the database server refused the connection'],
    ['ECONNRESET', 'the database server reset the connection'],
    ['ETIMEDOUT', 'the database server did not answer in time'],
    ['EPIPE', 'the connection to the database server broke'],
    ['ENOTFOUND', "the database server's name does not resolve"],
  ])('socket error %s is a connection fault', (code, what) => {
    expect(postgresFault(socketError(code))).toEqual({ fault: 'connection', what, code });
  });

  it('looks into the first error of a connection tried on several addresses', () => {
    const error = new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')]);
    expect(postgresFault(error)?.code).toBe('ECONNREFUSED');
  });

  it.each([
    ['Connection terminated unexpectedly', 'terminated'],
    ['Client has encountered a connection error and is not queryable', 'terminated'],
    ['timeout exceeded when trying to connect', 'timeout'],
    ['Connection terminated due to connection timeout', 'timeout'],
  ])('pg\'s "%s" is a connection fault', (message, code) => {
    expect(postgresFault(new Error(message))).toMatchObject({ fault: 'connection', code });
  });

  it('leaves other errors as they are', () => {
    expect(postgresFault(new Error('boom'))).toBeUndefined();
    expect(postgresFault(socketError('ERR_SOMETHING'))).toBeUndefined();
    expect(postgresFault(undefined)).toBeUndefined();
  });

  it('names the database when opening it', () => {
    const error = postgresStoreError(socketError('ECONNREFUSED'), 'open', 'postgres://db/x');
    expect((error as Error).message).toBe(
      'the store cannot open postgres://db/x: the database server refused the connection ' +
        '(ECONNREFUSED)',
    );
  });
});
