/**
 * The systems the harness knows, in table order. The `subject` (Switchyard with SQLite, as
 * shipped) is the one measured against the peers; the `variant`s (Switchyard on PostgreSQL with
 * one and with two nodes) are shown beside it, without ratios or targets of their own.
 */
import { bullmq } from './bullmq.js';
import { graphileWorker } from './graphile-worker.js';
import { pgBoss } from './pg-boss.js';
import { switchyard, switchyardPg, switchyardPg2 } from './switchyard.js';
import type { SystemAdapter } from './types.js';

export const SYSTEMS: readonly SystemAdapter[] = [
  switchyard,
  switchyardPg,
  switchyardPg2,
  bullmq,
  graphileWorker,
  pgBoss,
];
