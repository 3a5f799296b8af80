/**
 * The machine's real PostgreSQL for tests (SWITCHYARD_TEST_PG, default the local `test`
 * database): each caller gets a schema of its own, dropped afterwards.
 */
import pg from 'pg';

export const PG_URL = process.env.SWITCHYARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

let counter = 0;

export interface TestSchema {
  name: string;
  /** The store URL that selects this schema. */
  url: string;
  drop(): Promise<void>;
}

export function freshSchema(prefix = 'sy_it'): TestSchema {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const url = new URL(PG_URL);
  url.searchParams.set('schema', name);
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
