/**
 * Background work of a node: its heartbeat in the store, the cluster leadership, and (on the
 * leader only) the cluster-wide work: the rescue of orphans — jobs left `running` by a broker
 * that is gone (this one before a restart, or a dead node), whose workers did not come back
 * within the liveness window to claim them — and scheduled jobs coming due anywhere.
 *
 * Leadership is the store's (an advisory lock held by this node's database session with
 * PostgreSQL; always this node with SQLite). It is checked at every heartbeat, so a dead
 * leader's successor takes over within one heartbeat interval of its session's end.
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import type { Committer } from './committer.js';
import type { Control } from './control.js';
import type { Rescuer } from './rescue.js';

/** Heartbeat interval of a single node, and of the nodes of a cluster. */
const HEARTBEAT_MS = 5_000;
const CLUSTER_HEARTBEAT_MS = 1_000;
/** A node is dead when its heartbeat is this many intervals old (and past the liveness window). */
const NODE_MISSED_HEARTBEATS = 5;
const LEADER_KEY = 'leader';

export interface MaintenanceDeps {
  store: Store;
  committer: Committer;
  rescuer: Rescuer;
  control: Control;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  address: string;
  startedAt: number;
  /** How long a worker may take to come back before its jobs are someone else's. */
  livenessWindowMs: number;
  /** The leader re-arms the scheduler for the earliest scheduled job, wherever it came from. */
  noteScheduled(runAt: number): void;
  /** With several nodes: look for queued jobs again, in case a wake-up was lost. */
  rescan(): void;
  /** How long ended jobs are kept per state (ms; 0: for ever). */
  retention: { succeededMs: number; failedMs: number; canceledMs: number };
  /** This node's counts of jobs in and out per queue, stored with each heartbeat (or null). */
  queueStats?: () => string | null;
}

/** How often the leader deletes ended jobs past their retention, and how many per commit. */
export const RETENTION_INTERVAL_MS = 60_000;
export const RETENTION_BATCH = 500;

/** A node as the cluster sees it. */
export interface NodeView {
  id: string;
  address: string;
  startedAt: number;
  heartbeatAt: number;
  alive: boolean;
}

export class Maintenance {
  private timers: Timer[] = [];
  private stopped = false;
  private leading = false;
  private readonly heartbeatMs: number;

  constructor(private readonly deps: MaintenanceDeps) {
    this.heartbeatMs = deps.store.capabilities.multiNode ? CLUSTER_HEARTBEAT_MS : HEARTBEAT_MS;
  }

  /** Whether this node runs the cluster-wide work now. */
  get leader(): boolean {
    return this.leading;
  }

  /** How old a node's heartbeat may be before the node counts as dead. */
  get nodeTimeoutMs(): number {
    return Math.max(NODE_MISSED_HEARTBEATS * this.heartbeatMs, 2 * this.deps.livenessWindowMs);
  }

  /**
   * The nodes in the store, alive or not (dead ones are kept until retention removes them). A
   * single-node store has one live node, this one: the others are this broker's earlier runs.
   */
  async nodes(): Promise<NodeView[]> {
    const { store, clock, nodeId } = this.deps;
    const now = clock.now();
    const shared = store.capabilities.multiNode;
    return (await store.nodeList()).map((n) => ({
      ...n,
      alive: n.id === nodeId || (shared && now - n.heartbeatAt <= this.nodeTimeoutMs),
    }));
  }

  /** The leading node's id, if one of `nodes` (as `nodes()` gave them) leads and is alive. */
  async leaderId(nodes: readonly NodeView[]): Promise<string | null> {
    if (this.leading) return this.deps.nodeId;
    const id = await this.deps.store.settingGet(LEADER_KEY);
    if (id === undefined) return null;
    return nodes.some((n) => n.id === id && n.alive) ? id : null;
  }

  async start(): Promise<void> {
    await this.heartbeat();
    this.every(this.heartbeatMs, () => this.heartbeat());
    // Workers reconnect within a quarter of the window; twice the window leaves room for a slow
    // restart of their own connection before their jobs are given away.
    const grace = Math.max(2 * this.deps.livenessWindowMs, 200);
    this.timers.push(
      this.deps.clock.setTimeout(() => {
        void this.rescueOrphans();
        this.every(grace, () => this.rescueOrphans());
      }, grace),
    );
    this.every(RETENTION_INTERVAL_MS, () => this.purgeEnded());
  }

  /**
   * On the leader (so one node at a time): deletes ended jobs past their state's retention, with
   * their attempts, output and links, in commits of RETENTION_BATCH jobs, letting the event loop
   * serve dispatch between them. Returns how many.
   */
  async purgeEnded(): Promise<number> {
    const { committer, clock, logger, retention } = this.deps;
    if (!this.leading) return 0;
    const keep = {
      succeeded: retention.succeededMs,
      failed: retention.failedMs,
      canceled: retention.canceledMs,
    } as const;
    let purged = 0;
    try {
      for (const [state, ms] of Object.entries(keep) as Array<[keyof typeof keep, number]>) {
        if (ms <= 0) continue;
        const before = clock.now() - ms;
        for (;;) {
          if (this.stopped || !this.leading) return purged;
          const ids = await committer.run((tx) => tx.jobPurge(state, before, RETENTION_BATCH));
          purged += ids.length;
          if (ids.length < RETENTION_BATCH) break;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      if (purged > 0) logger.info({ jobs: purged }, 'deleted ended jobs past their retention');
    } catch (err) {
      if (!this.stopped) logger.error({ err }, 'deleting ended jobs past their retention failed');
    }
    return purged;
  }

  stop(): void {
    this.stopped = true;
    this.deps.rescuer.stop();
    for (const t of this.timers) t.cancel();
    this.timers = [];
  }

  /**
   * On the leader: requeues (or fails) running jobs of nodes that are gone, and drops the
   * commands nobody will take. Returns how many jobs.
   */
  async rescueOrphans(): Promise<number> {
    const { committer, rescuer, logger, store } = this.deps;
    if (!this.leading) return 0;
    try {
      const live = (await this.nodes()).filter((n) => n.alive).map((n) => n.id);
      if (store.capabilities.multiNode) await committer.run((tx) => tx.nodeCommandPurge(live));
      return await rescuer.rescueOrphans(live);
    } catch (err) {
      logger.error({ err }, 'rescuing orphaned jobs failed');
      return 0;
    }
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    this.timers.push(this.deps.clock.setInterval(() => void task(), ms));
  }

  private async heartbeat(): Promise<void> {
    const { committer, nodeId, address, startedAt, clock, logger } = this.deps;
    try {
      await committer.run((tx) =>
        tx.nodeHeartbeat({
          id: nodeId,
          address,
          startedAt,
          heartbeatAt: clock.now(),
          queueStats: this.deps.queueStats?.() ?? null,
        }),
      );
      await this.checkLeadership();
      if (this.deps.store.capabilities.multiNode) {
        this.deps.rescan();
        // Commands whose wake-up was lost wait at most a heartbeat.
        await this.deps.control.take();
      }
    } catch (err) {
      if (!this.stopped) logger.error({ err }, 'node heartbeat failed');
    }
  }

  private async checkLeadership(): Promise<void> {
    const { store, committer, nodeId, logger } = this.deps;
    const leading = await store.lead();
    if (this.stopped) return;
    if (leading && !this.leading) {
      await committer.run((tx) => tx.settingSet(LEADER_KEY, nodeId));
      if (store.capabilities.multiNode)
        logger.info({ node: nodeId }, 'this node leads the cluster');
    } else if (!leading && this.leading) {
      logger.warn({ node: nodeId }, 'this node no longer leads the cluster');
    }
    this.leading = leading;
    if (leading && store.capabilities.multiNode) {
      const next = await store.jobNextRunAt();
      if (next !== null) this.deps.noteScheduled(next);
    }
  }
}
