/**
 * Broker nodes on one PostgreSQL database, as real processes, for the cluster suites: each test
 * gets a fresh schema and data directory; after it every process is killed, the schema dropped
 * and the directory removed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { freshSchema, type TestSchema } from './postgres.js';
import { brokerArgs, killAll, startBrokerProcess, type BrokerProcess } from './processes.js';

/**
 * A liveness window of 2 s: short enough for the tests that kill nodes, long enough that a
 * worker on a loaded 2-core machine is never declared dead while it works.
 */
export const CLUSTER_LIVENESS: readonly string[] = [
  '--ping-interval',
  '200',
  '--max-liveness',
  '10',
];

export interface ClusterFixture {
  /** This test's directory (each node's data directory is below it). */
  readonly dir: string;
  readonly schema: TestSchema;
  /** A node with its data in `dir/name`, on the test's schema. */
  node(name: string, ports?: { clients: number; workers: number }): Promise<BrokerProcess>;
  /** `n` nodes `node0`..., one after the other: the first creates the schema, and it leads. */
  cluster(n: number): Promise<BrokerProcess[]>;
}

/** Registers the per-test set-up and clean-up; `liveness` are the nodes' liveness flags. */
export function useCluster(
  names: { dir: string; schema: string },
  liveness: readonly string[] = CLUSTER_LIVENESS,
): ClusterFixture {
  let dir = '';
  let schema: TestSchema | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), names.dir));
    schema = freshSchema(names.schema);
  });
  afterEach(async () => {
    await killAll();
    await schema?.drop();
    await rm(dir, { recursive: true, force: true });
  });
  const fixture: ClusterFixture = {
    get dir() {
      return dir;
    },
    get schema() {
      if (schema === undefined) throw new Error('the cluster fixture is used outside a test');
      return schema;
    },
    node: (name, ports) =>
      startBrokerProcess([
        '--store',
        fixture.schema.url,
        ...brokerArgs(join(dir, name), ports),
        ...liveness,
      ]),
    async cluster(n) {
      const nodes: BrokerProcess[] = [];
      for (let i = 0; i < n; i++) nodes.push(await fixture.node(`node${i}`));
      return nodes;
    },
  };
  return fixture;
}
