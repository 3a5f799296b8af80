/**
 * The broker's events, published after the change they describe is committed. The monitor, the
 * dashboard's event stream and the notifier (later issues) subscribe here; so do tests.
 */
import { EventEmitter } from 'node:events';
import type { JobError, JobState, Progress } from '../domain/job.js';

export interface BrokerEvents {
  'job:created': [{ id: number; type: string; queue: string; state: JobState }];
  'job:state': [
    {
      id: number;
      from: JobState | null;
      to: JobState;
      attempt: number;
      workerId: string | null;
      error: JobError | null;
    },
  ];
  'job:progress': [{ id: number; attempt: number; progress: Progress }];
  'job:log': [{ id: number; attempt: number; stream: 'stdout' | 'stderr'; data: string }];
  'job:attribute': [{ id: number; attempt: number; key: string; value: string }];
  'worker:up': [{ id: string; name: string }];
  'worker:down': [{ id: string; name: string; reason: string }];
  /** Something went wrong in the backend that an operator should see (ReCodEx's backend error). */
  'backend:error': [{ message: string; details?: unknown }];
}

export class EventBus extends EventEmitter<BrokerEvents> {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}
