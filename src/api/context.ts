/** What the routes need from the broker; built once at start-up and passed in. */
import type { RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import type { JobService } from '../broker/jobs.js';
import type { ScheduleService } from '../broker/schedules.js';
import type { Sessions } from '../broker/endpoint/sessions.js';
import type { WorkerControls } from '../broker/worker-control.js';
import type { EventBus } from '../broker/events.js';
import type { JobAccess } from '../broker/access.js';
import type { Monitor } from './monitor.js';
import type { EventLog } from '../broker/event-log.js';
import type { Metrics } from '../broker/metrics.js';
import type { QueueRegistry } from '../broker/queues.js';
import type { QueueViews } from '../broker/queue-views.js';
import type { NodeView } from '../broker/maintenance.js';
import type { Store, WorkerRecord } from '../store/store.js';

/** The cluster as this node sees it (one node with SQLite). */
export interface ClusterState {
  nodeId: string;
  leader: string | null;
  nodes: NodeView[];
  /** Online workers of every node. */
  workers: WorkerRecord[];
}

export interface ApiContext {
  config: BrokerConfig;
  logger: Logger;
  version: string;
  startedAt: number;
  clock: Clock;
  store: Store;
  jobs: JobService;
  schedules: ScheduleService;
  sessions: Sessions;
  /** Workers under an operator's hand: status, schedule, queues, disconnect, blocklist. */
  workers: WorkerControls;
  events: EventBus;
  monitor: Monitor;
  access: JobAccess;
  /** The recent events with their ids, and the live feed the event streams follow. */
  eventLog: EventLog;
  metrics: Pick<Metrics, 'scrape' | 'contentType'>;
  isFrozen(): boolean;
  /** Freezes or unfreezes every node (stored); resolves with the new setting once committed. */
  setFrozen(frozen: boolean): Promise<boolean>;
  cluster(): Promise<ClusterState>;
  queues: QueueRegistry;
  queueViews: QueueViews;
  /** Told of every route as it is added (tests: the routes the OpenAPI document must describe). */
  onRoute?: (route: RouteOptions) => void;
}
