/** What a workload gets, and what it gives back: figures by metric id. */
import type { BenchEnv, SystemAdapter, SystemInstance } from '../systems/types.js';
import { WorkerGroup, type GroupOptions } from '../worker-link.js';

/** A measured value, or why there is none. */
export type Figure = number | 'timeout' | 'n/a' | 'error';

export interface Params {
  quick: boolean;
  /** W1: jobs per phase. */
  w1Jobs: number;
  /** W1 (b): concurrent one-by-one submitters. */
  submitters: number;
  /** W2: jobs, and the most time to spend on them per system. */
  w2Jobs: number;
  w2BudgetMs: number;
  /** W3: jobs queued behind the head, and jobs timed at the head. */
  w3Depth: number;
  w3Head: number;
  /** W4: connected 1-slot workers, processes holding them, jobs, idle window. */
  w4Workers: number;
  w4Processes: number;
  w4Jobs: number;
  w4IdleMs: number;
  /** W6: failed jobs retried in one call, and jobs timed W2's way with no retry running. */
  w6Jobs: number;
  w6Probes: number;
  /** W7: jobs per phase (plain and unique, in bulk and one by one). */
  w7Jobs: number;
}

/**
 * Everything a workload run holds (instances, worker processes) is registered here and closed
 * at the end, also when the run timed out.
 */
export class Scope {
  private readonly closers: Array<() => Promise<void>> = [];
  readonly controller = new AbortController();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async open(adapter: SystemAdapter, env: BenchEnv, label: string): Promise<SystemInstance> {
    const instance = await adapter.open(env, { label });
    this.closers.push(() => instance.close());
    return instance;
  }

  async workers(
    adapter: SystemAdapter,
    instance: SystemInstance,
    options: Omit<GroupOptions, 'signal'>,
  ): Promise<WorkerGroup> {
    const group = await WorkerGroup.create(adapter, instance, { ...options, signal: this.signal });
    this.closers.push(() => group.close());
    return group;
  }

  /** Closes in reverse order (worker processes before their broker), each within a bound. */
  async close(log: (message: string) => void): Promise<void> {
    for (const close of this.closers.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>(
        (resolve) => (timer = setTimeout(() => resolve('late'), 30_000)),
      );
      try {
        if ((await Promise.race([close(), late])) === 'late') log('  (cleanup step timed out)');
      } catch (error) {
        log(`  (cleanup: ${error instanceof Error ? error.message : String(error)})`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.closers.length = 0;
  }
}

export interface WorkloadRun {
  adapter: SystemAdapter;
  env: BenchEnv;
  params: Params;
  scope: Scope;
  /** Names instances (profiles): e.g. `w1-run1`. */
  label: string;
  /** Figures measured so far; the harness marks the missing ones `timeout` on a timeout. */
  figures: Record<string, Figure>;
  /** Statements rather than figures (W5's), by key. */
  texts: Record<string, string>;
  notes: string[];
  log(message: string): void;
}

export interface Metric {
  id: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower' | null;
  /** Relative target against the peers: `2x` (throughput) or `below` (latency). */
  rule?: '2x' | 'below';
  /** An absolute target for the subject, checked on its own. */
  absolute?: { op: '<=' | '>=' | '<'; value: number; text: string };
  /** The figure for its reference machine, shown for scale. */
  reference?: string;
}

export interface Workload {
  id: string;
  title: string;
  metrics: Metric[];
  /** Worst-case duration for one system and one run (the harness enforces it). */
  timeoutMs(params: Params): number;
  run(ctx: WorkloadRun): Promise<void>;
}
