/**
 * The parent's side of the worker processes: forks them (worker-main.ts), starts them, and
 * collects what they report: completion counts, or per-job start and done times.
 */
import type { ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { WORKER_MAIN } from './paths.js';
import { alive, forkTracked, stopChild } from './procs.js';
import type { SystemAdapter, SystemInstance, WorkerShape } from './systems/types.js';

export type ParentMessage =
  | { type: 'init'; module: string; config: unknown; shape: WorkerShape; perJob: boolean }
  | { type: 'start' }
  | { type: 'close' };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'started'; at: number }
  | { type: 'count'; done: number; lastDoneAt: number }
  | { type: 'start'; i: number; at: number }
  | { type: 'done'; i: number; at: number }
  | { type: 'error'; message: string };

export interface GroupOptions {
  /** Worker processes to fork. */
  processes: number;
  shape: WorkerShape;
  /** Report every job's start and done time (W2) instead of counts. */
  perJob?: boolean;
  signal: AbortSignal;
}

/** Resolves or rejects a wait for one job's report. */
interface Waiter {
  resolve(at: number): void;
}

/** One or more worker processes of one system, reporting to this process. */
export class WorkerGroup {
  private readonly children: ChildProcess[] = [];
  private readonly counts = new Map<ChildProcess, { done: number; lastDoneAt: number }>();
  private readonly startWaiters = new Map<number, Waiter>();
  private readonly doneWaiters = new Map<number, Waiter>();
  private readonly startTimes = new Map<number, number>();
  private readonly doneTimes = new Map<number, number>();
  private countWatch: (() => void) | undefined;
  private failure: Error | undefined;
  private failed: (error: Error) => void = () => undefined;
  private readonly failedPromise: Promise<never>;

  private constructor(private readonly signal: AbortSignal) {
    this.failedPromise = new Promise<never>((_, reject) => {
      this.failed = reject;
    });
    this.failedPromise.catch(() => undefined);
    signal.addEventListener('abort', () => this.fail(new Error('aborted')), { once: true });
  }

  /** Forks the processes and waits until each has set up its workers (not yet consuming). */
  static async create(
    adapter: SystemAdapter,
    instance: SystemInstance,
    options: GroupOptions,
  ): Promise<WorkerGroup> {
    const group = new WorkerGroup(options.signal);
    const module = pathToFileURL(path.join(path.dirname(WORKER_MAIN), adapter.workerModule)).href;
    const ready: Promise<void>[] = [];
    for (let p = 0; p < options.processes; p++) {
      const child = forkTracked(WORKER_MAIN, [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      group.children.push(child);
      group.counts.set(child, { done: 0, lastDoneAt: 0 });
      ready.push(group.wire(child));
      const init: ParentMessage = {
        type: 'init',
        module,
        config: instance.workerConfig(),
        shape: options.shape,
        perJob: options.perJob ?? false,
      };
      child.send(init);
    }
    await group.guard(Promise.all(ready));
    return group;
  }

  private wire(child: ChildProcess): Promise<void> {
    return new Promise<void>((resolve) => {
      child.on('message', (message: ChildMessage) => {
        switch (message.type) {
          case 'ready':
            resolve();
            break;
          case 'count':
            this.counts.set(child, { done: message.done, lastDoneAt: message.lastDoneAt });
            this.countWatch?.();
            break;
          case 'start':
            this.startTimes.set(message.i, message.at);
            this.startWaiters.get(message.i)?.resolve(message.at);
            break;
          case 'done':
            this.doneTimes.set(message.i, message.at);
            this.doneWaiters.get(message.i)?.resolve(message.at);
            break;
          case 'error':
            this.fail(new Error(`worker process failed: ${message.message}`));
            break;
          case 'started':
            break;
        }
      });
      child.once('exit', (code, signal) => {
        if (!this.closing) this.fail(new Error(`worker process exited (${code ?? signal})`));
      });
    });
  }

  private closing = false;

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.failed(error);
  }

  /** Races a promise with the group's failure (a worker process died, the run was aborted). */
  guard<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.failedPromise]);
  }

  /** Tells every process to start taking jobs; resolves when all say they are. */
  async start(): Promise<void> {
    const started = this.children.map(
      (child) =>
        new Promise<void>((resolve) => {
          const on = (message: ChildMessage): void => {
            if (message.type === 'started') {
              child.off('message', on);
              resolve();
            }
          };
          child.on('message', on);
        }),
    );
    for (const child of this.children) child.send({ type: 'start' } satisfies ParentMessage);
    await this.guard(Promise.all(started));
  }

  /** Sends `start` without waiting for the answer (the clock of a drain starts now). */
  startNoWait(): void {
    for (const child of this.children) child.send({ type: 'start' } satisfies ParentMessage);
  }

  /** Completions reported so far, over all processes. */
  completed(): number {
    let sum = 0;
    for (const c of this.counts.values()) sum += c.done;
    return sum;
  }

  /** Resolves with the time of the completion that brought the total to `n`. */
  untilCompleted(n: number): Promise<number> {
    const check = (): number | undefined => {
      if (this.completed() < n) return undefined;
      let last = 0;
      for (const c of this.counts.values()) last = Math.max(last, c.lastDoneAt);
      return last;
    };
    const ready = check();
    if (ready !== undefined) return Promise.resolve(ready);
    return this.guard(
      new Promise<number>((resolve) => {
        this.countWatch = () => {
          const at = check();
          if (at !== undefined) {
            this.countWatch = undefined;
            resolve(at);
          }
        };
      }),
    );
  }

  /** Resolves with the time job `i`'s handler started (perJob mode). */
  startOf(i: number): Promise<number> {
    return this.waitFor(i, this.startTimes, this.startWaiters);
  }

  /** Resolves with the time job `i` completed in the worker (perJob mode). */
  doneOf(i: number): Promise<number> {
    return this.waitFor(i, this.doneTimes, this.doneWaiters);
  }

  private waitFor(
    i: number,
    seen: Map<number, number>,
    waiters: Map<number, Waiter>,
  ): Promise<number> {
    const at = seen.get(i);
    if (at !== undefined) return Promise.resolve(at);
    return this.guard(
      new Promise<number>((resolve) => {
        waiters.set(i, {
          resolve: (t) => {
            waiters.delete(i);
            resolve(t);
          },
        });
      }),
    );
  }

  /** Asks the processes to close, then kills what is left. */
  async close(): Promise<void> {
    this.closing = true;
    for (const child of this.children) {
      if (alive(child) && child.connected) child.send({ type: 'close' } satisfies ParentMessage);
    }
    await Promise.all(this.children.map((child) => stopChild(child, null, 3_000)));
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }
}
