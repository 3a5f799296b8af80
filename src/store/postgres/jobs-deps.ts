/**
 * Dependencies between jobs: a waiting job waits until each of the jobs it depends on has
 * succeeded (src/domain/transitions.ts plans what then happens to it). A dependency deleted
 * meanwhile is still named by its link, and counts as canceled: it can never succeed.
 */
import type { JobOptions } from '../../domain/job.js';
import type { DependencyState } from '../../domain/transitions.js';
import type { Dependent } from '../store.js';
import type { Queryable } from './connection.js';
import { dependencyFromRow, type DependencyRow } from './rows.js';

/** Linking twice is linking once. */
const addSql = `
  INSERT INTO job_deps (job_id, depends_on)
  SELECT * FROM unnest($1::bigint[], $2::bigint[])
  ON CONFLICT DO NOTHING`;

/**
 * The waiting dependents, locked until the commit (in id order, as jobGetForUpdate locks). Two
 * nodes ending two dependencies of one job at once would each read the other's as still
 * running, and the job would wait forever: the lock makes the second wait for the first's
 * commit, and its next statement (below) sees the first's dependency ended.
 */
const dependentsSql = `
  SELECT id, state, needs_id, priority, run_at, options FROM jobs
  WHERE state = 'waiting'
    AND id IN (SELECT job_id FROM job_deps WHERE depends_on = ANY ($1::bigint[]))
  ORDER BY id
  FOR UPDATE`;

/** The dependencies of jobs, with their states (NULL: deleted), in dependency id order. */
const dependenciesOfSql = `
  SELECT d.job_id, d.depends_on, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on
  WHERE d.job_id = ANY ($1::bigint[]) ORDER BY d.job_id, d.depends_on`;

const dependenciesSql = `
  SELECT d.job_id, d.depends_on, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.depends_on
  WHERE d.job_id = $1 ORDER BY d.depends_on`;
const dependentIdsSql = 'SELECT job_id FROM job_deps WHERE depends_on = $1 ORDER BY job_id';

export async function jobDependenciesAdd(
  c: Queryable,
  links: ReadonlyArray<{ jobId: number; dependsOn: number }>,
): Promise<void> {
  if (links.length === 0) return;
  await c.query(addSql, [links.map((l) => l.jobId), links.map((l) => l.dependsOn)]);
}

/** The waiting jobs that depend on any of `ids`, by id, each with all its dependencies. */
export async function jobDependents(c: Queryable, ids: readonly number[]): Promise<Dependent[]> {
  if (ids.length === 0) return [];
  const { rows } = await c.query<{
    id: number;
    state: Dependent['state'];
    needs_id: number;
    priority: number;
    run_at: number;
    options: JobOptions | null;
  }>(dependentsSql, [ids]);
  if (rows.length === 0) return [];
  const dependents = new Map<number, Dependent>();
  for (const r of rows) {
    dependents.set(r.id, {
      id: r.id,
      state: r.state,
      needsId: r.needs_id,
      priority: r.priority,
      runAt: r.run_at,
      options: r.options,
      dependencies: [],
    });
  }
  const links = await c.query<DependencyRow>(dependenciesOfSql, [[...dependents.keys()]]);
  for (const link of links.rows) {
    dependents.get(link.job_id)?.dependencies.push(dependencyFromRow(link));
  }
  return [...dependents.values()];
}

/** What one job waits for (with states) and which jobs wait for it. */
export async function jobDependencyView(
  c: Queryable,
  id: number,
): Promise<{ dependencies: DependencyState[]; dependents: number[] }> {
  const links = await c.query<DependencyRow>(dependenciesSql, [id]);
  const dependents = await c.query<{ job_id: number }>(dependentIdsSql, [id]);
  return {
    dependencies: links.rows.map(dependencyFromRow),
    dependents: dependents.rows.map((r) => r.job_id),
  };
}
