/**
 * Dependencies between jobs: a waiting job waits until each of the jobs it depends on has
 * succeeded (src/domain/transitions.ts plans what then happens to it). A dependency deleted
 * meanwhile is still named by its link, and counts as canceled: it can never succeed.
 */
import type { JobOptions } from '../../domain/job.js';
import type { DependencyState } from '../../domain/transitions.js';
import type { Dependent } from '../store.js';
import type { Conn } from './connection.js';
import { dependencyFromRow, type DependencyRow } from './rows.js';

/** Linking twice is linking once. */
const addSql = 'INSERT INTO job_deps (job_id, depends_on) VALUES (?, ?) ON CONFLICT DO NOTHING';

/** Ids travel as one JSON array, so that one statement serves any number of them. */
const dependentsSql =
  `SELECT id, state, needs_id, priority, run_at, options FROM jobs WHERE state = 'waiting' AND id IN ` +
  `(SELECT job_id FROM job_deps WHERE depends_on IN (SELECT value FROM json_each(?))) ORDER BY id`;

/** The dependencies of jobs, with their states (NULL: deleted), in dependency id order. */
const dependenciesOfSql =
  `SELECT d.job_id, d.depends_on, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on ` +
  `WHERE d.job_id IN (SELECT value FROM json_each(?)) ORDER BY d.job_id, d.depends_on`;

const dependenciesSql =
  `SELECT d.job_id, d.depends_on, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on ` +
  `WHERE d.job_id = ? ORDER BY d.depends_on`;
const dependentIdsSql = 'SELECT job_id FROM job_deps WHERE depends_on = ? ORDER BY job_id';

export function jobDependenciesAdd(
  c: Conn,
  links: ReadonlyArray<{ jobId: number; dependsOn: number }>,
): void {
  const add = c.stmt(addSql);
  for (const l of links) add.run(l.jobId, l.dependsOn);
}

/** The waiting jobs that depend on any of `ids`, by id, each with all its dependencies. */
export function jobDependents(c: Conn, ids: readonly number[]): Dependent[] {
  if (ids.length === 0) return [];
  const rows = c.stmt(dependentsSql).all(JSON.stringify(ids)) as Array<{
    id: number;
    state: Dependent['state'];
    needs_id: number;
    priority: number;
    run_at: number;
    options: string | null;
  }>;
  if (rows.length === 0) return [];
  const dependents = new Map<number, Dependent>();
  for (const r of rows) {
    dependents.set(r.id, {
      id: r.id,
      state: r.state,
      needsId: r.needs_id,
      priority: r.priority,
      runAt: r.run_at,
      options: r.options === null ? null : (JSON.parse(r.options) as JobOptions),
      dependencies: [],
    });
  }
  const links = c
    .stmt(dependenciesOfSql)
    .all(JSON.stringify([...dependents.keys()])) as DependencyRow[];
  for (const link of links) dependents.get(link.job_id)?.dependencies.push(dependencyFromRow(link));
  return [...dependents.values()];
}

/** What one job waits for (with states) and which jobs wait for it. */
export function jobDependencyView(
  c: Conn,
  id: number,
): { dependencies: DependencyState[]; dependents: number[] } {
  const links = c.stmt(dependenciesSql).all(id) as DependencyRow[];
  const dependents = c.stmt(dependentIdsSql).all(id) as Array<{ job_id: number }>;
  return {
    dependencies: links.map(dependencyFromRow),
    dependents: dependents.map((r) => r.job_id),
  };
}
