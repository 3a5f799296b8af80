/**
 * A worker process: forked by the harness (see worker-link.ts), it loads one adapter's worker
 * side, prepares it, starts taking jobs on `start`, and reports to the parent over IPC with
 * timestamps from `performance.timeOrigin + performance.now()` (the same clock as the parent's).
 * It exits when the parent says `close` or goes away.
 */
import type { RunWorker, WorkerRuntime } from './systems/types.js';
import type { ChildMessage, ParentMessage } from './worker-link.js';
import { now } from './stats.js';

const send = (message: ChildMessage): void => {
  if (process.connected) process.send?.(message);
};

let runtime: WorkerRuntime | undefined;
let done = 0;
let lastDoneAt = 0;
let flushTimer: NodeJS.Timeout | undefined;
let perJob = false;

function flushCount(): void {
  flushTimer = undefined;
  send({ type: 'count', done, lastDoneAt });
}

async function init(message: Extract<ParentMessage, { type: 'init' }>): Promise<void> {
  perJob = message.perJob;
  const mod = (await import(message.module)) as { runWorker: RunWorker };
  runtime = await mod.runWorker(message.config, message.shape, {
    started(i) {
      if (perJob) send({ type: 'start', i, at: now() });
    },
    done(i) {
      done++;
      lastDoneAt = now();
      if (perJob) send({ type: 'done', i, at: lastDoneAt });
      else flushTimer ??= setTimeout(flushCount, 10);
    },
  });
  send({ type: 'ready' });
}

async function shutdown(code: number): Promise<never> {
  const timer = setTimeout(() => process.exit(code), 3_000);
  timer.unref();
  try {
    await runtime?.close();
  } catch {
    // Exiting anyway.
  }
  process.exit(code);
}

process.on('message', (message: ParentMessage) => {
  const fail = (error: unknown): void => {
    send({
      type: 'error',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    void shutdown(1);
  };
  switch (message.type) {
    case 'init':
      init(message).catch(fail);
      break;
    case 'start':
      (runtime as WorkerRuntime)
        .start()
        .then(() => send({ type: 'started', at: now() }))
        .catch(fail);
      break;
    case 'close':
      void shutdown(0);
      break;
  }
});
process.on('disconnect', () => void shutdown(0));
process.on('uncaughtException', (error) => {
  send({ type: 'error', message: error.stack ?? error.message });
  process.exit(1);
});
