/**
 * The SQLite schema, as numbered migrations. They run when a store opens, all in one immediate
 * transaction (two processes opening the same file at once cannot both apply one), and each is
 * recorded in `schema_migrations`. A database whose schema is newer than this code is refused:
 * running old code on it could silently break rules the newer schema relies on.
 *
 * Never edit a migration that has shipped; add the next number.
 *
 * The schema enforces the job lifecycle with CHECK constraints, so that a bug in the broker
 * fails loudly at the write instead of leaving a job no code path can move again. JSON columns
 * are TEXT written only by this store's own serializer, so they carry no `json_valid` check
 * (it would parse every payload once more on the hot path).
 */
import type { Database } from 'better-sqlite3';
import { StartupError } from '../../domain/errors.js';

/** One step of the schema. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const terminal = `('succeeded', 'failed', 'canceled')`;

/** Every migration, in order; versions are 1, 2, 3, ... without gaps. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE needs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        queue TEXT NOT NULL,
        type TEXT NOT NULL,
        requires TEXT NOT NULL
      ) STRICT;

      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        needs_id INTEGER NOT NULL REFERENCES needs (id),
        type TEXT NOT NULL,
        queue TEXT NOT NULL,
        payload TEXT NOT NULL,
        requires TEXT NOT NULL,
        meta TEXT NOT NULL,
        priority INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN
          ('waiting', 'scheduled', 'queued', 'running', 'held', 'succeeded', 'failed', 'canceled')),
        max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
        attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        request_failures INTEGER NOT NULL DEFAULT 0 CHECK (request_failures >= 0),
        timeout_ms INTEGER CHECK (timeout_ms IS NULL OR timeout_ms > 0),
        kill_signal TEXT NOT NULL CHECK (kill_signal <> ''),
        kill_grace_ms INTEGER NOT NULL CHECK (kill_grace_ms >= 0),
        run_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        worker_id TEXT,
        worker_name TEXT,
        node_id TEXT,
        progress TEXT,
        attributes TEXT NOT NULL DEFAULT '{}',
        result TEXT,
        error TEXT,
        attempts TEXT NOT NULL DEFAULT '[]',
        -- A running job is leased: someone runs it, since some time, as some attempt.
        CHECK (state <> 'running' OR (worker_id IS NOT NULL AND worker_name IS NOT NULL
          AND node_id IS NOT NULL AND started_at IS NOT NULL AND attempt >= 1)),
        -- Exactly the ended jobs have an end time (a retry of an ended job clears it).
        CHECK ((finished_at IS NOT NULL) = (state IN ${terminal})),
        -- Only a job that has run has a start time.
        CHECK (started_at IS NULL OR attempt >= 1)
      ) STRICT;

      -- Every index costs each job's lifecycle a B-tree write per transition, so there are
      -- few. Queries that must use a partial one name it (INDEXED BY): without statistics the
      -- planner prefers jobs_state for any state = '...' term.
      --
      -- Dispatch: a worker's claim reads the best queued jobs of one needs from here.
      CREATE INDEX jobs_dispatch ON jobs (needs_id, priority DESC, id) WHERE state = 'queued';
      -- Promotion of due scheduled jobs, and the next wake-up time.
      CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
      -- Listing by state with id cursors, counts per state (covering), and the running jobs
      -- (orphans, a worker's jobs): those are few, bounded by the workers' slots, so a
      -- separate index of running jobs by node would cost every claim and end for nothing.
      CREATE INDEX jobs_state ON jobs (state, id);

      CREATE TABLE job_logs (
        seq INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        stream TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
        at INTEGER NOT NULL,
        data TEXT NOT NULL
      ) STRICT;
      CREATE INDEX job_logs_job ON job_logs (job_id, seq);

      CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        node_id TEXT NOT NULL,
        labels TEXT NOT NULL,
        types TEXT NOT NULL,
        queues TEXT NOT NULL,
        slots INTEGER NOT NULL CHECK (slots >= 0),
        address TEXT,
        connected_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        online INTEGER NOT NULL CHECK (online IN (0, 1))
      ) STRICT;

      CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    // A job's successful attempt is the row's own lease columns (attempt, worker, start, end):
    // ending it no longer rewrites the attempts JSON, which cost a third of the end's UPDATE.
    // Rows written before keep that record as the last element of `attempts`; drop it, since
    // reading a succeeded row now appends it from the columns.
    version: 2,
    name: 'succeeded attempt from the row',
    sql: `
      UPDATE jobs SET attempts = json_remove(attempts, '$[#-1]')
      WHERE state = 'succeeded' AND json_array_length(attempts) > 0;
    `,
  },
  {
    version: 3,
    name: 'kernel: runs re-queued ahead, worker secrets, commands between nodes, output kept',
    sql: `
      -- A job whose run was lost to the system goes back ahead of its priority (1), not behind
      -- the jobs that came after it; dispatch reads that order from its index.
      ALTER TABLE jobs ADD COLUMN ahead INTEGER NOT NULL DEFAULT 0 CHECK (ahead IN (0, 1));
      DROP INDEX jobs_dispatch;
      CREATE INDEX jobs_dispatch ON jobs (needs_id, priority DESC, ahead DESC, id)
        WHERE state = 'queued';

      -- A worker proves who it is on every reconnect with the secret it was welcomed with;
      -- only its hash is kept.
      ALTER TABLE workers ADD COLUMN secret_hash TEXT;

      -- Commands addressed to one node (stop a job its worker runs, ...), kept until that node
      -- takes them: a wake-up lost on the way delays a command, never loses it.
      CREATE TABLE node_commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX node_commands_node ON node_commands (node_id, id);

      -- A job keeps the head and the tail of its output (src/broker/output.ts): each piece's
      -- size (in UTF-8 bytes, as sent), and per job how much was dropped and after which piece.
      ALTER TABLE job_logs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0);
      UPDATE job_logs SET bytes = length(CAST(data AS BLOB));
      ALTER TABLE jobs ADD COLUMN output_dropped INTEGER NOT NULL DEFAULT 0
        CHECK (output_dropped >= 0);
      ALTER TABLE jobs ADD COLUMN output_gap_after INTEGER;
    `,
  },
  {
    version: 4,
    name: 'job lifecycle: holds, options, error groups, dependencies, uniqueness keys',
    sql: `
      -- What a job asked for beyond the defaults (back-off, silence timeout, uniqueness), NULL
      -- for most jobs; why and by whom a held job is held; a failed job's group in the failed
      -- queue (src/domain/error-groups.ts; NULL for jobs that failed before this version).
      ALTER TABLE jobs ADD COLUMN options TEXT;
      ALTER TABLE jobs ADD COLUMN hold TEXT;
      ALTER TABLE jobs ADD COLUMN error_group TEXT;
      -- Jobs held before this version get a hold that says nothing of why or by whom.
      UPDATE jobs SET hold = json_object('reason', '', 'by', 'unknown', 'at', updated_at)
      WHERE state = 'held';
      -- Attempts that do not count against max_attempts (stopped by a hold, or before a retry
      -- by hand). SQLite adds a CHECK only with a new column, and tests it against the rows
      -- already there: the rule that exactly the held jobs have a hold rides on this column,
      -- added after the held rows got theirs.
      ALTER TABLE jobs ADD COLUMN uncounted INTEGER NOT NULL DEFAULT 0 CHECK (uncounted >= 0)
        CHECK ((hold IS NOT NULL) = (state = 'held'));

      -- The failed queue: jobs of one error group in id order (a filter), and the groups with
      -- their sizes, read from this index alone. Partial, so that only a job's failure and its
      -- retry write it. Grouping by queue or type reads the failed rows through jobs_state
      -- instead: an index for each would cost every failure two more writes for a dashboard.
      CREATE INDEX jobs_failed_group ON jobs (error_group, id) WHERE state = 'failed';
      -- Purging ended jobs oldest first (retention), as River's cleaner does: without it each
      -- purge would read and sort every job in the state, even when none is old enough.
      -- Exactly the ended jobs have an end time (CHECK above), so the partial index holds only
      -- them: a job writes it once, as it ends, and live jobs' transitions never touch it.
      -- Measured: about 3 µs more per success (15-20 % of a non-durable end, less than the
      -- sync of a durable one). IS NOT NULL, not state IN (...): SQLite uses a partial index
      -- only for queries whose terms imply its WHERE, and finished_at < ? implies
      -- finished_at IS NOT NULL while state = ? implies no list of states.
      CREATE INDEX jobs_ended ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;

      -- A waiting job waits for each of its dependencies to succeed. depends_on is no foreign
      -- key: a dependency deleted meanwhile stays named here, and counts as canceled.
      CREATE TABLE job_deps (
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        depends_on INTEGER NOT NULL,
        PRIMARY KEY (job_id, depends_on)
      ) STRICT, WITHOUT ROWID;
      -- The jobs waiting for one that just ended.
      CREATE INDEX job_deps_depends_on ON job_deps (depends_on);

      -- Deduplication of submissions: the job that holds each key, with its rule (while_states
      -- a JSON array of states, NULL for any). job_id is no foreign key, as in PostgreSQL,
      -- whose store takes a key before its job exists: a key whose job is gone is free.
      CREATE TABLE unique_keys (
        key TEXT PRIMARY KEY,
        job_id INTEGER NOT NULL,
        for_ms INTEGER,
        while_states TEXT
      ) STRICT, WITHOUT ROWID;
      -- Deleting jobs deletes the keys they hold.
      CREATE INDEX unique_keys_job ON unique_keys (job_id);
    `,
  },
  {
    version: 5,
    name: 'job messages: every change of state, progress and attribute, in order with output',
    sql: `
      -- A job's messages besides its output (src/broker/journal.ts), in the order of one
      -- counter shared with job_logs, so that all of a job's messages are ordered by seq.
      -- attempt is NULL where no attempt is meant (a job submitted, or promoted from a delay).
      -- data is the message's JSON text. Keyed by job: a job's messages are one range, read
      -- in order and deleted with it (jobs-remove.ts) without a second index to write. No
      -- foreign key: its check on every message cost W1 a fifth of its throughput; messages
      -- are only added for jobs that exist in the same transaction (src/broker/journal.ts).
      CREATE TABLE job_messages (
        job_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        attempt INTEGER CHECK (attempt >= 1),
        at INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('state', 'progress', 'attribute')),
        data TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
      ) STRICT, WITHOUT ROWID;

      -- Counters taken a batch at a time. 'message': the last seq given to a message or to a
      -- piece of output (job_logs.seq is given from it from this version on).
      CREATE TABLE sequences (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      INSERT INTO sequences (name, value)
      SELECT 'message', coalesce(max(seq), 0) FROM job_logs;
    `,
  },
  {
    version: 6,
    name: 'notifier outbox',
    sql: `
      -- Callbacks to send (src/broker/notifier.ts), added in the transaction of the event they
      -- tell of and removed once delivered or given up. key is the idempotency key. target
      -- names whose credentials go with it (the global notifier's, or none for a job's own
      -- URL): the credentials stay in the config. A try claims the row until claimed_until;
      -- a broker that dies mid-send leaves it to be taken again once that passes.
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        target TEXT NOT NULL CHECK (target IN ('global', 'job')),
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_at INTEGER NOT NULL,
        claimed_by TEXT,
        claimed_until INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
      ) STRICT;
      -- The due callbacks, earliest first.
      CREATE INDEX outbox_due ON outbox (next_at, id);
    `,
  },
  {
    version: 7,
    name: 'queues as objects: disciplines, fair groups, rate buckets, named limits',
    sql: `
      -- A job's group (fair queueing, per-group rates), and its place under its queue's
      -- discipline (src/domain/queues.ts): dispatch takes jobs by rank, then re-queued ahead,
      -- then tag (fair: the virtual finish time), then age. rank is the priority, except in
      -- fifo queues (0); tag is 0 except in fair queues.
      ALTER TABLE jobs ADD COLUMN grp TEXT;
      ALTER TABLE jobs ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN tag REAL NOT NULL DEFAULT 0;
      UPDATE jobs SET rank = priority WHERE priority <> 0;
      DROP INDEX jobs_dispatch;
      CREATE INDEX jobs_dispatch ON jobs (needs_id, rank DESC, ahead DESC, tag, id)
        WHERE state = 'queued';
      -- The named concurrency limits a needs' jobs take ([{"name","units"}]), NULL for none:
      -- part of the needs' key, so a needs' jobs all take the same.
      ALTER TABLE needs ADD COLUMN limits TEXT;
      -- Queues created with settings or paused (others exist by being used). settings: JSON.
      CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      -- fair: the virtual finish time of each group's last job.
      CREATE TABLE queue_groups (
        queue TEXT NOT NULL,
        grp TEXT NOT NULL,
        last_tag REAL NOT NULL,
        PRIMARY KEY (queue, grp)
      ) STRICT, WITHOUT ROWID;
      -- Token buckets of rate limits ('queue:<name>', 'group:<queue>:<group>').
      CREATE TABLE buckets (
        key TEXT PRIMARY KEY,
        tokens REAL NOT NULL,
        at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      -- The totals of named concurrency limits (a limit without a row has none).
      CREATE TABLE limits (
        name TEXT PRIMARY KEY,
        max INTEGER NOT NULL CHECK (max >= 0),
        updated_at INTEGER NOT NULL
      ) STRICT;
      -- Each node's recent counts of jobs in and out per queue (JSON), for the queue listing.
      ALTER TABLE nodes ADD COLUMN queue_stats TEXT;
    `,
  },
  {
    version: 8,
    name: 'cron schedules',
    sql: `
      -- Named cron schedules (src/broker/schedules.ts). template is the JSON of the job each
      -- tick submits (checked as a submission when it was set). next_at is the due time of the
      -- next tick: a tick is fired by the transaction that moves it on from the value it read
      -- (UPDATE ... WHERE next_at = <read>) and inserts the tick's job, so that of several
      -- nodes one fires it, and a crash leaves it fired or not, never half. last_job_id has no
      -- foreign key: the job may be deleted or purged before the next tick looks at it.
      CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        cron TEXT NOT NULL,
        timezone TEXT NOT NULL,
        template TEXT NOT NULL,
        overlap TEXT NOT NULL CHECK (overlap IN ('skip', 'allow')),
        missed TEXT NOT NULL CHECK (missed IN ('once', 'skip')),
        paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
        next_at INTEGER,
        last_run_at INTEGER,
        last_job_id INTEGER,
        fired INTEGER NOT NULL DEFAULT 0 CHECK (fired >= 0),
        skipped INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 9,
    name: 'workers under control: status and schedule, queues and types, blocklist, usage',
    sql: `
      -- What operators decided about a worker (src/domain/worker-control.ts), as JSON: kept
      -- per worker id, so it holds across reconnects, nodes and restarts.
      CREATE TABLE worker_controls (
        worker_id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      -- Failures of a worker per queue and type; blocked from blocked_at on, until cleared.
      CREATE TABLE worker_blocklist (
        worker_id TEXT NOT NULL,
        queue TEXT NOT NULL,
        type TEXT NOT NULL,
        failures INTEGER NOT NULL CHECK (failures > 0),
        blocked_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (worker_id, queue, type)
      ) STRICT;
      -- The workers blocked for a queue and type (the jobs' view).
      CREATE INDEX worker_blocklist_blocked ON worker_blocklist (queue, type)
        WHERE blocked_at IS NOT NULL;
      -- Usage samples: fine (a heartbeat each 5 s at most, an hour) and minute averages (a day).
      CREATE TABLE worker_usage (
        worker_id TEXT NOT NULL,
        resolution TEXT NOT NULL CHECK (resolution IN ('fine', 'minute')),
        at INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (worker_id, resolution, at)
      ) STRICT;
      CREATE INDEX worker_usage_age ON worker_usage (resolution, at);
    `,
  },
];

/** The schema version this code writes and understands. */
export const latestVersion: number = migrations[migrations.length - 1]?.version ?? 0;

/** Thrown when the database was written by a newer Switchyard: the broker cannot start on it. */
export class SchemaTooNewError extends StartupError {
  constructor(
    readonly path: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `the database ${path} has schema version ${found}, but this Switchyard supports at most ` +
        `version ${supported}: upgrade Switchyard (or point it at another data directory)`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * Brings the schema of `db` up to `latestVersion`; returns the versions it applied (none when
 * already current). `now` stamps the records.
 */
export function migrate(db: Database, now: number = Date.now()): number[] {
  const run = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    const current = row.v ?? 0;
    if (current > latestVersion) throw new SchemaTooNewError(db.name, current, latestVersion);
    const record = db.prepare(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, now);
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}
