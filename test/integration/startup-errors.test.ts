/**
 * A broker that cannot start says why in one line and exits 9: `switchyard broker` (and `up`)
 * as real processes on a port in use, a data directory it cannot use, a database it cannot
 * read, and a store URL it cannot open. No stack trace, no "internal error".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.js';
import { sqliteFileName } from '../../src/store/open.js';
import { latestVersion } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { brokerArgs, killAll, runCli } from '../helpers/processes.js';

let dir: string;
let occupied: Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-startup-'));
});
afterEach(async () => {
  await killAll();
  await new Promise<void>((resolve) => (occupied ? occupied.close(() => resolve()) : resolve()));
  occupied = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A loopback port something else listens on. */
async function portInUse(): Promise<number> {
  const server = createServer();
  occupied = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Runs `switchyard ARGS` and expects it to fail at start: the exit status, nothing on stdout,
 * and exactly one line on stderr, which it returns.
 */
async function failsToStart(args: string[], status: number = EXIT.startup): Promise<string> {
  const { code, stdout, stderr } = await runCli(args);
  expect({ code, stdout }, stderr).toEqual({ code: status, stdout: '' });
  const lines = stderr.split('\n').filter((line) => line !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^switchyard: /);
  expect(lines[0]).not.toMatch(/internal error|\bat .*:\d+:\d+/);
  return lines[0]!;
}

describe('a broker that cannot start', () => {
  it('names a clients port in use and the flag that chooses another', async () => {
    const port = await portInUse();
    const line = await failsToStart([
      'broker',
      ...brokerArgs(join(dir, 'data'), { clients: port }),
    ]);
    expect(line).toBe(
      `switchyard: cannot listen on 127.0.0.1:${port} for the client API: the port is in use ` +
        '(another broker?); stop what uses it, or choose another port with --clients-port',
    );
  });

  it("names a workers' port in use and the flag that chooses another", async () => {
    const port = await portInUse();
    const line = await failsToStart([
      'broker',
      ...brokerArgs(join(dir, 'data'), { workers: port }),
    ]);
    expect(line).toMatch(
      new RegExp(
        `^switchyard: cannot listen on 127\\.0\\.0\\.1:${port} for the workers' endpoint: the port is in use .*--workers-port$`,
      ),
    );
  });

  it('says the same from up', async () => {
    const port = await portInUse();
    const line = await failsToStart(['up', ...brokerArgs(join(dir, 'data'), { clients: port })]);
    expect(line).toMatch(
      new RegExp(
        `^switchyard: cannot listen on 127\\.0\\.0\\.1:${port} for the client API: the port is in use .*--clients-port$`,
      ),
    );
  });

  it('names a data directory that cannot be created under a regular file', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'not a directory');
    const line = await failsToStart(['broker', ...brokerArgs(join(file, 'data'))]);
    expect(line).toBe(
      `switchyard: cannot create the data directory ${join(file, 'data')}: part of that path is ` +
        'a file, not a directory; choose another data directory (--data-dir)',
    );
  });

  it('names a database file that is not a database', async () => {
    const data = join(dir, 'data');
    mkdirSync(data);
    writeFileSync(
      join(data, sqliteFileName),
      'these bytes are not a SQLite database\n'.repeat(100),
    );
    const line = await failsToStart(['broker', ...brokerArgs(data)]);
    expect(line).toBe(
      `switchyard: ${join(data, sqliteFileName)} is not a SQLite database; move it away, or ` +
        'choose another data directory (--data-dir)',
    );
  });

  it('names a database written by a newer Switchyard', async () => {
    const data = join(dir, 'data');
    mkdirSync(data);
    const path = join(data, sqliteFileName);
    await SqliteStore.open({ path }).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      latestVersion + 1,
      'from the future',
      0,
    );
    db.close();
    const line = await failsToStart(['broker', ...brokerArgs(data)]);
    expect(line).toContain(`schema version ${latestVersion + 1}`);
    expect(line).toMatch(/: upgrade Switchyard/);
  });

  it('names a PostgreSQL server that refuses, without echoing the password', async () => {
    const line = await failsToStart([
      'broker',
      ...brokerArgs(join(dir, 'data')),
      '--store',
      'postgres://u:secret@127.0.0.1:1/x',
    ]);
    expect(line).toBe(
      'switchyard: cannot open the PostgreSQL store postgres://u:***@127.0.0.1:1/x (schema ' +
        '"public"): the server refused the connection; check that PostgreSQL runs there and ' +
        'accepts connections, or fix --store',
    );
  });

  it('names a malformed store URL: one that does not parse is bad configuration (2)', async () => {
    const line = await failsToStart(
      ['broker', ...brokerArgs(join(dir, 'data')), '--store', 'postgres://127.0.0.1:99999/x'],
      EXIT.usage,
    );
    expect(line).toMatch(/^switchyard: store: .*does not parse as a URL.*\(from --store\)$/);
  });

  it('names a malformed store URL: a schema PostgreSQL cannot have', async () => {
    const line = await failsToStart([
      'broker',
      ...brokerArgs(join(dir, 'data')),
      '--store',
      'postgres://127.0.0.1:1/x?schema=Bad-Name',
    ]);
    expect(line).toMatch(
      /^switchyard: store: schema "Bad-Name" is not supported: .*; fix --store$/,
    );
  });
});
