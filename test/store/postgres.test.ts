/**
 * The PostgreSQL store against the real server (SWITCHYARD_TEST_PG, default
 * postgres://postgres@127.0.0.1:5432/test): the contract suite, each test in a fresh schema
 * dropped afterwards, then what only PostgreSQL has: several stores (nodes) on one schema
 * migrating, claiming, publishing and leading at once, lost sessions, CHECK constraints, and
 * real faults (connections cut by the server, a read-only database).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StartupError } from '../../src/domain/errors.js';
import { openStore } from '../../src/store/open.js';
import { clientConfig, lockKey } from '../../src/store/postgres/connection.js';
import { parseLocation } from '../../src/store/postgres/location.js';
import { claimSql } from '../../src/store/postgres/jobs-claim.js';
import { promoteSql } from '../../src/store/postgres/jobs-enqueue.js';
import { failedBySql, nextRunSql } from '../../src/store/postgres/jobs-read.js';
import { purgeSql } from '../../src/store/postgres/jobs-remove.js';
import {
  latestVersion,
  migrate,
  migrations,
  SchemaTooNewError,
} from '../../src/store/postgres/migrations.js';
import { StoreUnavailableError } from '../../src/store/faults.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ClusterChannel, Dependent, NewLogEntry } from '../../src/store/store.js';
import { describeStoreContract } from './contract.js';
import { until } from './contract/cluster.js';
import { newSchedule } from './contract/schedules.js';
import {
  addNeeds,
  claim,
  endOf,
  insertJob,
  insertJobs,
  newJob,
  runningJob,
  T0,
  worker1,
  worker2,
} from './contract/helpers.js';

const url = process.env.SWITCHYARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

let schemas = 0;
/** A schema name no other test (or test process) uses. */
const freshSchema = (): string => `sy_test_${process.pid}_${++schemas}`;

/** Runs `fn` on a plain connection to the test database (search_path `schema` if given). */
async function withClient<T>(fn: (c: Client) => Promise<T>, schema?: string): Promise<T> {
  const config =
    schema === undefined
      ? { connectionString: url }
      : clientConfig(parseLocation(url, schema), 'switchyard-test');
  const client = new Client(config);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const dropSchema = (schema: string): Promise<unknown> =>
  withClient((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));

describeStoreContract('postgres', async () => {
  const schema = freshSchema();
  const store = await PostgresStore.open({ url, schema });
  return {
    store,
    async cleanup() {
      await store.close();
      await dropSchema(schema);
    },
  };
});

describe('PostgresStore', () => {
  const stores: PostgresStore[] = [];
  const made: string[] = [];
  /** A store on `schema` (a fresh one by default), closed and its schema dropped after the test. */
  const open = async (schema = freshSchema(), onError?: (e: Error) => void) => {
    if (!made.includes(schema)) made.push(schema);
    const store = await PostgresStore.open({ url, schema, ...(onError ? { onError } : {}) });
    stores.push(store);
    return store;
  };

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const schema of made.splice(0)) await dropSchema(schema);
  });

  it('says it serves several nodes and commits durably', async () => {
    expect((await open()).capabilities).toEqual({
      name: 'postgres',
      multiNode: true,
      durableCommit: true,
    });
  });

  it('serialises nodes taking the same gate, and lets other gates pass', async () => {
    const schema = freshSchema();
    const [a, b, c] = [await open(schema), await open(schema), await open(schema)];
    const order: string[] = [];
    let releaseFirst!: () => void;
    const held = new Promise<void>((r) => (releaseFirst = r));
    let firstIn!: () => void;
    const entered = new Promise<void>((r) => (firstIn = r));
    const first = a.write(async (tx) => {
      await tx.gateLock(['queue:g', 'limit:x']);
      order.push('first in');
      firstIn();
      await held;
      order.push('first out');
    });
    await entered;
    const second = b.write(async (tx) => {
      await tx.gateLock(['limit:x']);
      order.push('second in');
    });
    await c.write(async (tx) => {
      await tx.gateLock(['queue:other']);
      order.push('other in');
    });
    // The second node is still waiting for the first's commit.
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual(['first in', 'other in']);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'other in', 'first out', 'second in']);
  });

  it('keeps a payload’s JSON as sent, key order included', async () => {
    const store = await open();
    const id = await insertJob(store, newJob(await addNeeds(store), { payload: { b: 1, a: 2 } }));
    expect(Object.keys((await store.jobGet(id))?.payload as object)).toEqual(['b', 'a']);
  });

  describe('migrations', () => {
    it('run once when three stores open one new schema at the same time', async () => {
      const schema = freshSchema();
      made.push(schema);
      await Promise.all([open(schema), open(schema), open(schema)]);
      const { rows } = await withClient((c) =>
        c.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`),
      );
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version })));
    });

    it('are applied by exactly one of several concurrent migrations', async () => {
      const schema = freshSchema();
      made.push(schema);
      const location = parseLocation(url, schema);
      const applied = await Promise.all(
        [1, 2, 3].map(() => withClient((c) => migrate(c, schema, location.description), schema)),
      );
      const all = migrations.map((m) => m.version);
      expect(applied.filter((a) => a.length > 0)).toEqual([all]);
      expect(applied.filter((a) => a.length === 0)).toHaveLength(2);
    });

    it('give jobs from before migration 3 what the lifecycle reads of them', async () => {
      const schema = freshSchema();
      made.push(schema);
      await withClient((c) => c.query(`CREATE SCHEMA ${schema}`));
      // A schema as version 2 left it, with a held, a failed and a queued job.
      await withClient(async (c) => {
        await c.query(`CREATE TABLE schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
        for (const m of migrations.slice(0, 2)) {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            T0,
          ]);
        }
        await c.query(
          `INSERT INTO needs (id, key, queue, type, requires) VALUES (1, 'k', 'default', 'shell', '{}')`,
        );
        const insert = `INSERT INTO jobs (id, needs_id, type, queue, payload, requires, meta,
            priority, state, max_attempts, kill_signal, kill_grace_ms, run_at, created_at,
            updated_at, finished_at, error)
          VALUES ($1, 1, 'shell', 'default', '{}', '{}', '{}', 0, $2, 3, 'SIGTERM', 10000, $3, $3,
            $4, $5, $6)`;
        await c.query(insert, [1, 'held', T0, T0 + 1, null, null]);
        await c.query(insert, [2, 'failed', T0, T0 + 2, T0 + 2, '{"code":"exit_code"}']);
        await c.query(insert, [3, 'queued', T0, T0, null, null]);
      }, schema);
      const store = await open(schema);
      const lifecycle = { uncounted: 0, options: null, errorGroup: null };
      expect(await store.jobGet(1)).toMatchObject({
        ...lifecycle,
        state: 'held',
        hold: { reason: '', by: 'unknown', at: T0 + 1 },
      });
      expect(await store.jobGet(2)).toMatchObject({ ...lifecycle, state: 'failed', hold: null });
      expect(await store.jobGet(3)).toMatchObject({ ...lifecycle, state: 'queued', hold: null });
      expect(await store.failedGroups('error', 10)).toEqual({
        total: 1,
        groups: [{ key: '', count: 1, newestId: 2 }],
      });
      expect(await store.jobSelectIds({ group: '' }, 0, 10)).toEqual([2]);
      const [released] = await store.write((tx) =>
        tx.jobSetStateIfMany([{ id: 1, from: 'held', to: 'queued', now: T0 + 3, hold: null }]),
      );
      expect(released).toBe(true);
    });

    it('refuse a schema written by a newer Switchyard, naming both versions', async () => {
      const schema = freshSchema();
      await (await open(schema)).close();
      await withClient((c) =>
        c.query(
          `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
          [latestVersion + 1, 'from the future', T0],
        ),
      );
      const error = await PostgresStore.open({ url, schema }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).cause).toBeInstanceOf(SchemaTooNewError);
      expect((error as Error).message).toContain(`schema version ${latestVersion + 1}`);
      expect((error as Error).message).toContain(`at most version ${latestVersion}`);
    });
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
        const store = await open();
        const needsId = await addNeeds(store);
        await expect(
          store.write((tx) =>
            tx.jobInsertMany([newJob(needsId), { ...newJob(needsId), ...fields } as never]),
          ),
        ).rejects.toThrow(/constraint|invalid input syntax/i);
        expect(await store.jobList({ order: 'asc', limit: 10 })).toEqual([]);
      });
    }

    it('refuses updates that break the lifecycle rules', async () => {
      const schema = freshSchema();
      const store = await open(schema);
      const id = await insertJob(store, newJob(await addNeeds(store)));
      await withClient(async (c) => {
        for (const set of [
          `state = 'running'`,
          `state = 'failed'`,
          `finished_at = 1`,
          `started_at = 1`,
          `attempt = -1`,
          `uncounted = -1`,
          `state = 'held'`,
          `hold = '{}'`,
        ]) {
          await expect(
            c.query(`UPDATE ${schema}.jobs SET ${set} WHERE id = $1`, [id]),
          ).rejects.toThrow(/check constraint/);
        }
      });
    });

    it('refuses log lines of an unknown stream or job', async () => {
      const store = await open();
      const job = await runningJob(store, await addNeeds(store));
      const line: NewLogEntry = { jobId: job.id, attempt: 1, stream: 'stdout', at: T0, data: 'x' };
      const append = (entry: unknown) =>
        store.write((tx) => tx.jobLogAppend([entry as NewLogEntry]));
      await expect(append({ ...line, stream: 'stdin' })).rejects.toThrow(/check constraint/);
      await expect(append({ ...line, jobId: job.id + 1 })).rejects.toThrow(/foreign key/);
      await append(line);
      expect(await store.jobLogs(job.id, 0, 10)).toHaveLength(1);
    });
  });

  describe('query plans, on a few thousand analysed jobs', () => {
    /** The plan of `sql` with `params`, as text. */
    const planOf = async (schema: string, sql: string, params: unknown[]): Promise<string> => {
      const { rows } = await withClient(
        (c) => c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params),
        schema,
      );
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };

    it('claim through the dispatch index and update by primary key, scanning no table', async () => {
      const schema = freshSchema();
      const store = await open(schema);
      const needs = [await addNeeds(store, 'q', 'a'), await addNeeds(store, 'q', 'b')];
      await insertJobs(
        store,
        Array.from({ length: 3_000 }, (_, i) =>
          newJob(needs[i % 2] as number, {
            priority: i % 7,
            ...(i % 3 === 0 ? { state: 'scheduled', runAt: T0 + i } : {}),
          }),
        ),
      );
      await withClient((c) => c.query('ANALYZE'), schema);
      const claimPlan = await planOf(schema, claimSql, [needs, 10, 'w', 'n', 'o', T0]);
      expect(claimPlan).toMatch(/Index Only Scan using jobs_dispatch/);
      expect(claimPlan).toMatch(/Index Scan using jobs_pkey/);
      expect(claimPlan).not.toMatch(/Seq Scan on jobs/);
      for (const [sql, params] of [
        [promoteSql, [T0 + 10_000, 10]],
        [nextRunSql, []],
      ] as const) {
        const plan = await planOf(schema, sql, [...params]);
        expect(plan).toMatch(/Index (Only )?Scan using jobs_scheduled/);
        expect(plan).not.toMatch(/Seq Scan on jobs|Sort/);
      }
    });
  });

  describe('query plans of the lifecycle, on a few thousand analysed jobs', () => {
    const planOf = async (schema: string, sql: string, params: unknown[]): Promise<string> => {
      const { rows } = await withClient(
        (c) => c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params),
        schema,
      );
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };

    it('purge ended jobs and walk an error group through their partial indexes', async () => {
      const schema = freshSchema();
      const store = await open(schema);
      const needsId = await addNeeds(store);
      await insertJobs(
        store,
        Array.from({ length: 3_000 }, () => newJob(needsId)),
      );
      const { jobs } = await claim(store, [needsId], 2_000);
      await store.write((tx) =>
        tx.jobSetStateIfMany(
          jobs.map((job, i) =>
            i % 4 === 0
              ? endOf(job, 'failed', { errorGroup: `00000000000${i % 7}`, now: T0 + i })
              : endOf(job, 'succeeded', { now: T0 + i }),
          ),
        ),
      );
      await withClient((c) => c.query('ANALYZE'), schema);
      const purge = await planOf(schema, purgeSql, ['succeeded', T0 + 1_000, 10]);
      expect(purge).toMatch(/Index (Only )?Scan using jobs_ended/);
      expect(purge).not.toMatch(/Seq Scan on jobs/);
      // Only the jobs purged are sorted (for the answer), never the candidates.
      expect(purge.match(/Sort Key: .*/g)).toEqual(['Sort Key: gone.finished_at, gone.id']);
      // The shape jobs-select.ts builds for a group filter.
      const group = await planOf(
        schema,
        `SELECT id FROM jobs WHERE state = 'failed' AND error_group = $1 AND id > $2 ` +
          `ORDER BY id LIMIT $3`,
        ['000000000003', 0, 10],
      );
      expect(group).toMatch(/Index (Only )?Scan using jobs_failed_group/);
      // The groups read the failed jobs from their own index, not from the whole table.
      const groups = await planOf(schema, failedBySql('error_group'), [10]);
      expect(groups).toMatch(/(Scan using|Scan on) jobs_failed_group/);
      expect(groups).not.toMatch(/Seq Scan on jobs/);
    });
  });

  describe('several stores on one schema', () => {
    it('never claim one job twice when they claim at the same time', async () => {
      const schema = freshSchema();
      const nodes = [await open(schema), await open(schema), await open(schema)];
      const first = nodes[0] as PostgresStore;
      const needs = [
        await addNeeds(first, 'q', 'a'),
        await addNeeds(first, 'q', 'b'),
        await addNeeds(first, 'q', 'c'),
      ];
      const ids = await insertJobs(
        first,
        Array.from({ length: 300 }, (_, i) => newJob(needs[i % 3] as number, { priority: i % 5 })),
      );
      const claimed: number[] = [];
      await Promise.all(
        nodes.map(async (store, n) => {
          const who = { workerId: `w${n}`, workerName: `worker-${n}`, nodeId: `n${n}` };
          // Several claims in flight per store: each store still writes one at a time.
          await Promise.all(
            [0, 1, 2].map(async () => {
              for (;;) {
                const { jobs } = await claim(store, needs, 7, who);
                if (jobs.length === 0) return;
                claimed.push(...jobs.map((j) => j.id));
              }
            }),
          );
        }),
      );
      expect(claimed).toHaveLength(ids.length);
      expect(new Set(claimed).size).toBe(ids.length);
      expect((await first.jobCounts()).running).toBe(ids.length);
    });

    it('fire one tick of a schedule once when they fire it at the same time', async () => {
      const schedule = freshSchema();
      const nodes = [await open(schedule), await open(schedule), await open(schedule)];
      await nodes[0]!.write((tx) => tx.scheduleInsert(newSchedule()));
      const tick = { name: 'nightly', dueAt: T0 + 1_000, nextAt: T0 + 2_000, now: T0 + 1_000 };
      // Each node as the ticker does it: lock nothing first, advance from the due time read.
      const won = await Promise.all(
        nodes.flatMap((store) =>
          [0, 1].map(() =>
            store.write(async (tx) => {
              const ok = await tx.scheduleAdvance({ ...tick, fired: 1, skipped: 0 });
              // Hold the row a moment, so that the others wait on it rather than run after.
              await new Promise((resolve) => setTimeout(resolve, 50));
              return ok;
            }),
          ),
        ),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await nodes[1]!.scheduleGet('nightly')).toMatchObject({
        nextAt: T0 + 2_000,
        fired: 1,
      });
    });

    it('never claim one callback twice when they claim at the same time', async () => {
      const schema = freshSchema();
      const nodes = [await open(schema), await open(schema), await open(schema)];
      await nodes[0]!.write((tx) =>
        tx.outboxAdd(
          Array.from({ length: 200 }, (_, i) => ({
            key: `k${i}`,
            target: 'global' as const,
            url: 'http://127.0.0.1:9/hook',
            body: '{}',
            nextAt: T0 + (i % 7),
            createdAt: T0,
          })),
        ),
      );
      const claimed: string[] = [];
      await Promise.all(
        nodes.flatMap((store, n) =>
          [0, 1, 2].map(async (k) => {
            for (let round = 0; ; round++) {
              const got = await store.write((tx) =>
                tx.outboxClaim({
                  owner: `n${n}/${k}/${round}`,
                  now: T0 + 10,
                  leaseMs: 60_000,
                  limit: 9,
                }),
              );
              if (got.length === 0) return;
              claimed.push(...got.map((c) => c.key));
            }
          }),
        ),
      );
      expect(claimed).toHaveLength(200);
      expect(new Set(claimed).size).toBe(200);
    });

    it('skip jobs another store is claiming instead of waiting for them', async () => {
      const schema = freshSchema();
      const a = await open(schema);
      const b = await open(schema);
      const needsId = await addNeeds(a);
      const ids = await insertJobs(
        a,
        Array.from({ length: 4 }, () => newJob(needsId)),
      );
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let claimedByA: number[] = [];
      const holding = a.write(async (tx) => {
        const { jobs } = await tx.jobClaim({ needsIds: [needsId], limit: 2, now: T0, ...worker1 });
        claimedByA = jobs.map((j) => j.id);
        await gate;
      });
      await until(() => claimedByA.length === 2, 'the first claim');
      const byB = await claim(b, [needsId], 10, worker2);
      release();
      await holding;
      expect(claimedByA).toEqual(ids.slice(0, 2));
      expect(byB.jobs.map((j) => j.id)).toEqual(ids.slice(2));
      // Two of its jobs were locked, not claimed, by B: not reported exhausted.
      expect(byB.exhausted).toEqual([]);
    });

    for (const many of [false, true])
      it(`let one of many concurrent submitters with one uniqueness key insert its job; the others see it${many ? ' (keys taken many at once, in any order)' : ''}`, async () => {
        const schema = freshSchema();
        const first = await open(schema);
        const needsId = await addNeeds(first);
        // Each store writes one transaction at a time: twenty stores, twenty at once.
        const nodes = await Promise.all(
          Array.from({ length: 20 }, async () => {
            const store = await PostgresStore.open({ url, schema, poolSize: 1 });
            stores.push(store);
            return store;
          }),
        );
        /** Every store submits at once; a canceled holder is no duplicate. Returns who inserted. */
        const race = async (): Promise<number[]> => {
          let begun = 0;
          const outcomes = await Promise.all(
            nodes.map((store, n) =>
              store.write(async (tx) => {
                begun++;
                // Every transaction has begun before any takes the key.
                await until(() => begun === nodes.length, 'every transaction to begin');
                // Many at once: overlapping sets given in either order (taken in key order, no
                // deadlock).
                const holder = many
                  ? (
                      await tx.uniqueTakeMany(n % 2 === 0 ? ['nightly', 'a'] : ['z', 'nightly'])
                    ).get('nightly')!
                  : await tx.uniqueTake('nightly');
                if (holder !== null && holder.state !== 'canceled') {
                  return { holder: holder.jobId, inserted: null };
                }
                const [id] = await tx.jobInsertMany([newJob(needsId, { payload: { n } })]);
                // Long enough for the others to pile up behind the key.
                await new Promise((resolve) => setTimeout(resolve, 50));
                if (many) {
                  await tx.uniqueSetMany([
                    { key: 'nightly', jobId: id!, rule: { forMs: null, while: null } },
                  ]);
                } else {
                  await tx.uniqueSet('nightly', id!, { forMs: null, while: null });
                }
                return { holder: null, inserted: id! };
              }),
            ),
          );
          const inserted = outcomes.flatMap((o) => (o.inserted === null ? [] : [o.inserted]));
          expect(inserted).toHaveLength(1);
          expect(outcomes.filter((o) => o.holder === inserted[0])).toHaveLength(19);
          return inserted;
        };
        // A new key: the others wait for the first inserter of its row.
        const [one] = await race();
        expect(await first.jobSelectIds({}, 0, 100)).toEqual([one]);
        // A key held by a job that no longer counts: the others wait for the lock on its row, and
        // then see the job that replaced the holder.
        await first.write((tx) =>
          tx.jobSetStateIfMany([{ id: one!, from: 'queued', to: 'canceled', now: T0 }]),
        );
        const [two] = await race();
        expect(await first.jobSelectIds({}, 0, 100)).toEqual([one, two]);
      });

    it('let the last of two ending the dependencies of one job at once see both ended', async () => {
      const schema = freshSchema();
      const a = await open(schema);
      const b = await open(schema);
      const needsId = await addNeeds(a);
      const first = await runningJob(a, needsId);
      const second = await runningJob(a, needsId);
      const waiting = await insertJob(a, newJob(needsId, { state: 'waiting' }));
      await a.write((tx) =>
        tx.jobDependenciesAdd([
          { jobId: waiting, dependsOn: first.id },
          { jobId: waiting, dependsOn: second.id },
        ]),
      );
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let seenByA: Dependent[] | undefined;
      let seenByB: Dependent[] | undefined;
      const endingA = a.write(async (tx) => {
        await tx.jobSetStateIfMany([endOf(first, 'succeeded')]);
        seenByA = await tx.jobDependents([first.id]);
        await gate;
      });
      await until(() => seenByA !== undefined, 'the first end');
      const endingB = b.write(async (tx) => {
        await tx.jobSetStateIfMany([endOf(second, 'succeeded')]);
        seenByB = await tx.jobDependents([second.id]);
      });
      // B waits for the dependent A has locked.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const early = seenByB;
      release();
      await Promise.all([endingA, endingB]);
      expect(early).toBeUndefined();
      expect(seenByA?.map((d) => d.dependencies)).toEqual([
        [
          { id: first.id, state: 'succeeded' },
          { id: second.id, state: 'running' },
        ],
      ]);
      expect(seenByB?.map((d) => d.dependencies)).toEqual([
        [
          { id: first.id, state: 'succeeded' },
          { id: second.id, state: 'succeeded' },
        ],
      ]);
    });

    it('hear what any of them publishes, their own messages included', async () => {
      const schema = freshSchema();
      const a = await open(schema);
      const b = await open(schema);
      const other = await open();
      const heard = new Map<string, Array<[ClusterChannel, string]>>();
      for (const [name, store] of [
        ['a', a],
        ['b', b],
        ['other', other],
      ] as const) {
        heard.set(name, []);
        store.subscribe((channel, payload) => heard.get(name)?.push([channel, payload]));
      }
      await a.write((tx) => tx.publish('wake', '[3]'));
      await b.write((tx) => tx.publish('event', 'from b'));
      const both = [
        ['wake', '[3]'],
        ['event', 'from b'],
      ];
      await until(() => heard.get('a')?.length === 2 && heard.get('b')?.length === 2, 'both');
      expect(heard.get('a')).toEqual(both);
      expect(heard.get('b')).toEqual(both);
      // Another schema is another cluster.
      expect(heard.get('other')).toEqual([]);
    });

    it('let one lead at a time; another takes over when the leader closes', async () => {
      const schema = freshSchema();
      const a = await open(schema);
      const b = await open(schema);
      expect(await a.lead()).toBe(true);
      expect(await b.lead()).toBe(false);
      expect(await a.lead()).toBe(true);
      expect(await b.lead()).toBe(false);
      await a.close();
      expect(await b.lead()).toBe(true);
      await expect(a.lead()).rejects.toThrow(/closed/);
    });

    it('lose leadership with the session connection, and reconnect to hear messages again', async () => {
      const schema = freshSchema();
      const errors: Error[] = [];
      const a = await open(schema, (e) => errors.push(e));
      const b = await open(schema);
      expect(await a.lead()).toBe(true);
      const heard: string[] = [];
      a.subscribe((_channel, payload) => heard.push(payload));
      await withClient((c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' ` +
            `AND ((classid::bigint << 32) | objid::bigint) = $1::bigint ` +
            `AND objsubid = 1`,
          [lockKey('lead', schema)],
        ),
      );
      await until(() => errors.length > 0, 'the session loss to be noticed');
      expect(await a.lead()).toBe(false);
      expect(await b.lead()).toBe(true);
      // Back on a new session, `a` hears messages again but cannot lead while `b` does.
      let n = 0;
      await until(() => {
        b.write((tx) => tx.publish('event', `ping ${++n}`)).catch(() => undefined);
        return heard.length > 0;
      }, 'a message after reconnecting');
      expect(await a.lead()).toBe(false);
    });
  });

  it('keeps delivering to the others when a subscriber throws, and reports it', async () => {
    const errors: Error[] = [];
    const store = await open(undefined, (e) => errors.push(e));
    store.subscribe(() => {
      throw new Error('subscriber failure');
    });
    const heard: string[] = [];
    store.subscribe((_channel, payload) => heard.push(payload));
    await store.write((tx) => tx.publish('event', 'one'));
    await until(() => heard.length === 1, 'the message');
    expect(errors.map((e) => e.message)).toEqual([
      'a cluster subscriber threw: subscriber failure',
    ]);
  });

  it('refuses a message too large to publish, naming the limit', async () => {
    const store = await open();
    await expect(store.write((tx) => tx.publish('event', 'x'.repeat(7_001)))).rejects.toThrow(
      /7001 bytes is too large.*at most 7000 bytes/,
    );
  });

  it('finishes writes already called before closing, then refuses new ones', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    const pending = store.write((tx) => tx.settingSet('k', 'v'));
    const closing = store.close();
    await expect(store.write(async () => 1)).rejects.toThrow(/closed/);
    await pending;
    await closing;
    await store.close();
    await expect(store.jobGet(1)).rejects.toThrow(/closed/);
    expect(await (await open(schema)).settingGet('k')).toBe('v');
  });

  it('keeps ids growing across stores and reopening', async () => {
    const schema = freshSchema();
    const first = await open(schema);
    const needsId = await addNeeds(first);
    const a = await insertJob(first, newJob(needsId));
    await first.close();
    const second = await open(schema);
    expect(await addNeeds(second)).toBe(needsId);
    const b = await insertJob(second, newJob(needsId));
    expect(typeof b).toBe('number');
    expect(b).toBeGreaterThan(a);
    expect((await claim(second, [needsId], 5)).jobs.map((j) => j.id)).toEqual([a, b]);
  });
});

describe('PostgresStore meeting real faults', () => {
  // A role of the test's own, so that its connections (and only they) can be cut or made
  // read-only; trust authentication lets it in without a password.
  let role: string;
  let schema: string;
  let store: PostgresStore | undefined;
  let roles = 0;
  beforeEach(async () => {
    role = `sy_fault_${process.pid}_${++roles}`;
    schema = freshSchema();
    await withClient(async (c) => {
      const { rows } = await c.query<{ db: string }>('SELECT current_database() AS db');
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`GRANT CREATE ON DATABASE "${rows[0]!.db}" TO ${role}`);
    });
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await withClient(async (c) => {
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      // Also revokes the grant on the database, which would keep the role from being dropped.
      await c.query(`DROP OWNED BY ${role}`);
      await c.query(`DROP ROLE ${role}`);
    });
  });
  const openAsRole = (poolSize?: number): Promise<PostgresStore> => {
    const asRole = new URL(url);
    asRole.username = role;
    asRole.password = '';
    return PostgresStore.open({
      url: asRole.toString(),
      schema,
      ...(poolSize === undefined ? {} : { poolSize }),
    });
  };
  /** Ends every session of the role on the server's side (pooled and session connections). */
  const terminate = (): Promise<unknown> =>
    withClient((c) =>
      c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]),
    );
  const faultOf = (error: unknown): unknown => (error as { fault?: unknown } | undefined)?.fault;

  it('refuses writes on read-only connections as store_unavailable, keeps reading, and writes once they are writable', async () => {
    store = await openAsRole(1);
    const needsId = await addNeeds(store);
    const before = await insertJob(store, newJob(needsId));

    // What an operator does to stop all writes, or what a standby answers: new sessions of the
    // role are read-only. Cutting the current ones makes the pool open new ones.
    await withClient((c) => c.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`));
    await terminate();
    let failed: unknown;
    // The first write may still meet a connection the server cut: a fault too.
    for (let i = 0; i < 3 && faultOf(failed) !== 'read_only'; i++) {
      failed = await insertJob(store, newJob(needsId)).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(StoreUnavailableError);
      expect(['connection', 'read_only']).toContain(faultOf(failed));
    }
    expect(failed).toMatchObject({
      code: 'store_unavailable',
      fault: 'read_only',
      message: 'the store cannot write: the database is read-only (25006)',
    });
    expect((await store.jobGet(before))?.state).toBe('queued');

    await withClient((c) => c.query(`ALTER ROLE ${role} RESET default_transaction_read_only`));
    // A connection opened while the role was read-only stays so; the store drops it at its
    // first failed write, and the next one is writable.
    let after: number | undefined;
    for (let i = 0; i < 3 && after === undefined; i++) {
      after = await insertJob(store, newJob(needsId)).catch((e: unknown) => {
        expect(faultOf(e)).toBe('read_only');
        return undefined;
      });
    }
    expect(after).toBeGreaterThan(before);
    expect(await insertJob(store, newJob(needsId))).toBeGreaterThan(after!);
  });

  it('fails a write whose connection the server ends mid-transaction as store_unavailable, then writes again', async () => {
    store = await openAsRole();
    const failed = await store
      .write(async (tx) => {
        await tx.settingSet('lost', 'x');
        await terminate();
        await tx.settingSet('after', 'x');
      })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect(failed).toMatchObject({ code: 'store_unavailable', fault: 'connection' });
    expect((failed as Error).message).toMatch(/^the store cannot write: /);

    await store.write((tx) => tx.settingSet('next', 'y'));
    expect(await store.settingGet('next')).toBe('y');
    expect(await store.settingGet('lost')).toBeUndefined();
  });
});

describe('openStore with a PostgreSQL URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens the schema the URL names, creating it', async () => {
    const schema = freshSchema();
    const spec = `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`;
    const store = await openStore(spec, dir);
    try {
      expect(store.capabilities.name).toBe('postgres');
      await store.write((tx) => tx.settingSet('where', 'here'));
      const { rows } = await withClient((c) =>
        c.query(`SELECT value FROM ${schema}.settings WHERE key = 'where'`),
      );
      expect(rows).toEqual([{ value: 'here' }]);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it('names a bad schema and an unreachable server without echoing a password', async () => {
    await expect(openStore(`${url}?schema=Bad-Name`, dir)).rejects.toThrow(/schema "Bad-Name"/);
    const error = await openStore('postgresql://u:secret@127.0.0.1:1/sy', dir).catch(
      (e: unknown) => e,
    );
    // Opening the store is starting the broker: a StartupError that says what to do (exit 9).
    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toMatch(
      /^cannot open the PostgreSQL store postgresql:\/\/u:\*\*\*@127\.0\.0\.1:1\/sy .*: the server refused the connection; check that PostgreSQL runs there/,
    );
    expect((error as Error).message).not.toContain('secret');
  });
});
