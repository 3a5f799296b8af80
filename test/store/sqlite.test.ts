/**
 * The SQLite store: the contract suite on a fresh file per test, then what only SQLite has
 * (durability across reopen, migrations, CHECK constraints, query plans, write serialization).
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StartupError } from '../../src/domain/errors.js';
import { openStore } from '../../src/store/open.js';
import { claimCandidatesSql, claimNeedsSql } from '../../src/store/sqlite/jobs-claim.js';
import { promoteSql } from '../../src/store/sqlite/jobs-enqueue.js';
import { failedByErrorSql, nextRunSql } from '../../src/store/sqlite/jobs-read.js';
import { purgeCandidatesSql } from '../../src/store/sqlite/jobs-remove.js';
import {
  latestVersion,
  migrate,
  migrations,
  SchemaTooNewError,
} from '../../src/store/sqlite/migrations.js';
import { StoreUnavailableError } from '../../src/store/faults.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewLogEntry } from '../../src/store/store.js';
import { mountTmpfs } from '../helpers/mounts.js';
import { describeStoreContract } from './contract.js';
import { addNeeds, insertJob, newJob, runningJob, T0 } from './contract/helpers.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'switchyard-sqlite-'));
}

describeStoreContract('sqlite', async () => {
  const dir = tempDir();
  const store = SqliteStore.open({ path: join(dir, 'test.db'), durable: false });
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore', () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];
  const paths = new Map<SqliteStore, string>();
  /** A store on a new file (or on `path`), closed and removed after the test. */
  const open = (path?: string, durable?: boolean): SqliteStore => {
    let file = path;
    if (file === undefined) {
      const dir = tempDir();
      dirs.push(dir);
      file = join(dir, 'test.db');
    }
    const store = SqliteStore.open({ path: file, ...(durable === undefined ? {} : { durable }) });
    stores.push(store);
    paths.set(store, file);
    return store;
  };
  const fileOf = (store: SqliteStore): string => paths.get(store) as string;
  /** A raw connection for looking under the store; closed by the caller. */
  const raw = (path: string) => new Database(path);

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    paths.clear();
  });

  it('is durable by default and says so in its capabilities', () => {
    expect(open().capabilities).toEqual({ name: 'sqlite', multiNode: false, durableCommit: true });
    expect(open(undefined, false).capabilities.durableCommit).toBe(false);
  });

  it('keeps everything committed across close and reopen, and never reuses ids', async () => {
    const first = open();
    const path = fileOf(first);
    const needsId = await addNeeds(first);
    const job = await runningJob(first, needsId);
    const log: NewLogEntry = { jobId: job.id, attempt: 1, stream: 'stdout', at: T0, data: 'hi' };
    await first.write(async (tx) => {
      await tx.jobLogAppend([log]);
      await tx.settingSet('frozen', 'yes');
    });
    const before = await first.jobGet(job.id);
    await first.close();

    const db = raw(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.prepare('DELETE FROM jobs WHERE id = ?').run(job.id);
    db.close();
    const second = open(path);
    expect(await second.jobGet(job.id)).toBeUndefined();
    expect(await second.settingGet('frozen')).toBe('yes');
    expect((await second.needsList()).map((n) => n.id)).toEqual([needsId]);
    expect(before?.state).toBe('running');
    const next = await insertJob(second, newJob(needsId));
    expect(next).toBeGreaterThan(job.id);
  });

  it('runs migrations once: reopening and migrating again change nothing', async () => {
    const store = open();
    const path = fileOf(store);
    await store.close();
    open(path);
    const db = raw(path);
    try {
      expect(migrate(db)).toEqual([]);
      const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
      expect(versions).toEqual(migrations.map((m) => ({ version: m.version })));
    } finally {
      db.close();
    }
  });

  it('migration 2 leaves the attempts of jobs that succeeded before it as they read', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'test.db');
    const db = raw(path);
    const failed = {
      attempt: 1,
      workerId: 'w_1',
      workerName: 'one',
      startedAt: T0,
      finishedAt: T0 + 1_000,
      outcome: 'failed',
      error: { code: 'exit', message: 'exit code 2' },
    };
    const succeeded = {
      attempt: 2,
      workerId: 'w_2',
      workerName: 'two',
      startedAt: T0 + 2_000,
      finishedAt: T0 + 3_000,
      outcome: 'succeeded',
      error: null,
    };
    try {
      // A database as version 1 left it: the success recorded in the attempts JSON.
      db.exec(`CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
      db.exec(migrations[0]!.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (1, ?, ?)').run(migrations[0]!.name, T0);
      db.prepare(
        `INSERT INTO needs (id, key, queue, type, requires) VALUES (1, 'k', 'default', 'shell', '{}')`,
      ).run();
      const insert = db.prepare(
        `INSERT INTO jobs (needs_id, type, queue, payload, requires, meta, priority, state,
           max_attempts, attempt, kill_signal, kill_grace_ms, run_at, created_at, updated_at,
           started_at, finished_at, worker_id, worker_name, node_id, attempts)
         VALUES (1, 'shell', 'default', '{}', '{}', '{}', 0, ?, 3, 2, 'SIGTERM', 10000, ?, ?, ?,
           ?, ?, 'w_2', 'two', 'n_1', ?)`,
      );
      insert.run(
        'succeeded',
        T0,
        T0,
        T0 + 3_000,
        T0 + 2_000,
        T0 + 3_000,
        JSON.stringify([failed, succeeded]),
      );
      insert.run(
        'failed',
        T0,
        T0,
        T0 + 3_000,
        T0 + 2_000,
        T0 + 3_000,
        JSON.stringify([failed, { ...succeeded, outcome: 'failed', error: failed.error }]),
      );
    } finally {
      db.close();
    }
    const store = open(path);
    expect((await store.jobGet(1))?.attempts).toEqual([failed, succeeded]);
    expect((await store.jobGet(2))?.attempts).toEqual([
      failed,
      { ...succeeded, outcome: 'failed', error: failed.error },
    ]);
  });

  it('migration 4 gives jobs from before it what the lifecycle reads of them', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'test.db');
    const db = raw(path);
    try {
      // A database as version 3 left it, with a held, a failed and a queued job.
      db.exec(`CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
      for (const m of migrations.slice(0, 3)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, T0);
      }
      db.prepare(
        `INSERT INTO needs (id, key, queue, type, requires) VALUES (1, 'k', 'default', 'shell', '{}')`,
      ).run();
      const insert = db.prepare(
        `INSERT INTO jobs (needs_id, type, queue, payload, requires, meta, priority, state,
           max_attempts, kill_signal, kill_grace_ms, run_at, created_at, updated_at, finished_at,
           error)
         VALUES (1, 'shell', 'default', '{}', '{}', '{}', 0, ?, 3, 'SIGTERM', 10000, ?, ?, ?, ?, ?)`,
      );
      insert.run('held', T0, T0, T0 + 1, null, null);
      insert.run('failed', T0, T0, T0 + 2, T0 + 2, '{"code":"exit_code","message":"boom"}');
      insert.run('queued', T0, T0, T0, null, null);
    } finally {
      db.close();
    }
    const store = open(path);
    const lifecycle = { uncounted: 0, options: null, errorGroup: null };
    expect(await store.jobGet(1)).toMatchObject({
      ...lifecycle,
      state: 'held',
      hold: { reason: '', by: 'unknown', at: T0 + 1 },
    });
    expect(await store.jobGet(2)).toMatchObject({ ...lifecycle, state: 'failed', hold: null });
    expect(await store.jobGet(3)).toMatchObject({ ...lifecycle, state: 'queued', hold: null });
    // A failure from before error groups groups with the others like it, under ''.
    expect(await store.failedGroups('error', 10)).toEqual({
      total: 1,
      groups: [{ key: '', count: 1, newestId: 2 }],
    });
    expect(await store.jobSelectIds({ group: '' }, 0, 10)).toEqual([2]);
    // The held job leaves held as any other does.
    const [released] = await store.write((tx) =>
      tx.jobSetStateIfMany([{ id: 1, from: 'held', to: 'queued', now: T0 + 3, hold: null }]),
    );
    expect(released).toBe(true);
  });

  it('refuses a database written by a newer Switchyard, naming both versions', async () => {
    const store = open();
    const path = fileOf(store);
    await store.close();
    const db = raw(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      latestVersion + 1,
      'from the future',
      T0,
    );
    db.close();
    let error: unknown;
    try {
      open(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect((error as Error).message).toContain(`schema version ${latestVersion + 1}`);
    expect((error as Error).message).toContain(`at most version ${latestVersion}`);
  });

  describe('CHECK constraints reject impossible rows', () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['a state outside the closed set', { state: 'paused' }],
      ['a running job without a worker', { state: 'running' }],
      ['a succeeded job without an end time', { state: 'succeeded' }],
      ['max attempts below 1', { maxAttempts: 0 }],
      ['a negative kill grace', { killGraceMs: -1 }],
      ['a zero timeout', { timeoutMs: 0 }],
      ['a fractional priority', { priority: 1.5 }],
      ['an unknown needs', { needsId: 999 }],
    ];
    for (const [what, fields] of bad) {
      it(`refuses ${what}, rolling back the whole write`, async () => {
        const store = open();
        const needsId = await addNeeds(store);
        await expect(
          store.write((tx) =>
            tx.jobInsertMany([newJob(needsId), { ...newJob(needsId), ...fields } as never]),
          ),
        ).rejects.toThrow(/constraint|cannot store/i);
        expect((await store.jobList({ order: 'asc', limit: 10 })).length).toBe(0);
      });
    }

    it('refuses updates that break the lifecycle rules', async () => {
      const store = open();
      const needsId = await addNeeds(store);
      const id = await insertJob(store, newJob(needsId));
      await store.close();
      const db = raw(fileOf(store));
      db.pragma('foreign_keys = ON');
      try {
        const update = (sql: string) => () => db.prepare(sql).run(id);
        expect(update(`UPDATE jobs SET state = 'running' WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET state = 'failed' WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET finished_at = 1 WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET started_at = 1 WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET attempt = -1 WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET uncounted = -1 WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET state = 'held' WHERE id = ?`)).toThrow(/CHECK/);
        expect(update(`UPDATE jobs SET hold = '{}' WHERE id = ?`)).toThrow(/CHECK/);
      } finally {
        db.close();
      }
    });

    it('refuses log lines of an unknown stream or job', async () => {
      const store = open();
      const job = await runningJob(store, await addNeeds(store));
      const line: NewLogEntry = { jobId: job.id, attempt: 1, stream: 'stdout', at: T0, data: 'x' };
      const append = (entry: unknown) =>
        store.write((tx) => tx.jobLogAppend([entry as NewLogEntry]));
      await expect(append({ ...line, stream: 'stdin' })).rejects.toThrow(/CHECK/);
      await expect(append({ ...line, jobId: job.id + 1 })).rejects.toThrow(/FOREIGN KEY/);
      await append(line);
      expect(await store.jobLogs(job.id, 0, 10)).toHaveLength(1);
    });
  });

  /** The query plan of `sql` (parameters bound to NULL), one line per step. */
  const planOf = (path: string, sql: string): string[] => {
    const db = raw(path);
    try {
      const stmt = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
      const params = new Array<null>(sql.split('?').length - 1).fill(null);
      return (stmt.all(...params) as Array<{ detail: string }>).map((p) => p.detail);
    } finally {
      db.close();
    }
  };

  it('claims through the dispatch index, reading no more rows than asked and sorting none', () => {
    const plan = planOf(fileOf(open()), claimCandidatesSql);
    expect(plan).toEqual([expect.stringContaining('USING COVERING INDEX jobs_dispatch')]);
    expect(plan.join('\n')).not.toMatch(/TEMP B-TREE/);
  });

  it("claims one needs' jobs in one statement through the dispatch index, sorting none", () => {
    const plan = planOf(fileOf(open()), claimNeedsSql).join('\n');
    expect(plan).toMatch(/USING COVERING INDEX jobs_dispatch/);
    expect(plan).toMatch(/USING INTEGER PRIMARY KEY/);
    expect(plan).not.toMatch(/TEMP B-TREE|SCAN jobs/);
  });

  it('finds due and next scheduled jobs through the run-time index, sorting none', () => {
    const path = fileOf(open());
    for (const sql of [promoteSql, nextRunSql]) {
      const plan = planOf(path, sql).join('\n');
      expect(plan).toMatch(/USING COVERING INDEX jobs_scheduled/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });

  it('purges ended jobs oldest first from their own index, sorting none', () => {
    const plan = planOf(fileOf(open()), purgeCandidatesSql);
    expect(plan).toEqual([expect.stringContaining('USING COVERING INDEX jobs_ended')]);
  });

  it('groups the failed queue by error from its own index alone', () => {
    const plan = planOf(fileOf(open()), failedByErrorSql).join('\n');
    expect(plan).toMatch(/SCAN jobs USING COVERING INDEX jobs_failed_group/);
    // Only the groups are sorted (by size), never the jobs.
    expect(plan).not.toMatch(/TEMP B-TREE FOR GROUP BY/);
  });

  it('finishes writes already called before closing, then refuses new ones', async () => {
    const store = open();
    const pending = store.write((tx) => tx.settingSet('k', 'v'));
    const closing = store.close();
    await expect(store.write(async () => 1)).rejects.toThrow(/closed/);
    await pending;
    await closing;
    await store.close();
    await expect(store.jobGet(1)).rejects.toThrow(/closed/);
    const reopened = open(fileOf(store));
    expect(await reopened.settingGet('k')).toBe('v');
  });

  it('keeps jobs in every state countable after reopening', async () => {
    const store = open();
    const path = fileOf(store);
    const needsId = await addNeeds(store);
    const states = ['queued', 'scheduled', 'held', 'waiting'] as const;
    for (const state of states) await insertJob(store, newJob(needsId, { state }));
    await store.close();
    const counts = await open(path).jobCounts();
    expect(counts).toMatchObject({ queued: 1, scheduled: 1, held: 1, waiting: 1, running: 0 });
  });
});

describe('SqliteStore on a failing disk (a real tmpfs)', () => {
  let disk: ReturnType<typeof mountTmpfs>;
  let store: SqliteStore | undefined;
  beforeEach(() => {
    disk = mountTmpfs('2m');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    disk.unmount();
  });

  it('refuses writes on a full disk as store_unavailable, keeps reading, and writes again once there is room', async () => {
    store = SqliteStore.open({ path: join(disk.dir, 'test.db') });
    const needsId = await addNeeds(store);
    const before = await insertJob(store, newJob(needsId));

    disk.fill();
    const failed = await insertJob(store, newJob(needsId)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect(failed).toMatchObject({
      code: 'store_unavailable',
      fault: 'disk_full',
      message: 'the store cannot write: the disk is full (SQLITE_FULL)',
    });
    // Again: a failed write leaves no transaction open behind it.
    await expect(store.write((tx) => tx.settingSet('k', 'v'))).rejects.toMatchObject({
      fault: 'disk_full',
    });
    expect((await store.jobGet(before))?.state).toBe('queued');

    disk.unfill();
    const after = await insertJob(store, newJob(needsId));
    expect(after).toBeGreaterThan(before);
    const ids = (await store.jobList({ order: 'asc', limit: 10 })).map((j) => j.id);
    expect(ids).toEqual([before, after]);
  });

  it('refuses to open on a read-only file system, naming it, and opens once it is writable', async () => {
    const path = join(disk.dir, 'test.db');
    await SqliteStore.open({ path }).close();
    disk.remount('ro');
    let failed: unknown;
    try {
      SqliteStore.open({ path });
    } catch (error) {
      failed = error;
    }
    expect(failed).toMatchObject({
      code: 'store_unavailable',
      fault: 'read_only',
      message: `the store cannot open ${path}: the file system is read-only (SQLITE_CANTOPEN)`,
    });
    disk.remount('rw');
    store = SqliteStore.open({ path });
    await store.write((tx) => tx.settingSet('k', 'v'));
    expect(await store.settingGet('k')).toBe('v');
  });
});

describe('openStore', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('opens <dataDir>/switchyard.db for "sqlite", creating the directory', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const dataDir = join(dir, 'nested', 'data');
    const store = await openStore('sqlite', dataDir);
    try {
      expect(store.capabilities.name).toBe('sqlite');
      expect(existsSync(join(dataDir, 'switchyard.db'))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses a PostgreSQL URL it cannot reach, without echoing a password', async () => {
    for (const spec of ['postgres://u:secret@127.0.0.1:1/sy', 'postgresql://127.0.0.1:1/sy']) {
      const error = await openStore(spec, tmpdir()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StartupError);
      expect((error as Error).message).toMatch(
        /^cannot open the PostgreSQL store postgres(ql)?:\/\/.*the server refused the connection; /,
      );
      expect((error as Error).message).not.toContain('secret');
    }
  });

  it('names a value it does not understand', async () => {
    await expect(openStore('mysql://db', tmpdir())).rejects.toThrow(/"mysql:\/\/db"/);
    await expect(openStore('sqlite3', tmpdir())).rejects.toThrow(/"sqlite3"/);
  });
});
