/** The workloads in run order. */
import type { Workload } from './types.js';
import { w1 } from './w1-throughput.js';
import { w2 } from './w2-latency.js';
import { w3 } from './w3-deep-queue.js';
import { w4 } from './w4-many-workers.js';
import { w5 } from './w5-durability.js';
import { w6 } from './w6-retry.js';
import { w7 } from './w7-unique.js';
import { w8 } from './w8-flood.js';
import { w9 } from './w9-eta.js';

export const WORKLOADS: readonly Workload[] = [w1, w2, w3, w4, w5, w6, w7, w8, w9];
