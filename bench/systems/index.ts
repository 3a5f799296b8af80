/**
 * The systems the harness knows, in table order. The first `subject` is the one measured
 * against the peers. To add Switchyard on PostgreSQL, add e.g.
 *   switchyardAdapter({ name: 'switchyard-pg', store: (env) => env.pgUrl, ... })
 * (and, for two nodes, a variant whose `open` starts two brokers on the same store).
 */
import { bullmq } from './bullmq.js';
import { graphileWorker } from './graphile-worker.js';
import { pgBoss } from './pg-boss.js';
import { switchyard } from './switchyard.js';
import type { SystemAdapter } from './types.js';

export const SYSTEMS: readonly SystemAdapter[] = [switchyard, bullmq, graphileWorker, pgBoss];
