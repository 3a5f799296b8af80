/**
 * The broker's events, published after the change they describe is committed. The monitor and
 * the dashboard's event stream subscribe here; so do tests. The notifier does not: its
 * callbacks are written in the commit of the change (./notifier.ts), since an event is lost
 * with a crash and is emitted again on every node.
 *
 * With several nodes, every event emitted on one node is forwarded (see cluster.ts) and emitted
 * again on every other node with `emitRemote`, so a subscriber sees the events of the cluster.
 */
import { EventEmitter } from 'node:events';
import type { HoldInfo, JobError, JobState, Progress } from '../domain/job.js';
import type { SleepSchedule } from '../domain/sleep-schedule.js';
import type { WorkerStatus } from '../domain/worker-control.js';
import type { QueueSettings } from '../domain/queues.js';

export interface BrokerEvents {
  'job:created': [{ id: number; type: string; queue: string; state: JobState }];
  /** `seq`: the message's place among the job's messages (src/broker/journal.ts). */
  'job:state': [
    {
      id: number;
      seq: number;
      at: number;
      /** The job's queue, where the emitter knows it without a lookup. */
      queue?: string;
      from: JobState | null;
      to: JobState;
      attempt: number;
      workerId: string | null;
      error: JobError | null;
      /** The result, when the job succeeded. */
      result?: unknown;
      /** Why and by whom, when the job was held. */
      hold?: HoldInfo;
    },
  ];
  'job:progress': [{ id: number; seq: number; attempt: number; progress: Progress }];
  'job:log': [
    {
      id: number;
      seq: number;
      at: number;
      attempt: number;
      stream: 'stdout' | 'stderr';
      data: string;
    },
  ];
  'job:attribute': [
    { id: number; seq: number; at: number; attempt: number; key: string; value: string },
  ];
  /** A job was erased (with its messages): its watchers are told, nothing more will come. */
  'job:deleted': [{ id: number }];
  'worker:up': [{ id: string; name: string }];
  'worker:down': [{ id: string; name: string; reason: string }];
  /** A worker's status changed: set by an operator, or by its sleep schedule. */
  'worker:status': [
    { id: string; status: WorkerStatus; when: 'now' | 'after'; by: 'operator' | 'schedule' },
  ];
  'worker:schedule': [{ id: string; schedule: SleepSchedule | null }];
  /** The queues and types a worker serves changed (attached or detached at run time). */
  'worker:queues': [{ id: string; queues: string[]; types: string[] }];
  'worker:blocklisted': [{ id: string; queue: string; type: string; failures: number }];
  'worker:unblocked': [{ id: string; queue: string; type: string }];
  'worker:disconnected': [{ id: string; by: 'operator' }];
  /** A queue was created, changed, paused, resumed or deleted (every node follows). */
  'queue:changed': [
    {
      name: string;
      settings: QueueSettings;
      paused: boolean;
      createdAt: number;
      updatedAt: number;
      deleted: boolean;
    },
  ];
  /** A named limit's total was set (null: removed). */
  'limit:changed': [{ name: string; max: number | null }];
  /** The broker was frozen or unfrozen (every node follows). */
  'broker:frozen': [{ frozen: boolean }];
  /** Something went wrong in the backend that an operator should see (ReCodEx's backend error). */
  'backend:error': [{ message: string; details?: unknown }];
  /** A schedule's tick submitted a job (`jobId` as on the wire); `missed` ticks merged into it. */
  'schedule:fired': [{ name: string; tickAt: number; jobId: string; missed: number }];
  /** A schedule's tick (or `ticks` missed ticks) passed without a job. */
  'schedule:skipped': [
    { name: string; tickAt: number; reason: 'overlap' | 'missed' | 'invalid'; ticks: number },
  ];
  /** A schedule was created, updated, paused, resumed or deleted. */
  'schedule:changed': [
    { name: string; change: 'created' | 'updated' | 'paused' | 'resumed' | 'deleted' },
  ];
}

export type BrokerEventName = keyof BrokerEvents;
export const brokerEventNames: readonly BrokerEventName[] = [
  'job:created',
  'job:state',
  'job:progress',
  'job:log',
  'job:attribute',
  'job:deleted',
  'worker:up',
  'worker:down',
  'worker:status',
  'worker:schedule',
  'worker:queues',
  'worker:blocklisted',
  'worker:unblocked',
  'worker:disconnected',
  'queue:changed',
  'limit:changed',
  'broker:frozen',
  'backend:error',
  'schedule:fired',
  'schedule:skipped',
  'schedule:changed',
];

/** One event as it travels between nodes and to event-stream clients. */
export type BrokerEvent = {
  [K in BrokerEventName]: { name: K; data: BrokerEvents[K][0] };
}[BrokerEventName];

export class EventBus extends EventEmitter<BrokerEvents> {
  private forward: ((event: BrokerEvent) => void) | null = null;

  constructor() {
    super();
    this.setMaxListeners(0);
  }

  /** Every event emitted on this node is also handed to `fn` (the cluster link sends it on). */
  forwardTo(fn: ((event: BrokerEvent) => void) | null): void {
    this.forward = fn;
  }

  /**
   * Whether an event of this name reaches anyone (a subscriber, or other nodes): hot paths skip
   * building events nobody receives.
   */
  wants(name: BrokerEventName): boolean {
    return this.forward !== null || this.listenerCount(name) > 0;
  }

  override emit<K extends BrokerEventName>(name: K, ...args: BrokerEvents[K]): boolean {
    if (this.forward) this.forward({ name, data: args[0] } as BrokerEvent);
    return super.emit(name, ...(args as never));
  }

  /** An event that happened on another node: delivered to this node's subscribers only. */
  emitRemote(event: BrokerEvent): boolean {
    return super.emit(event.name, ...([event.data] as never));
  }
}
