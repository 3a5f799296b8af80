/**
 * Worker liveness arithmetic (ReCodEx): a worker sends a heartbeat every `pingInterval`; any
 * message renews its liveness; after `maxLiveness` intervals without one, it is dead. Pure; the
 * clock is the caller's.
 */
export interface LivenessSettings {
  /** Milliseconds between a worker's heartbeats. */
  pingIntervalMs: number;
  /** How many heartbeat intervals a worker may miss before it is dead. */
  maxLiveness: number;
}

/** How long after its last message a worker is declared dead. */
export function livenessWindow(s: LivenessSettings): number {
  return s.pingIntervalMs * s.maxLiveness;
}

export function deadline(lastSeen: number, s: LivenessSettings): number {
  return lastSeen + livenessWindow(s);
}

export function isAlive(lastSeen: number, now: number, s: LivenessSettings): boolean {
  return now <= deadline(lastSeen, s);
}

/**
 * Tracks when each worker was last heard from. `sweep` names the workers whose window has
 * passed (and forgets them); the caller decides what their death means.
 */
export class LivenessTracker<Id = string> {
  private readonly lastSeen = new Map<Id, number>();

  constructor(private readonly settings: LivenessSettings) {}

  touch(id: Id, now: number): void {
    this.lastSeen.set(id, now);
  }

  forget(id: Id): void {
    this.lastSeen.delete(id);
  }

  has(id: Id): boolean {
    return this.lastSeen.has(id);
  }

  lastHeard(id: Id): number | undefined {
    return this.lastSeen.get(id);
  }

  /** The workers dead at `now`, removed from tracking. */
  sweep(now: number): Id[] {
    const dead: Id[] = [];
    for (const [id, seen] of this.lastSeen) {
      if (!isAlive(seen, now, this.settings)) dead.push(id);
    }
    for (const id of dead) this.lastSeen.delete(id);
    return dead;
  }

  /** The earliest moment at which some tracked worker could be dead, or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const seen of this.lastSeen.values()) {
      const d = deadline(seen, this.settings);
      if (next === null || d < next) next = d;
    }
    return next;
  }
}
