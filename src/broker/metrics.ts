/**
 * Prometheus metrics of one node (`GET /metrics`): its own registry (never prom-client's global
 * one, so that two brokers in one process, as in tests, do not mix), every series labelled with
 * `node`. Counters and histograms are bumped in the hot paths (submission, dispatch, the end of
 * an attempt, each commit) and cost a cached child lookup and an addition; gauges are computed
 * when scraped.
 *
 * Label values come from clients (queue names): the number of distinct queues a metric keeps is
 * bounded (`MAX_QUEUE_LABELS`); beyond it, jobs of further queues are counted under
 * `OTHER_QUEUE`, so that a client inventing queue names cannot grow the broker's memory.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobState } from '../domain/job.js';
import type { QueueStateCount } from '../store/store.js';

/** Distinct queue label values kept per metric; later queues share `OTHER_QUEUE`. */
export const MAX_QUEUE_LABELS = 1_000;
export const OTHER_QUEUE = '_other';
/** How long the store's answer for `switchyard_jobs` is reused: scrapes cannot hammer it. */
export const JOB_COUNTS_TTL_MS = 2_000;

/** Seconds, from 5 ms to an hour: waits and runs of jobs. */
const JOB_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];
/** Seconds, from 0.1 ms to 5 s: one group commit. */
const COMMIT_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
];

/** What the slot and worker gauges read from this node's sessions at scrape time. */
export interface WorkerCounts {
  /** Workers per state (idle, busy, draining, disconnected). */
  workers: Record<string, number>;
  busySlots: number;
  freeSlots: number;
}

export interface MetricsDeps {
  nodeId: string;
  now: () => number;
  /** Jobs per queue and state (the store's GROUP BY), asked at most every JOB_COUNTS_TTL_MS. */
  jobCounts: () => Promise<QueueStateCount[]>;
  /** This node's workers and slots, now. */
  workers: () => WorkerCounts;
  /** Whether to collect the process metrics (CPU, memory, event-loop lag, ...). */
  defaultMetrics?: boolean;
}

/** Children of a metric labelled by queue, cached, at most MAX_QUEUE_LABELS of them. */
class ByQueue<T> {
  private readonly children = new Map<string, T>();

  constructor(private readonly make: (queue: string) => T) {}

  get(queue: string): T {
    let child = this.children.get(queue);
    if (child !== undefined) return child;
    const label = this.children.size < MAX_QUEUE_LABELS ? queue : OTHER_QUEUE;
    child = this.children.get(label) ?? this.make(label);
    this.children.set(label, child);
    return child;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly submitted: ByQueue<Counter.Internal>;
  private readonly dispatched: ByQueue<Counter.Internal>;
  private readonly ended: Map<JobState, ByQueue<Counter.Internal>> = new Map();
  private readonly waitSeconds: ByQueue<Histogram.Internal<'queue'>>;
  private readonly runSeconds: ByQueue<Histogram.Internal<'queue'>>;
  private readonly endedCounter: Counter<'queue' | 'state'>;
  private readonly commitSeconds: Histogram;
  private notifierBacklog: (() => Promise<number>) | null = null;
  private counts: { at: number; rows: Promise<QueueStateCount[]> } | null = null;

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: deps.nodeId });
    if (deps.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    const submitted = new Counter({
      name: 'switchyard_jobs_submitted_total',
      help: 'Jobs submitted (committed), by queue',
      labelNames: ['queue'],
      registers,
    });
    this.submitted = new ByQueue((queue) => submitted.labels({ queue }));
    const dispatched = new Counter({
      name: 'switchyard_jobs_dispatched_total',
      help: 'Attempts handed to a worker of this node, by queue',
      labelNames: ['queue'],
      registers,
    });
    this.dispatched = new ByQueue((queue) => dispatched.labels({ queue }));
    this.endedCounter = new Counter({
      name: 'switchyard_jobs_ended_total',
      help: 'Jobs that reached a terminal state (succeeded, failed, canceled), by queue',
      labelNames: ['queue', 'state'],
      registers,
    });
    const wait = new Histogram({
      name: 'switchyard_job_wait_seconds',
      help: 'From a job being due (submitted, or its delay or back-off over) to its start',
      labelNames: ['queue'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.waitSeconds = new ByQueue((queue) => wait.labels({ queue }));
    const run = new Histogram({
      name: 'switchyard_job_run_seconds',
      help: 'How long attempts run on workers of this node, from start to their end',
      labelNames: ['queue'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.runSeconds = new ByQueue((queue) => run.labels({ queue }));
    this.commitSeconds = new Histogram({
      name: 'switchyard_commit_seconds',
      help: 'One group commit: the store transaction of a batch of operations',
      buckets: COMMIT_BUCKETS,
      registers,
    });

    // `collect` runs with the gauge as `this`; these reach the metrics object.
    const jobCounts = () => this.jobCounts();
    const notifierBacklog = () => this.notifierBacklog;
    new Gauge({
      name: 'switchyard_jobs',
      help: 'Jobs in the store by state and queue (every node sees the same; cached 2 s)',
      labelNames: ['state', 'queue'],
      registers,
      async collect() {
        const rows = await jobCounts();
        this.reset();
        // As many queues as the other metrics keep; the rest summed under OTHER_QUEUE.
        const queues = new Set<string>();
        const other = new Map<string, number>();
        for (const r of rows) {
          if (queues.has(r.queue) || queues.size < MAX_QUEUE_LABELS) {
            queues.add(r.queue);
            this.set({ state: r.state, queue: r.queue }, r.count);
          } else {
            other.set(r.state, (other.get(r.state) ?? 0) + r.count);
          }
        }
        for (const [state, n] of other) this.set({ state, queue: OTHER_QUEUE }, n);
      },
    });
    new Gauge({
      name: 'switchyard_workers',
      help: "This node's workers by state (idle, busy, draining, disconnected)",
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const state of ['idle', 'busy', 'draining', 'disconnected']) this.set({ state }, 0);
        for (const [state, n] of Object.entries(deps.workers().workers)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'switchyard_slots',
      help: "Slots of this node's workers: busy (running a job) or free",
      labelNames: ['state'],
      registers,
      collect() {
        const { busySlots, freeSlots } = deps.workers();
        this.set({ state: 'busy' }, busySlots);
        this.set({ state: 'free' }, freeSlots);
      },
    });
    new Gauge({
      name: 'switchyard_notifier_backlog',
      help: 'Notifications waiting to be delivered (0 without a notifier)',
      registers,
      async collect() {
        const source = notifierBacklog();
        this.set(source === null ? 0 : await source());
      },
    });
  }

  /** Where `switchyard_notifier_backlog` comes from (the notifier's `backlog()`); null: none. */
  setNotifierBacklog(source: (() => Promise<number>) | null): void {
    this.notifierBacklog = source;
  }

  /** The text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  jobSubmitted(queue: string): void {
    this.submitted.get(queue).inc();
  }

  /** An attempt started: `dueAt` is when the job became due, `startedAt` its start (ms). */
  jobDispatched(queue: string, dueAt: number, startedAt: number): void {
    this.dispatched.get(queue).inc();
    this.waitSeconds.get(queue).observe(Math.max(0, startedAt - dueAt) / 1000);
  }

  /** An attempt that ran on a worker ended (however), after `ms`. */
  attemptRan(queue: string, ms: number): void {
    this.runSeconds.get(queue).observe(Math.max(0, ms) / 1000);
  }

  /** A job reached a terminal state. */
  jobEnded(queue: string, state: JobState): void {
    let byQueue = this.ended.get(state);
    if (byQueue === undefined) {
      byQueue = new ByQueue((q) => this.endedCounter.labels({ queue: q, state }));
      this.ended.set(state, byQueue);
    }
    byQueue.get(queue).inc();
  }

  /** One store transaction of the group commit took `seconds`. */
  commitTook(seconds: number): void {
    this.commitSeconds.observe(seconds);
  }

  private jobCounts(): Promise<QueueStateCount[]> {
    const now = this.deps.now();
    if (this.counts === null || now - this.counts.at >= JOB_COUNTS_TTL_MS) {
      const rows = this.deps.jobCounts();
      this.counts = { at: now, rows };
      // A failed read is not cached: the next scrape asks again.
      rows.catch(() => {
        if (this.counts?.rows === rows) this.counts = null;
      });
    }
    return this.counts.rows;
  }
}
