/**
 * What running attempts report while they run: output, progress and attributes (HTCondor's
 * chirp). Each report is written in the next group commit and published as an event once that
 * commit is durable; a report of an attempt that is no longer current is dropped by the store.
 */
import type { Logger } from 'pino';
import type { AttributeUpdate, NewLogEntry, ProgressUpdate } from '../store/store.js';
import type { Committer } from './committer.js';
import type { EventBus } from './events.js';

export interface ReportsDeps {
  committer: Committer;
  events: EventBus;
  logger: Logger;
}

/** One frame's worth of reports from one worker. */
export interface ReportBatch {
  logs: NewLogEntry[];
  progress: ProgressUpdate[];
  attributes: AttributeUpdate[];
}

export class Reports {
  constructor(private readonly deps: ReportsDeps) {}

  write(batch: ReportBatch): void {
    const { logs, progress, attributes } = batch;
    if (logs.length === 0 && progress.length === 0 && attributes.length === 0) return;
    const { events, committer, logger } = this.deps;
    committer
      .run(async (tx, ctx) => {
        if (logs.length > 0) await tx.jobLogAppend(logs);
        if (progress.length > 0) await tx.jobProgressSet(progress);
        if (attributes.length > 0) await tx.jobAttributeSet(attributes);
        ctx.afterCommit(() => {
          for (const l of logs)
            events.emit('job:log', {
              id: l.jobId,
              attempt: l.attempt,
              stream: l.stream,
              data: l.data,
            });
          for (const p of progress) events.emit('job:progress', p);
          for (const a of attributes) events.emit('job:attribute', a);
        });
      })
      .catch((err: unknown) => logger.error({ err }, 'writing job reports failed'));
  }
}
