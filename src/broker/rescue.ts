/**
 * The rescue of orphans: jobs left `running` by a node that is gone (this broker before a
 * restart, or a dead node of the cluster) whose workers did not come back to claim them within
 * the grace. Each ends as a lost run (back to the front of the queue, or failed at
 * max_request_failures) through the completion module. Only the leader rescues.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { Completion } from './complete.js';

const RESCUE_PAGE = 1_000;

export interface RescueDeps {
  store: Store;
  committer: Committer;
  completion: Completion;
  logger: Logger;
}

export class Rescuer {
  private stopped = false;

  constructor(private readonly deps: RescueDeps) {}

  stop(): void {
    this.stopped = true;
  }

  /** Requeues (or fails) the running jobs of nodes not among `liveNodeIds`; returns how many. */
  async rescueOrphans(liveNodeIds: readonly string[]): Promise<number> {
    const { store, committer, completion, logger } = this.deps;
    let total = 0;
    for (;;) {
      if (this.stopped) break;
      const orphans = await store.jobListOrphans(liveNodeIds, RESCUE_PAGE);
      if (orphans.length === 0) break;
      const applied = await committer.run((tx, ctx) =>
        completion.endAttempts(
          tx,
          ctx,
          orphans.map((job) => ({
            job,
            outcome: {
              kind: 'lost',
              error: {
                code: 'worker_lost',
                message: `worker ${job.workerName} did not come back for the job after the broker restarted`,
              },
            },
          })),
        ),
      );
      total += applied.filter(Boolean).length;
      if (orphans.length < RESCUE_PAGE) break;
    }
    if (total > 0) logger.warn({ jobs: total }, 'rescued jobs whose workers did not come back');
    return total;
  }
}
