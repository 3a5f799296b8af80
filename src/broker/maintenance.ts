/**
 * Background work of a node: its heartbeat in the store, and the rescue of orphans — jobs left
 * `running` by a broker that is gone (this one before a restart, or a dead node), whose workers
 * did not come back within the liveness window to claim them.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { WorkerHub } from './hub.js';

const HEARTBEAT_MS = 5_000;
const RESCUE_PAGE = 1_000;

export interface MaintenanceDeps {
  store: Store;
  committer: Committer;
  hub: WorkerHub;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  address: string;
  startedAt: number;
  /** How long a worker may take to come back before its jobs are someone else's. */
  livenessWindowMs: number;
}

export class Maintenance {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly deps: MaintenanceDeps) {}

  async start(): Promise<void> {
    await this.heartbeat();
    this.every(HEARTBEAT_MS, () => this.heartbeat());
    // Workers reconnect within a quarter of the window; twice the window leaves room for a slow
    // restart of their own connection before their jobs are given away.
    const grace = Math.max(2 * this.deps.livenessWindowMs, 200);
    const first = setTimeout(() => {
      void this.rescueOrphans();
      this.every(grace, () => this.rescueOrphans());
    }, grace);
    first.unref();
    this.timers.push(first);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** Requeues (or fails) running jobs of nodes that are gone. Returns how many. */
  async rescueOrphans(): Promise<number> {
    const { store, hub, nodeId, logger } = this.deps;
    let total = 0;
    try {
      for (;;) {
        if (this.stopped) break;
        const orphans = await store.jobListOrphans([nodeId], RESCUE_PAGE);
        if (orphans.length === 0) break;
        total += await hub.rescue(
          orphans,
          'did not come back for the job after the broker restarted',
        );
        if (orphans.length < RESCUE_PAGE) break;
      }
      if (total > 0) logger.warn({ jobs: total }, 'rescued jobs whose workers did not come back');
    } catch (err) {
      logger.error({ err }, 'rescuing orphaned jobs failed');
    }
    return total;
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    const t = setInterval(() => void task(), ms);
    t.unref();
    this.timers.push(t);
  }

  private async heartbeat(): Promise<void> {
    const { committer, nodeId, address, startedAt, clock, logger } = this.deps;
    try {
      await committer.run((tx) =>
        tx.nodeHeartbeat({ id: nodeId, address, startedAt, heartbeatAt: clock.now() }),
      );
    } catch (err) {
      if (!this.stopped) logger.error({ err }, 'node heartbeat failed');
    }
  }
}
