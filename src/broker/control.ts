/**
 * The control plane between nodes: commands addressed to the node that holds a job or a worker
 * (stop a running job now; later hold, worker status, freeze, queue pause). A command travels
 * with the batch that decided it: for this node it runs once that batch has committed (a
 * function call, as always with SQLite); for another node it is written to the store in the
 * same transaction and that node is woken (PostgreSQL NOTIFY, delivered on commit). The target
 * takes its commands on the wake-up and again at every heartbeat, so a wake-up lost while its
 * listening connection was down delays a command and never loses it; a command's size is no
 * limit either, since only the wake-up travels in the notification.
 */
import type { Logger } from 'pino';
import type { Store, StoreTx } from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';

/** What one node may ask another to do. */
export type Command =
  /** Stop the running attempt of a job (its worker gets the job's kill signal). */
  | { kind: 'stop'; jobId: number; attempt: number; reason: 'canceled' | 'held' }
  /**
   * Read a worker's stored settings again and apply them (./worker-control.ts); with `stop`,
   * take its running jobs back (asleep or drain now).
   */
  | { kind: 'worker'; workerId: string; stop: boolean }
  /** Close a worker's connection; its jobs go the lost worker's way. */
  | { kind: 'disconnect'; workerId: string };

export interface ControlDeps {
  store: Store;
  committer: Committer;
  nodeId: string;
  logger: Logger;
  clock: { now(): number };
  /** Runs a command on this node. */
  execute(command: Command): void;
}

interface Wake {
  to: string;
}

function isCommand(value: unknown): value is Command {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  switch (c.kind) {
    case 'stop':
      return (
        Number.isSafeInteger(c.jobId) &&
        Number.isSafeInteger(c.attempt) &&
        (c.reason === 'canceled' || c.reason === 'held')
      );
    case 'worker':
      return typeof c.workerId === 'string' && typeof c.stop === 'boolean';
    case 'disconnect':
      return typeof c.workerId === 'string';
    default:
      return false;
  }
}

export class Control {
  private unsubscribe: (() => void) | null = null;
  private taking: Promise<void> | null = null;
  private again = false;

  constructor(private readonly deps: ControlDeps) {}

  /** Listens for the wake-ups of other nodes (several nodes only). */
  start(): void {
    const { store, nodeId, logger } = this.deps;
    if (!store.capabilities.multiNode || this.unsubscribe !== null) return;
    this.unsubscribe = store.subscribe((channel, payload) => {
      if (channel !== 'control') return;
      try {
        if ((JSON.parse(payload) as Wake).to === nodeId) void this.take();
      } catch (err) {
        logger.warn({ err }, 'ignored a malformed control message from another node');
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Sends `command` to `nodeId` with this batch (see the file comment). */
  async send(tx: StoreTx, ctx: BatchContext, nodeId: string, command: Command): Promise<void> {
    if (nodeId === this.deps.nodeId || !this.deps.store.capabilities.multiNode) {
      ctx.afterCommit(() => this.run(command));
      return;
    }
    await tx.nodeCommandAdd({ nodeId, body: JSON.stringify(command), now: this.deps.clock.now() });
    await tx.publish('control', JSON.stringify({ to: nodeId } satisfies Wake));
  }

  /**
   * Takes and runs the commands waiting for this node: on a wake-up, and at every heartbeat in
   * case one was lost. One take at a time; a wake-up during one runs another after it.
   */
  take(): Promise<void> {
    if (!this.deps.store.capabilities.multiNode) return Promise.resolve();
    if (this.taking !== null) {
      this.again = true;
      return this.taking;
    }
    this.taking = (async () => {
      try {
        do {
          this.again = false;
          const bodies = await this.deps.committer.run((tx) =>
            tx.nodeCommandTake(this.deps.nodeId),
          );
          for (const body of bodies) this.runText(body);
        } while (this.again);
      } catch (err) {
        this.deps.logger.error({ err }, 'taking commands from other nodes failed');
      } finally {
        this.taking = null;
      }
    })();
    return this.taking;
  }

  private runText(body: string): void {
    let command: unknown;
    try {
      command = JSON.parse(body);
    } catch {
      command = undefined;
    }
    if (isCommand(command)) this.run(command);
    else this.deps.logger.warn({ body: body.slice(0, 200) }, 'ignored an unknown command');
  }

  private run(command: Command): void {
    try {
      this.deps.execute(command);
    } catch (err) {
      this.deps.logger.error({ err, command }, 'a command failed');
    }
  }
}
