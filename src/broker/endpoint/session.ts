/**
 * One registered worker as this node sees it: its capabilities, its slots, the jobs it holds and
 * its connection (absent while it is disconnected but not yet dead: it may come back and keep
 * its jobs). Outgoing messages are batched: all sent in one turn go out as one frame.
 */
import type { WebSocket } from 'ws';
import { blockKey, type Block } from '../../domain/blocklist.js';
import type { Capabilities } from '../../domain/matching.js';
import {
  defaultControl,
  type WorkerControl,
  type WorkerStatus,
} from '../../domain/worker-control.js';
import { encodeFrame, PROTOCOL_VERSION, type BrokerMessage } from '../../protocol/worker.js';
import type { NeedsRecord, RunningJob } from '../../store/store.js';
import type { Matcher } from '../needs.js';

export interface HeldJob {
  job: RunningJob;
  /** Told to stop (canceled or held); the slot stays busy until the worker says it ended. */
  stopping: boolean;
  /** When the attempt last reported anything (output, progress, an attribute), or started. */
  heardAt: number;
  /** Progress and attribute reports of the attempt kept among the job's messages so far. */
  journaled?: number;
}

/**
 * The progress and attribute reports of one attempt kept as messages of its job: past this the
 * job's progress and attributes are still set, but no longer each kept, so that a job reporting
 * without end cannot fill the store (its output has its own budget, job_output).
 */
export const MAX_JOURNALED_REPORTS = 10_000;

/** How many ended attempts a session remembers, to acknowledge a result sent twice. */
const RECENT_LIMIT = 1024;

export class WorkerSession implements Matcher {
  readonly matching = new Set<number>();
  readonly held = new Map<number, HeldJob>();
  /** What the worker itself says (its hello, its `status` messages): false while it drains. */
  workerAccepting = true;
  /** The status in force, as the broker decides it (src/broker/worker-control.ts). */
  status: WorkerStatus = 'awake';
  /** What operators decided about this worker, as last read from the store. */
  control: WorkerControl = defaultControl();
  /** Its blocks in force, and their (queue, type) pairs as blockKeys: kept from their jobs. */
  blocks: readonly Block[] = [];
  blocked: ReadonlySet<string> = new Set();
  /** The protocol version of its hello. */
  protocol = PROTOCOL_VERSION;
  /** The capabilities of its hello: the upper bound of the types it may be given. */
  announced: Capabilities;
  socket: WebSocket | null = null;
  address: string | null = null;
  cpu: number | null = null;
  memory: { rss: number; total: number; free: number } | null = null;
  lastSeen: number;
  private outbox: BrokerMessage[] = [];
  private flushScheduled = false;
  private readonly recent = new Set<string>();

  constructor(
    readonly id: string,
    /** SHA-256 (hex) of the secret the worker proves itself with when it comes back. */
    readonly secretHash: string,
    public name: string,
    public capabilities: Capabilities,
    public slots: number,
    readonly connectedAt: number,
  ) {
    this.lastSeen = connectedAt;
    this.announced = capabilities;
  }

  /** Whether it may be given new jobs: it accepts them and the broker has it awake. */
  get accepting(): boolean {
    return this.workerAccepting && this.status === 'awake';
  }

  /**
   * Needs it matches by its capabilities but must not be given (see NeedsRegistry): all while
   * it is not awake (so that no job waits for it: queue_manager multi binds jobs by matching),
   * and those it is blocklisted for.
   */
  excludes(needs: NeedsRecord): boolean {
    if (this.status !== 'awake') return true;
    return this.blocked.size > 0 && this.blocked.has(blockKey(needs.queue, needs.type));
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Jobs it takes beyond its free slots, queued on its side (the worker's `prefetch`). */
  prefetch = 0;

  /** How many more jobs it may be given: free slots, plus its prefetch. */
  get free(): number {
    return this.slots + this.prefetch - this.held.size;
  }

  /** Slots not taken by a held job (what it runs at once, prefetch aside). */
  get freeSlots(): number {
    return Math.max(0, this.slots - this.held.size);
  }

  /** Whether the dispatcher may give it work now. */
  get available(): boolean {
    return this.accepting && this.socket !== null && this.free > 0;
  }

  holds(jobId: number, attempt: number): HeldJob | undefined {
    const h = this.held.get(jobId);
    return h !== undefined && h.job.attempt === attempt ? h : undefined;
  }

  /** Remembers an ended attempt so that a repeated result is acknowledged, not refused. */
  ended(jobId: number, attempt: number): void {
    this.recent.add(`${jobId}:${attempt}`);
    if (this.recent.size > RECENT_LIMIT) {
      const oldest = this.recent.values().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  recentlyEnded(jobId: number, attempt: number): boolean {
    return this.recent.has(`${jobId}:${attempt}`);
  }

  /** Told of each message queued (the hub flushes sessions with output after a commit). */
  onSend: ((session: WorkerSession) => void) | null = null;

  send(message: BrokerMessage): void {
    this.outbox.push(message);
    this.onSend?.(this);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0) return;
    const messages = this.outbox;
    this.outbox = [];
    const socket = this.socket;
    // A disconnected worker misses these; on reconnect it lists what it runs, and the broker
    // reconciles from that.
    if (socket !== null && socket.readyState === socket.OPEN) socket.send(encodeFrame(messages));
  }

  state(): 'idle' | 'busy' | 'asleep' | 'draining' | 'disconnected' {
    if (this.socket === null) return 'disconnected';
    if (this.status === 'asleep') return 'asleep';
    if (!this.accepting) return 'draining';
    return this.held.size > 0 ? 'busy' : 'idle';
  }
}
