/**
 * Queues as objects (src/domain/queues.ts): their settings and pause state, named limits, the
 * place a job gets in its queue under the queue's discipline, and each node's counts of jobs in
 * and out per queue. Every node keeps the rows in memory; a change is written through any node
 * and reaches the others with its event (`queue:changed`, `limit:changed`, relayed on
 * PostgreSQL) at once, and by re-reading the rows every few seconds in case an event was lost.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import { notFound, SwitchyardError } from '../domain/errors.js';
import {
  applySettings,
  defaultQueueSettings,
  fairGroup,
  fairStep,
  isDefaultSettings,
  rankOf,
  type QueueRecord,
  type QueueSettings,
  type QueueSettingsPatch,
} from '../domain/queues.js';
import type { Store, StoreTx } from '../store/store.js';
import type { Committer } from './committer.js';
import type { EventBus } from './events.js';
import type { NeedsRegistry } from './needs.js';

/** How often the rows are read again (an event lost on the way is repaired by then). */
export const QUEUES_REREAD_MS = 5_000;

/** What a job entering its queue is given its place from (and given it in). */
export interface Placed {
  queue: string;
  needsId: number;
  priority: number;
  group: string | null;
  rank: number;
  tag: number;
}

export interface QueueRegistryDeps {
  store: Store;
  committer: Committer;
  events: EventBus;
  needs: NeedsRegistry;
  clock: Clock;
  logger: Logger;
}

export class QueueRegistry {
  private readonly rows = new Map<string, QueueRecord>();
  private readonly maxes = new Map<string, number>();
  private changes = 0;
  private rereadTimer: { cancel(): void } | null = null;
  /** Told when a queue's settings or pause change, or a limit's total (the dispatcher). */
  private readonly listeners: Array<(queue: string | null) => void> = [];

  constructor(private readonly deps: QueueRegistryDeps) {
    deps.events.on('queue:changed', (e) => {
      this.changes++;
      if (e.deleted === true) this.rows.delete(e.name);
      else
        this.rows.set(e.name, {
          name: e.name,
          settings: e.settings,
          paused: e.paused,
          createdAt: e.createdAt,
          updatedAt: e.updatedAt,
        });
      this.changed(e.name);
    });
    deps.events.on('limit:changed', (e) => {
      this.changes++;
      if (e.max === null) this.maxes.delete(e.name);
      else this.maxes.set(e.name, e.max);
      this.changed(null);
    });
  }

  async load(): Promise<void> {
    const seen = this.changes;
    const [rows, limits] = await Promise.all([
      this.deps.store.queueList(),
      this.deps.store.limitList(),
    ]);
    // An event that came while reading is newer than what was read.
    if (seen !== this.changes) return;
    const before = new Map(this.rows);
    this.rows.clear();
    for (const r of rows) this.rows.set(r.name, r);
    const limitsBefore = new Map(this.maxes);
    this.maxes.clear();
    for (const l of limits) this.maxes.set(l.name, l.max);
    for (const name of new Set([...before.keys(), ...this.rows.keys()])) {
      if (JSON.stringify(before.get(name)) !== JSON.stringify(this.rows.get(name)))
        this.changed(name);
    }
    if (JSON.stringify([...limitsBefore]) !== JSON.stringify([...this.maxes])) this.changed(null);
  }

  /** Re-reads the rows every few seconds until stopped. */
  start(): void {
    this.rereadTimer = this.deps.clock.setInterval(() => {
      this.load().catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'reading the queues failed (will try again)'),
      );
    }, QUEUES_REREAD_MS);
  }

  stop(): void {
    this.rereadTimer?.cancel();
    this.rereadTimer = null;
  }

  onChange(listener: (queue: string | null) => void): void {
    this.listeners.push(listener);
  }

  /** The queue's row, if it has one (created with settings, or paused). */
  get(name: string): QueueRecord | undefined {
    return this.rows.get(name);
  }

  all(): IterableIterator<QueueRecord> {
    return this.rows.values();
  }

  settings(queue: string): QueueSettings {
    return this.rows.get(queue)?.settings ?? defaultQueueSettings;
  }

  paused(queue: string): boolean {
    return this.rows.get(queue)?.paused === true;
  }

  /** A named limit's total, or undefined when it has none. */
  limitMax(name: string): number | undefined {
    return this.maxes.get(name);
  }

  limits(): Array<{ name: string; max: number }> {
    return [...this.maxes].map(([name, max]) => ({ name, max })).sort(byName);
  }

  /**
   * Gives jobs entering their queues (submitted, moved) their place under each queue's
   * discipline, in `tx`: the rank, and in fair queues the tags, one run per group.
   */
  async place(tx: StoreTx, jobs: readonly Placed[]): Promise<void> {
    let fair: Map<string, Placed[]> | undefined;
    for (const job of jobs) {
      const settings = this.settings(job.queue);
      job.rank = rankOf(settings.discipline, job.priority);
      job.tag = 0;
      if (settings.discipline !== 'fair') continue;
      fair ??= new Map();
      const list = fair.get(job.queue);
      if (list) list.push(job);
      else fair.set(job.queue, [job]);
    }
    if (fair === undefined) return;
    for (const [queue, list] of fair) {
      const settings = this.settings(queue);
      const byGroup = new Map<string, Placed[]>();
      for (const job of list) {
        const g = fairGroup(job.group);
        const members = byGroup.get(g);
        if (members) members.push(job);
        else byGroup.set(g, [job]);
      }
      const groups = [...byGroup].map(([group, members]) => ({
        group,
        count: members.length,
        step: fairStep(settings, group),
      }));
      const needsIds = [...this.deps.needs.all()].filter((n) => n.queue === queue).map((n) => n.id);
      const firsts = await tx.fairTags({ queue, needsIds, groups });
      groups.forEach((g, i) => {
        const members = byGroup.get(g.group)!;
        members.forEach((job, k) => (job.tag = firsts[i]! + k * g.step));
      });
    }
  }

  /**
   * Creates a queue with settings or changes them (a partial update); a change of discipline
   * gives the queue's waiting jobs their places under the new one.
   */
  async put(name: string, patch: QueueSettingsPatch): Promise<QueueRecord> {
    // Refused before the transaction (a throw inside it would roll back its batch's neighbours
    // and have them retried one by one); applied inside it to the row as committed.
    applySettings(this.settings(name), patch);
    return this.write(name, (row) => ({ ...row, settings: applySettings(row.settings, patch) }));
  }

  async setPaused(name: string, paused: boolean): Promise<QueueRecord> {
    return this.write(name, (row) => ({ ...row, paused }));
  }

  /**
   * Removes the queue's row (its settings and pause) once it has no job that has not ended;
   * `cancelAll` (force) first cancels those. Returns how many were canceled.
   */
  async remove(
    name: string,
    force: boolean,
    cancelAll: () => Promise<number>,
    unended: () => Promise<number>,
  ): Promise<{ canceled: number }> {
    const known = this.rows.has(name) || [...this.deps.needs.all()].some((n) => n.queue === name);
    if (!known) throw notFound('queue', JSON.stringify(name));
    let canceled = 0;
    if (force) canceled = await cancelAll();
    const left = await unended();
    if (left > 0) {
      throw new SwitchyardError(
        'conflict',
        `queue ${JSON.stringify(name)} has ${left} job(s) that have not ended; delete it with ` +
          `force to cancel them`,
        { jobs: left },
      );
    }
    const { committer, events } = this.deps;
    await committer.run(async (tx, ctx) => {
      await tx.queueDelete(name);
      ctx.afterCommit(() =>
        events.emit('queue:changed', {
          name,
          settings: defaultQueueSettings,
          paused: false,
          createdAt: 0,
          updatedAt: this.deps.clock.now(),
          deleted: true,
        }),
      );
    });
    return { canceled };
  }

  /** Sets a named limit's total (null: none). */
  async putLimit(name: string, max: number | null): Promise<void> {
    const { committer, events, clock } = this.deps;
    await committer.run(async (tx, ctx) => {
      await tx.limitPut(name, max, clock.now());
      ctx.afterCommit(() => events.emit('limit:changed', { name, max }));
    });
  }

  private async write(
    name: string,
    change: (row: QueueRecord) => QueueRecord,
  ): Promise<QueueRecord> {
    const { committer, events, clock } = this.deps;
    return committer.run(async (tx, ctx) => {
      const now = clock.now();
      // What is committed, not this node's copy: another node may have just changed it.
      const stored = await tx.queueGetForUpdate(name);
      const before = stored ?? {
        name,
        settings: { ...defaultQueueSettings, weights: {} },
        paused: false,
        createdAt: now,
        updatedAt: now,
      };
      const next = { ...change(before), updatedAt: now };
      if (isDefaultSettings(next.settings) && !next.paused && stored === undefined) {
        // Nothing to keep: a queue with default settings exists by being used.
      } else {
        await tx.queuePut(next);
      }
      const reorder =
        next.settings.discipline !== before.settings.discipline ||
        (next.settings.discipline === 'fair' &&
          JSON.stringify(next.settings.weights) !== JSON.stringify(before.settings.weights));
      if (reorder) await tx.queueReorder(name, next.settings.discipline, next.settings.weights);
      ctx.afterCommit(() => events.emit('queue:changed', { ...next, deleted: false }));
      return next;
    });
  }

  private changed(queue: string | null): void {
    for (const l of this.listeners) l(queue);
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Counting windows: one-second slots over the last minute, ten-second ones over fifteen. */
const FINE_MS = 1_000;
const FINE_SLOTS = 60;
const SLOT_MS = 10_000;
const SLOTS = 90;
/** The most queues counted per node; jobs of queues beyond it are not counted. */
export const MAX_COUNTED_QUEUES = 10_000;

export type Rates = Record<'1m' | '5m' | '15m', number>;

/** Slots of counts of jobs in and out, in a ring. */
class Ring {
  readonly in: Float64Array;
  readonly out: Float64Array;
  /** The slot number (time / width) of the newest slot written. */
  private slot: number;

  constructor(
    private readonly width: number,
    private readonly size: number,
    now: number,
  ) {
    this.in = new Float64Array(size);
    this.out = new Float64Array(size);
    this.slot = Math.floor(now / width);
  }

  add(kind: 'in' | 'out', n: number, now: number): void {
    const slot = this.advance(now);
    this[kind][slot % this.size]! += n;
  }

  /** Counts over the last `slots` slots (the current one included). */
  sum(kind: 'in' | 'out', slots: number, now: number): number {
    const slot = this.advance(now);
    let count = 0;
    for (let k = 0; k < Math.min(slots, this.size); k++)
      count += this[kind][(((slot - k) % this.size) + this.size) % this.size]!;
    return count;
  }

  /** Clears the slots that passed since the ring was last written; returns the current slot. */
  private advance(now: number): number {
    const slot = Math.floor(now / this.width);
    if (slot > this.slot) {
      for (let s = Math.max(this.slot + 1, slot - this.size + 1); s <= slot; s++) {
        this.in[s % this.size] = 0;
        this.out[s % this.size] = 0;
      }
      this.slot = slot;
    }
    return slot;
  }
}

/**
 * Jobs counted per window, `[in1m, in5m, in15m, out1m, out5m, out15m, outSpan1m]`: the last is
 * how many seconds of the last minute starts have gone on, from the first (for a rate of starts
 * that a queue begun half a minute ago does not halve).
 */
export type WindowCounts = [number, number, number, number, number, number, number];

export const noCounts = (): WindowCounts => [0, 0, 0, 0, 0, 0, 0];

/**
 * One node's counts of jobs entering (submitted) and leaving (started) each queue; memory is
 * bounded by MAX_COUNTED_QUEUES × 2 × (60 + 90) numbers.
 */
export class QueueFlow {
  private readonly counters = new Map<
    string,
    {
      fine: Ring;
      coarse: Ring;
      /** When starts began, after a minute or more without any (for the rate's span). */
      startsSince: number | null;
      lastStartAt: number;
    }
  >();

  constructor(private readonly clock: Clock) {}

  count(queue: string, kind: 'in' | 'out', n = 1): void {
    const now = this.clock.now();
    let c = this.counters.get(queue);
    if (c === undefined) {
      if (this.counters.size >= MAX_COUNTED_QUEUES) return;
      c = {
        fine: new Ring(FINE_MS, FINE_SLOTS, now),
        coarse: new Ring(SLOT_MS, SLOTS, now),
        startsSince: null,
        lastStartAt: 0,
      };
      this.counters.set(queue, c);
    }
    if (kind === 'out') {
      if (c.startsSince === null || now - c.lastStartAt > FINE_MS * FINE_SLOTS) c.startsSince = now;
      c.lastStartAt = now;
    }
    c.fine.add(kind, n, now);
    c.coarse.add(kind, n, now);
  }

  /** Per queue with jobs counted in the last fifteen minutes, its window counts. */
  windows(): Map<string, WindowCounts> {
    const now = this.clock.now();
    const out = new Map<string, WindowCounts>();
    for (const [queue, c] of this.counters) {
      const in1 = c.fine.sum('in', FINE_SLOTS, now);
      const out1 = c.fine.sum('out', FINE_SLOTS, now);
      // Starts over the last minute, or since they began when that is later (a young queue).
      const span =
        out1 === 0 || c.startsSince === null
          ? 0
          : Math.max(0.001, (now - Math.max(c.startsSince, now - FINE_MS * FINE_SLOTS)) / 1_000);
      const counts: WindowCounts = [
        in1,
        c.coarse.sum('in', 30, now),
        c.coarse.sum('in', 90, now),
        out1,
        c.coarse.sum('out', 30, now),
        c.coarse.sum('out', 90, now),
        span,
      ];
      if (counts.some((x) => x > 0)) out.set(queue, counts);
      else if (c.coarse.sum('in', 90, now) === 0) this.counters.delete(queue);
    }
    return out;
  }

  /** What this node's heartbeat stores for the others. */
  snapshot(): string {
    return JSON.stringify({ at: this.clock.now(), queues: Object.fromEntries(this.windows()) });
  }
}

/** Per-second rates of counts over the windows. */
export function ratesOf(counts: WindowCounts): { in: Rates; out: Rates } {
  const rate = (i: number): Rates => ({
    '1m': counts[i]! / 60,
    '5m': counts[i + 1]! / 300,
    '15m': counts[i + 2]! / 900,
  });
  return { in: rate(0), out: rate(3) };
}

/** Adds another node's counts (the span is the longer of the two). */
export function addCounts(a: WindowCounts, b: WindowCounts): WindowCounts {
  const sum = a.map((x, i) => x + b[i]!) as WindowCounts;
  sum[6] = Math.max(a[6], b[6]);
  return sum;
}

/** Parses another node's snapshot; undefined when it is not one (a hostile or newer row). */
export function parseSnapshot(text: string): Map<string, WindowCounts> | undefined {
  try {
    const raw = JSON.parse(text) as { queues?: Record<string, unknown> };
    if (typeof raw !== 'object' || raw === null || typeof raw.queues !== 'object') return undefined;
    const out = new Map<string, WindowCounts>();
    for (const [queue, v] of Object.entries(raw.queues ?? {})) {
      if (Array.isArray(v) && v.length === 7 && v.every((x) => typeof x === 'number' && x >= 0))
        out.set(queue, v as WindowCounts);
    }
    return out;
  } catch {
    return undefined;
  }
}
