/** What the routes need from the broker; built once at start-up and passed in. */
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import type { JobService } from '../broker/jobs.js';
import type { WorkerHub } from '../broker/hub.js';
import type { Store } from '../store/store.js';

export interface ApiContext {
  config: BrokerConfig;
  logger: Logger;
  version: string;
  startedAt: number;
  clock: Clock;
  store: Store;
  jobs: JobService;
  hub: WorkerHub;
  isFrozen(): boolean;
}
