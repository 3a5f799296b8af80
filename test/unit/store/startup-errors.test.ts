import { describe, expect, it } from 'vitest';
import { StartupError } from '../../../src/domain/errors.js';
import { SchemaTooNewError } from '../../../src/store/sqlite/migrations.js';
import { dataDirError, postgresError, sqliteError } from '../../../src/store/startup-errors.js';

/** An error as Node, better-sqlite3 and pg make them: a message and a `code`. */
const coded = (code: string, message = `${code} happened`): Error =>
  Object.assign(new Error(message), { code });

/** What PostgresStore.open throws: its own message, the driver's error as the cause. */
const opening = (cause: unknown): Error =>
  new Error('cannot open the PostgreSQL store ...: x', { cause });

const PG = 'postgres://127.0.0.1:1/x (schema "public")';

describe('dataDirError', () => {
  it.each([
    ['ENOTDIR', /part of that path is a file, not a directory; choose another data directory/],
    ['EEXIST', /it is a file, not a directory/],
    ['EACCES', /permission denied; make its parent writable by this user/],
    ['EROFS', /read-only/],
    ['ENOSPC', /no space left/],
  ])('turns %s into a StartupError naming the directory and what to do', (code, text) => {
    const cause = coded(code);
    const error = dataDirError(cause, '/srv/data');
    expect(error).toBeInstanceOf(StartupError);
    expect(error?.message).toMatch(/^cannot create the data directory \/srv\/data: /);
    expect(error?.message).toMatch(text);
    expect(error?.message).toMatch(/--data-dir/);
    expect(error?.cause).toBe(cause);
  });

  it('leaves an error it does not know alone', () => {
    expect(dataDirError(new TypeError('bug'), '/srv/data')).toBeNull();
    expect(dataDirError(coded('EWHAT'), '/srv/data')).toBeNull();
  });
});

describe('sqliteError', () => {
  const path = '/srv/data/switchyard.db';

  it('says what is wrong with the file and what to do, by primary result code', () => {
    expect(sqliteError(coded('SQLITE_NOTADB', 'file is not a database'), path)?.message).toBe(
      `${path} is not a SQLite database; move it away, or choose another data directory ` +
        '(--data-dir)',
    );
    expect(sqliteError(coded('SQLITE_IOERR_WRITE', 'disk I/O error'), path)?.message).toBe(
      `cannot use ${path} (disk I/O error); check the disk, or choose another data directory ` +
        '(--data-dir)',
    );
    expect(sqliteError(coded('SQLITE_BUSY'), path)?.message).toMatch(/locked by another process/);
    expect(sqliteError(coded('SQLITE_READONLY_DIRECTORY'), path)?.message).toMatch(
      /^cannot write .*writable by this user/,
    );
  });

  it('passes a StartupError through (a schema too new says what to do already)', () => {
    const tooNew = new SchemaTooNewError(path, 9, 3);
    expect(tooNew).toBeInstanceOf(StartupError);
    expect(sqliteError(tooNew, path)).toBe(tooNew);
  });

  it('leaves an error it does not know alone: a bug stays a bug', () => {
    expect(sqliteError(coded('SQLITE_ERROR', 'near "SELEC": syntax error'), path)).toBeNull();
    expect(sqliteError(new TypeError('bug'), path)).toBeNull();
  });
});

describe('postgresError', () => {
  it('names a server it cannot reach, also through an AggregateError (IPv6 and IPv4)', () => {
    const refused = postgresError(opening(coded('ECONNREFUSED')), PG);
    expect(refused?.message).toBe(
      `cannot open the PostgreSQL store ${PG}: the server refused the connection; check that ` +
        'PostgreSQL runs there and accepts connections, or fix --store',
    );
    const both = new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], '');
    expect(postgresError(opening(both), PG)?.message).toMatch(/refused the connection/);
    expect(postgresError(opening(coded('ENOTFOUND')), PG)?.message).toMatch(/does not resolve/);
    expect(postgresError(opening(new Error('timeout expired')), PG)?.message).toMatch(/timed out/);
  });

  it('gives advice by SQLSTATE or its class', () => {
    const auth = postgresError(opening(coded('28P01', 'password authentication failed')), PG);
    expect(auth?.message).toBe(
      `cannot open the PostgreSQL store ${PG}: password authentication failed; check the user ` +
        'and password in the URL (or PGPASSWORD, ~/.pgpass)',
    );
    expect(postgresError(opening(coded('3D000')), PG)?.message).toMatch(/create the database/);
    expect(postgresError(opening(coded('42501')), PG)?.message).toMatch(/grant the user CREATE/);
    expect(postgresError(opening(coded('53300')), PG)?.message).toMatch(/try again/);
  });

  it("uses a schema-too-new cause's own message", () => {
    const tooNew = new StartupError('the database has schema version 9: upgrade Switchyard');
    const error = postgresError(opening(tooNew), PG);
    expect(error?.message).toBe(tooNew.message);
  });

  it('leaves an error it does not know alone: a bug stays a bug', () => {
    expect(postgresError(opening(coded('42601', 'syntax error')), PG)).toBeNull();
    expect(postgresError(opening(new TypeError('bug')), PG)).toBeNull();
  });
});
