/**
 * Time, injected. Everything that depends on time (liveness, back-off, scheduling, retention)
 * takes a Clock, for reading the time and for setting timers, so that tests can move time by
 * hand instead of sleeping.
 */

/** A timer set on a Clock. Cancelling one that already fired (or was cancelled) does nothing. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `fn` once, `ms` milliseconds from now. A pending timer never keeps the process alive:
   * whoever sets one also owns whatever else keeps the process running (a server, a socket).
   */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Calls `fn` every `ms` milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
}

/** Node fires longer delays at once; a longer timer is re-armed when this much has passed. */
const MAX_DELAY_MS = 2_147_483_647;

function systemTimeout(fn: () => void, ms: number): Timer {
  let handle: NodeJS.Timeout | undefined;
  const due = Date.now() + ms;
  const arm = (delay: number): void => {
    handle = setTimeout(
      () => {
        const left = due - Date.now();
        if (left > 0) arm(left);
        else fn();
      },
      Math.min(Math.max(0, delay), MAX_DELAY_MS),
    );
    handle.unref();
  };
  arm(ms);
  return { cancel: () => clearTimeout(handle) };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: systemTimeout,
  setInterval(fn, ms) {
    const handle = setInterval(fn, Math.min(Math.max(1, ms), MAX_DELAY_MS));
    handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
};

interface ManualTimer {
  due: number;
  /** Order of setting, so that timers due at the same time fire in the order they were set. */
  seq: number;
  every: number | null;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to; for unit tests. Its timers fire during `advance` and
 * `set`, in order of their due time, with `now()` reading each timer's due time while it runs.
 */
export class ManualClock implements Clock {
  private timers: ManualTimer[] = [];
  private seq = 0;

  constructor(private current = 0) {}

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(0, ms), null);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(1, ms), Math.max(1, ms));
  }

  /** Timers not yet fired nor cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    this.runUntil(this.current + Math.max(0, ms));
  }

  /** Jumps to a time; forward fires the timers due on the way, backward fires none. */
  set(ms: number): void {
    if (ms <= this.current) {
      this.current = ms;
      return;
    }
    this.runUntil(ms);
  }

  private add(fn: () => void, delay: number, every: number | null): Timer {
    const timer: ManualTimer = {
      due: this.current + delay,
      seq: this.seq++,
      every,
      fn,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  private runUntil(target: number): void {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (
          t.due <= target &&
          (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))
        )
          next = t;
      }
      if (next === undefined) break;
      this.current = Math.max(this.current, next.due);
      if (next.every === null) next.cancelled = true;
      else {
        next.due += next.every;
        next.seq = this.seq++;
      }
      next.fn();
    }
    this.current = target;
  }
}
