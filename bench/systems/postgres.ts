/**
 * Helpers shared by the systems on PostgreSQL (the peers and Switchyard's PostgreSQL store):
 * settings of the server, dropping a schema, refreshing its planner statistics.
 */
import pg from 'pg';

/** Runs one statement on a short-lived connection. */
export async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** What a PostgreSQL COMMIT promises on this server; `ack` names the acknowledgment. */
export async function commitPromise(url: string, ack = 'ack'): Promise<string> {
  const [sync] = await query<{ synchronous_commit: string }>(url, 'SHOW synchronous_commit');
  const [fsync] = await query<{ fsync: string }>(url, 'SHOW fsync');
  const s = sync?.synchronous_commit ?? '?';
  const f = fsync?.fsync ?? '?';
  const durable = s !== 'off' && f === 'on';
  return (
    `${ack} = PostgreSQL COMMIT with synchronous_commit=${s}, fsync=${f}` +
    (durable ? ': WAL flushed to disk' : ': NOT flushed to disk before the ack')
  );
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await query(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * ANALYZE every table of a schema: the planner statistics that autovacuum keeps for a table
 * that filled over time (it is off on the bench server, and a freshly filled table has none,
 * which can turn an index lookup into a scan per row).
 */
export async function analyzeSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(
      'select tablename from pg_tables where schemaname = $1',
      [schema],
    );
    for (const { tablename } of rows) await client.query(`ANALYZE "${schema}"."${tablename}"`);
  } finally {
    await client.end();
  }
}
