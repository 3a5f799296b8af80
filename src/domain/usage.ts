/**
 * A worker's resource use as a bounded time series, from its heartbeats: fine samples (at most
 * one per FINE_INTERVAL_MS, kept for FINE_KEEP_MS) and one average per minute (kept for
 * COARSE_KEEP_MS). Pure: the broker feeds it samples and writes what it returns to the store,
 * which prunes by age; the memory here is one minute's sums per worker, whatever the input.
 */

export const FINE_INTERVAL_MS = 5_000;
export const FINE_KEEP_MS = 60 * 60_000;
export const COARSE_INTERVAL_MS = 60_000;
export const COARSE_KEEP_MS = 24 * 60 * 60_000;
/** Jobs recorded per sample (a worker's heartbeat lists at most its running jobs). */
export const MAX_SAMPLE_JOBS = 256;

export type UsageResolution = 'fine' | 'minute';

export interface JobUsage {
  jobId: string;
  /** CPU use of the job's processes, 0..1 of one core per core used (may exceed 1). */
  cpu: number | null;
  /** Resident memory of the job's processes, bytes. */
  rss: number | null;
}

export interface UsageSample {
  at: number;
  /** Host CPU use, 0..1 of all cores; null when the worker did not say. */
  cpu: number | null;
  /** Bytes: the worker process's rss, the host's total and free memory. */
  memory: { rss: number; total: number; free: number } | null;
  jobs: JobUsage[];
}

interface Sums {
  minute: number;
  n: number;
  cpu: number;
  cpuN: number;
  rss: number;
  total: number;
  free: number;
  memN: number;
  jobs: Map<string, { cpu: number; cpuN: number; rss: number; rssN: number; n: number }>;
}

const finite = (x: number | null | undefined): x is number =>
  typeof x === 'number' && Number.isFinite(x);

/** What a sample adds to the store: a fine sample, and the average of a minute that closed. */
export interface UsageWrites {
  fine: UsageSample | null;
  minute: UsageSample | null;
}

/** One worker's series in the making. */
export class UsageSeries {
  private lastFineAt = Number.NEGATIVE_INFINITY;
  private sums: Sums | null = null;

  /**
   * Takes one heartbeat's sample. Returns the fine sample to keep (null when one was kept less
   * than FINE_INTERVAL_MS ago) and the average of the previous minute once a sample of a later
   * minute arrives.
   */
  add(sample: UsageSample): UsageWrites {
    const clean: UsageSample = {
      at: sample.at,
      cpu: finite(sample.cpu) ? Math.max(0, sample.cpu) : null,
      memory:
        sample.memory !== null &&
        finite(sample.memory.rss) &&
        finite(sample.memory.total) &&
        finite(sample.memory.free)
          ? sample.memory
          : null,
      jobs: sample.jobs.slice(0, MAX_SAMPLE_JOBS).map((j) => ({
        jobId: j.jobId,
        cpu: finite(j.cpu) ? Math.max(0, j.cpu) : null,
        rss: finite(j.rss) ? Math.max(0, j.rss) : null,
      })),
    };
    if (sample.at < this.lastFineAt) return { fine: null, minute: null };
    const minute = Math.floor(sample.at / COARSE_INTERVAL_MS) * COARSE_INTERVAL_MS;
    let closed: UsageSample | null = null;
    if (this.sums !== null && this.sums.minute !== minute) {
      closed = average(this.sums);
      this.sums = null;
    }
    this.accumulate(minute, clean);
    let fine: UsageSample | null = null;
    if (sample.at - this.lastFineAt >= FINE_INTERVAL_MS) {
      fine = clean;
      this.lastFineAt = sample.at;
    }
    return { fine, minute: closed };
  }

  /** The average of the minute in progress (when the worker goes away), or null. */
  flush(): UsageSample | null {
    const sums = this.sums;
    this.sums = null;
    return sums === null ? null : average(sums);
  }

  private accumulate(minute: number, s: UsageSample): void {
    const sums = (this.sums ??= {
      minute,
      n: 0,
      cpu: 0,
      cpuN: 0,
      rss: 0,
      total: 0,
      free: 0,
      memN: 0,
      jobs: new Map(),
    });
    sums.n++;
    if (s.cpu !== null) {
      sums.cpu += s.cpu;
      sums.cpuN++;
    }
    if (s.memory !== null) {
      sums.rss += s.memory.rss;
      sums.total += s.memory.total;
      sums.free += s.memory.free;
      sums.memN++;
    }
    for (const j of s.jobs) {
      let js = sums.jobs.get(j.jobId);
      if (js === undefined) {
        // Bounded too: a minute of heartbeats names at most this many distinct jobs.
        if (sums.jobs.size >= MAX_SAMPLE_JOBS) continue;
        js = { cpu: 0, cpuN: 0, rss: 0, rssN: 0, n: 0 };
        sums.jobs.set(j.jobId, js);
      }
      js.n++;
      if (j.cpu !== null) {
        js.cpu += j.cpu;
        js.cpuN++;
      }
      if (j.rss !== null) {
        js.rss += j.rss;
        js.rssN++;
      }
    }
  }
}

function average(s: Sums): UsageSample {
  return {
    at: s.minute,
    cpu: s.cpuN === 0 ? null : s.cpu / s.cpuN,
    memory:
      s.memN === 0
        ? null
        : {
            rss: Math.round(s.rss / s.memN),
            total: Math.round(s.total / s.memN),
            free: Math.round(s.free / s.memN),
          },
    jobs: [...s.jobs].map(([jobId, j]) => ({
      jobId,
      cpu: j.cpuN === 0 ? null : j.cpu / j.cpuN,
      rss: j.rssN === 0 ? null : Math.round(j.rss / j.rssN),
    })),
  };
}

/** Which resolution serves a graph from `since`: fine within the last hour, minutes before. */
export function resolutionFor(since: number, now: number): UsageResolution {
  return since >= now - FINE_KEEP_MS ? 'fine' : 'minute';
}
