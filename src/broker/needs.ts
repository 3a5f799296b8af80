/**
 * The needs registry: the distinct (queue, type, requirements) combinations of jobs, each with a
 * store id, and for each connected worker the set of needs it matches. The dispatcher claims a
 * worker's jobs by these ids, so matching is done once per needs and worker, not per job.
 */
import {
  canRun,
  matchedRequirements,
  needsKey,
  type Capabilities,
  type Needs,
} from '../domain/matching.js';
import type { NeedsRecord, Store, StoreTx } from '../store/store.js';

export interface Matcher {
  readonly capabilities: Capabilities;
  /** Needs ids this worker can run; kept up to date by the registry. */
  readonly matching: Set<number>;
  /** Needs it would match but must not be given (its blocklist). */
  excludes?(needs: NeedsRecord): boolean;
}

const matches = (m: Matcher, needs: NeedsRecord): boolean =>
  canRun(m.capabilities, needs) && !(m.excludes?.(needs) ?? false);

export class NeedsRegistry {
  private readonly byKey = new Map<string, NeedsRecord>();
  private readonly byId = new Map<number, NeedsRecord>();
  private readonly matchers = new Set<Matcher>();

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    this.byKey.clear();
    this.byId.clear();
    for (const needs of await this.store.needsList()) this.remember(needs);
    for (const m of this.matchers) this.rematch(m);
  }

  /** After a rolled-back transaction the cache may name needs that were never committed. */
  forgetUncommitted(): void {
    void this.load();
  }

  get(id: number): NeedsRecord | undefined {
    return this.byId.get(id);
  }

  /** How many needs are known (it only grows, until a reload). */
  get size(): number {
    return this.byId.size;
  }

  all(): IterableIterator<NeedsRecord> {
    return this.byId.values();
  }

  /** The id of these needs if they are known already (no transaction, no await). */
  known(job: Needs): number | undefined {
    return this.byKey.get(needsKey(job))?.id;
  }

  /** The id of these needs, created in `tx` if new (and matched against connected workers). */
  async resolve(tx: StoreTx, job: Needs): Promise<number> {
    const key = needsKey(job);
    const known = this.byKey.get(key);
    if (known) return known.id;
    const record: Omit<NeedsRecord, 'id'> = {
      key,
      queue: job.queue,
      type: job.type,
      requires: matchedRequirements(job.requires),
      limits: job.limits === undefined ? [] : job.limits.map((l) => ({ ...l })),
    };
    const id = await tx.needsUpsert(record);
    this.remember({ id, ...record });
    return id;
  }

  /** Starts keeping `m.matching` up to date. */
  attach(m: Matcher): void {
    this.matchers.add(m);
    this.rematch(m);
  }

  detach(m: Matcher): void {
    this.matchers.delete(m);
  }

  rematch(m: Matcher): void {
    m.matching.clear();
    for (const needs of this.byId.values()) {
      if (matches(m, needs)) m.matching.add(needs.id);
    }
  }

  /** Whether any attached worker matches. */
  anyMatch(job: Needs): boolean {
    for (const m of this.matchers) if (canRun(m.capabilities, job)) return true;
    return false;
  }

  private remember(needs: NeedsRecord): void {
    this.byKey.set(needs.key, needs);
    this.byId.set(needs.id, needs);
    for (const m of this.matchers) {
      if (matches(m, needs)) m.matching.add(needs.id);
    }
  }
}
