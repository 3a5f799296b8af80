/**
 * The Store: Switchyard's queue operations over a database. The broker speaks only this
 * interface; SQL stays inside each implementation (SQLite by default, PostgreSQL for several
 * nodes). Every implementation runs the same contract suite (test/store/contract.ts).
 *
 * Glossary (see DESIGN.md): a *job* is one unit of work; an *attempt* one run of it on one
 * worker; *needs* are what a job requires of a worker (queue, type, requirements), stored once
 * per distinct combination so that the dispatcher can match workers against a few needs rather
 * than many jobs; a *node* is one broker process.
 *
 * Writes happen in `write` transactions: everything done in one is durable (committed, synced
 * to disk where the implementation promises it) when its promise resolves, or none of it is.
 * Reads see committed state only.
 */
import type { HoldInfo, JobOptions, JobRecord, JobState, Labels, Progress } from '../domain/job.js';
import type { DependencyState, JobStateView, StateChange } from '../domain/transitions.js';
import type { Block } from '../domain/blocklist.js';
import type { UsageResolution, UsageSample } from '../domain/usage.js';
import type { WorkerControl } from '../domain/worker-control.js';
import type { LimitUse, QueueRecord } from '../domain/queues.js';
import type { Bucket } from '../domain/token-bucket.js';

export type { StateChange } from '../domain/transitions.js';

/** Where backends differ, this says so in one place (tests skip by capability, never fork). */
export interface StoreCapabilities {
  readonly name: 'sqlite' | 'postgres';
  /** Several broker nodes may share this store: claims lock rows and wake-ups cross processes. */
  readonly multiNode: boolean;
  /** Whether a commit is synced to disk before `write` resolves. */
  readonly durableCommit: boolean;
}

/** One distinct combination of queue, type and matched requirements. */
export interface NeedsRecord {
  id: number;
  key: string;
  queue: string;
  type: string;
  /** Requirements without `meta.*` keys, sorted by key. */
  requires: Record<string, string>;
  /** The named concurrency limits its jobs take, sorted by name; empty for most. */
  limits: LimitUse[];
}

export interface NewJob {
  type: string;
  queue: string;
  needsId: number;
  payload: unknown;
  requires: Record<string, string>;
  meta: Record<string, unknown>;
  priority: number;
  /** The job's group (fair queueing, per-group rates), or null. */
  group: string | null;
  /** Its place under the queue's discipline (src/domain/queues.ts): dispatch order. */
  rank: number;
  tag: number;
  maxAttempts: number;
  timeoutMs: number | null;
  killSignal: string;
  killGraceMs: number;
  /**
   * `queued`, or `scheduled` when runAt is in the future, or `held`/`waiting`; `canceled` for a
   * job whose dependency had already failed when it was submitted (with `error`).
   */
  state: Extract<JobState, 'queued' | 'scheduled' | 'held' | 'waiting' | 'canceled'>;
  runAt: number;
  createdAt: number;
  /** What the job asked for beyond the defaults (null for most jobs). */
  options: JobOptions | null;
  /** For a job submitted held. */
  hold: HoldInfo | null;
  /** For a job submitted canceled (see `state`). */
  error?: { code: string; message: string; details?: unknown } | null;
}

/** What the broker keeps in memory of a job a worker runs: enough to assign it and decide its end. */
export interface RunningJob {
  id: number;
  needsId: number;
  attempt: number;
  type: string;
  queue: string;
  payload: unknown;
  requires: Record<string, string>;
  priority: number;
  maxAttempts: number;
  requestFailures: number;
  timeoutMs: number | null;
  killSignal: string;
  killGraceMs: number;
  /**
   * When the job became due: its creation, or the run time it was delayed or backed off to
   * (the metrics' wait is `startedAt - runAt`).
   */
  runAt: number;
  startedAt: number;
  workerId: string;
  workerName: string;
  nodeId: string;
  uncounted: number;
  options: JobOptions | null;
}

export interface ClaimParams {
  /** The needs this worker matches; only their queued jobs are considered. */
  needsIds: readonly number[];
  limit: number;
  workerId: string;
  workerName: string;
  nodeId: string;
  now: number;
}

/** A running attempt kept by the worker (and node) that reports it still runs it. */
export interface AdoptParams {
  id: number;
  attempt: number;
  workerId: string;
  workerName: string;
  nodeId: string;
  now: number;
}

export interface ClaimResult {
  jobs: RunningJob[];
  /** Needs that have no queued job left (the dispatcher stops looking at them until woken). */
  exhausted: number[];
}

/** Which jobs: every field present narrows the set; none is every job. */
export interface JobSelector {
  /** An empty list matches no job. */
  states?: readonly JobState[];
  queue?: string;
  type?: string;
  /** Jobs run (or being run) by the worker with this id or this name. */
  worker?: string;
  /** Failed jobs of this error group (src/domain/error-groups.ts). */
  group?: string;
  /** Submitted at or after / before (ms). */
  createdAfter?: number;
  createdBefore?: number;
  /** Ended at or after / before (ms); jobs that have not ended never match. */
  finishedAfter?: number;
  finishedBefore?: number;
  /**
   * Text found, ignoring ASCII case, in the id (exactly, when it is a number), the type, or the
   * JSON of the payload, the meta or the error.
   */
  search?: string;
  /** Jobs with this attribute (and, when `value` is given, this value). */
  attribute?: { key: string; value?: string };
}

export interface JobQuery extends JobSelector {
  /** Exclusive: ids after (asc) or before (desc) this one. */
  cursor?: number;
  order: 'asc' | 'desc';
  limit: number;
}

export interface LogEntry {
  seq: number;
  jobId: number;
  attempt: number;
  stream: 'stdout' | 'stderr';
  at: number;
  data: string;
}

export type NewLogEntry = Omit<LogEntry, 'seq'>;

/**
 * A message about a job (src/broker/journal.ts): a change of state, progress or an attribute
 * (`data` its JSON text), or a piece of output (`data` the text, with its `stream`). Seqs order
 * one job's messages of every kind; they grow across jobs too, with gaps.
 */
export interface JobMessage {
  seq: number;
  jobId: number;
  /** The attempt the message is about; null for none (a job submitted, promoted, held...). */
  attempt: number | null;
  at: number;
  kind: 'state' | 'progress' | 'attribute' | 'log';
  data: string;
  stream?: 'stdout' | 'stderr';
}

/** A message to store: output is stored with jobLogAppend instead. */
export interface NewJobMessage {
  jobId: number;
  attempt: number | null;
  at: number;
  kind: 'state' | 'progress' | 'attribute';
  data: string;
}

export interface LogDrop {
  jobId: number;
  seqs: readonly number[];
  dropped: number;
  gapAfter: number;
}

export interface ProgressUpdate {
  id: number;
  attempt: number;
  progress: Progress;
}

export interface AttributeUpdate {
  id: number;
  attempt: number;
  key: string;
  value: string;
}

/** An attempt of a job, as a key: what jobProgressSet and jobAttributeSet say they set. */
export const attemptKey = (u: { id: number; attempt: number }): string => `${u.id}:${u.attempt}`;

export interface WorkerRecord {
  id: string;
  name: string;
  nodeId: string;
  labels: Labels;
  types: string[];
  queues: string[];
  slots: number;
  address: string | null;
  connectedAt: number;
  lastSeenAt: number;
  online: boolean;
  /** SHA-256 of the secret the worker was welcomed with (hex); it proves itself with it. */
  secretHash: string | null;
}

/** One failure of a job on a worker, counted towards the blocklist (src/domain/blocklist.ts). */
export interface BlocklistFailure {
  workerId: string;
  queue: string;
  type: string;
  /** Failures that block (at least 1). */
  threshold: number;
  now: number;
}

/** A sample of a worker's resource use, at one resolution (src/domain/usage.ts). */
export interface UsageRow {
  workerId: string;
  resolution: UsageResolution;
  sample: UsageSample;
}

export interface NodeRecord {
  id: string;
  address: string;
  startedAt: number;
  heartbeatAt: number;
  /**
   * The node's recent counts of jobs in and out per queue (JSON, src/broker/queues.ts), written
   * with its heartbeat; a heartbeat without it keeps the last.
   */
  queueStats?: string | null;
}

/** Per queue: jobs per state, and the longest-waiting queued job's due time. */
export interface QueueSummaryRow {
  queue: string;
  state: JobState;
  count: number;
  /** For `queued`: the earliest run time (when the longest-waiting job became due). */
  oldestRunAt: number | null;
}

/** Running jobs of one needs (what gates count against concurrency and named limits). */
export interface RunningCount {
  needsId: number;
  queue: string;
  count: number;
}

/** A queued job as a claim by ids would pick it, with its group (per-group rate limits). */
export interface QueuedCandidate {
  id: number;
  needsId: number;
  group: string | null;
}

/** What fair queueing asks when jobs enter a fair queue: the first tag of each group's run. */
export interface FairTagRequest {
  queue: string;
  /** The queue's needs: the queue's virtual time is the smallest tag at their heads. */
  needsIds: readonly number[];
  /** Per group: how many jobs enter, and how far each moves the group's tag (1/weight). */
  groups: ReadonlyArray<{ group: string; count: number; step: number }>;
}

export type JobCounts = Record<JobState, number>;

/** How many jobs one queue has in one state (only pairs that have jobs). */
export interface QueueStateCount {
  queue: string;
  state: JobState;
  count: number;
}

/** What planning a change of a job reads, and what re-queuing it needs. */
export interface JobStateRow extends JobStateView {
  needsId: number;
  priority: number;
}

/** A change of a job that is not a change of state: its priority or its queue (new needs). */
export interface JobReplan {
  id: number;
  /** Applied only if the job is still in this state (never `running` or ended). */
  from: JobState;
  priority?: number;
  /** With `queue`: the needs of the job in its new queue. */
  queue?: string;
  needsId?: number;
  /** Its new place under its queue's discipline (with a new priority or queue). */
  rank?: number;
  tag?: number;
  now: number;
}

/** A waiting job that depends on some of the jobs asked about, with all its dependencies. */
export interface Dependent {
  id: number;
  state: JobState;
  needsId: number;
  priority: number;
  runAt: number;
  /** What it asked for beyond the defaults (a callback when it is canceled, for one). */
  options: JobOptions | null;
  dependencies: DependencyState[];
}

/** The job holding a uniqueness key, as deduplication needs to judge it. */
export interface UniqueHolder {
  jobId: number;
  state: JobState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The holder's own rule (as it was submitted). */
  forMs: number | null;
  while: JobState[] | null;
}

/** One group of the failed queue. */
export interface FailedGroupRow {
  /** The queue, the type, or the error group. */
  key: string;
  count: number;
  /** The newest failed job of the group. */
  newestId: number;
}

/**
 * What nodes sharing a store tell each other: `wake` (queued jobs of some needs appeared; the
 * payload lists needs ids), `event` (events for subscribers on every node) and `control` (a
 * node has commands waiting in the store).
 */
export type ClusterChannel = 'wake' | 'event' | 'control';

export type ClusterHandler = (channel: ClusterChannel, payload: string) => void;

/** A queued job as the dispatcher needs to know it. */
export interface QueuedRef {
  id: number;
  needsId: number;
  /**
   * For ordering a worker's own queue (queue_manager multi), which holds only jobs of queues
   * ordered by priority (src/broker/dispatcher.ts): there rank and priority are one.
   */
  priority: number;
  /** Re-queued ahead of the others of its priority (a run lost to the system). */
  ahead?: boolean;
}

/**
 * A callback to send (src/broker/notifier.ts): one HTTP POST, kept in the outbox until it is
 * delivered or given up. `target` says whose it is: `global` callbacks go with the global
 * notifier's basic auth; a job's own (`job`) never do. The credentials stay in the config.
 */
export interface NewCallback {
  /** The idempotency key: the same on every try, unique per event. */
  key: string;
  target: 'global' | 'job';
  url: string;
  /** The JSON body, as sent. */
  body: string;
  /** When it may first be sent. */
  nextAt: number;
  createdAt: number;
}

/** A callback as the outbox holds it. */
export interface Callback extends NewCallback {
  id: number;
  /** Tries begun so far; a claim counts the try it is for. */
  attempts: number;
}

/** Claims due callbacks for one try each (see StoreTx.outboxClaim). */
export interface CallbackClaim {
  /** Who claims: unique per claim, and what settling them must name. */
  owner: string;
  now: number;
  /** The claim lapses this long after `now` (then another claim may take the callback). */
  leaseMs: number;
  limit: number;
  /**
   * Also take callbacks claimed by someone else, whatever their lease: for a node starting on
   * a store that serves it alone, where any claim left is that of a process that died.
   */
  takeOver?: boolean;
}

/** How a claimed try of a callback ended. */
export type CallbackOutcome =
  /** Delivered or given up: removed from the outbox. */
  | { id: number; owner: string; kind: 'remove' }
  /** Tried again at `nextAt`, with `attempts` counted; the claim ends. */
  | { id: number; owner: string; kind: 'retry'; nextAt: number; attempts: number; error: string };

/** Operations inside one write transaction. */
/**
 * A cron schedule as stored (src/broker/schedules.ts). `template` is the job submission (the
 * JSON of POST /jobs, checked when the schedule was set); `nextAt` the due time of the next
 * tick, null when the expression has no more. A tick is fired by `scheduleAdvance`.
 */
export interface ScheduleRecord {
  name: string;
  cron: string;
  timezone: string;
  template: unknown;
  overlap: 'skip' | 'allow';
  missed: 'once' | 'skip';
  paused: boolean;
  nextAt: number | null;
  lastRunAt: number | null;
  lastJobId: number | null;
  /** Ticks that fired a job, and ticks that did not (overlap, missed). */
  fired: number;
  skipped: number;
  createdAt: number;
  updatedAt: number;
}

/** What a schedule's owner sets (the counters and the last run are the ticks'). */
export type ScheduleSettings = Omit<
  ScheduleRecord,
  'lastRunAt' | 'lastJobId' | 'fired' | 'skipped' | 'createdAt'
>;

/**
 * One tick: applied only while the schedule's due time is still `dueAt` (and it is not paused),
 * so that of two fires of one tick exactly one wins; counts `fired` and `skipped` ticks.
 */
export interface ScheduleAdvance {
  name: string;
  dueAt: number;
  nextAt: number | null;
  now: number;
  fired: number;
  skipped: number;
}

export interface StoreTx {
  /** The id of these needs, creating them if new. */
  needsUpsert(needs: Omit<NeedsRecord, 'id'>): Promise<number>;
  /** Inserts jobs; returns their ids in order. */
  jobInsertMany(jobs: readonly NewJob[]): Promise<number[]>;
  /**
   * Moves up to `limit` queued jobs of the given needs to `running` for one worker: highest
   * priority first, then oldest; each gets its next attempt number.
   */
  jobClaim(params: ClaimParams): Promise<ClaimResult>;
  /** Like jobClaim, for named jobs (those still queued); in the order given. */
  jobClaimIds(
    ids: readonly number[],
    params: Omit<ClaimParams, 'needsIds' | 'limit'>,
  ): Promise<RunningJob[]>;
  /**
   * Applies conditional changes of state (planned in src/domain/transitions.ts), in order: each
   * only if its job is still in `from` and, when a `lease` is given, still runs that attempt on
   * that worker of that node. Returns, per change, whether it applied. A job entering a terminal
   * state gets its end time; one leaving it loses it.
   */
  jobSetStateIfMany(changes: readonly StateChange[]): Promise<boolean[]>;
  /**
   * The named jobs as they are now, for planning a change in this transaction: with several
   * nodes their rows are locked until the commit, so that the state read is the state replaced.
   * Unknown ids are left out; the order is by id.
   */
  jobGetForUpdate(ids: readonly number[]): Promise<JobRecord[]>;
  /**
   * Like jobGetForUpdate, only what planning a change by hand reads (no payload, no history):
   * an action on thousands of jobs locks and reads them cheaply.
   */
  jobStatesForUpdate(ids: readonly number[]): Promise<JobStateRow[]>;
  /**
   * A reconnecting worker keeps a job it still runs: applies when the job is `running` with
   * that attempt on that worker (whatever node it was on). Returns the job when it applied.
   */
  jobAdopt(params: AdoptParams): Promise<RunningJob | undefined>;
  /** Moves due `scheduled` jobs to `queued` (earliest run time first); returns them. */
  jobPromoteDue(now: number, limit: number): Promise<{ jobs: QueuedRef[] }>;
  /**
   * Changes priorities and queues of jobs that wait (conditional on their state, as
   * jobSetStateIfMany); returns per change whether it applied.
   */
  jobReplan(changes: readonly JobReplan[]): Promise<boolean[]>;
  /**
   * Deletes jobs with their logs, dependency links and the uniqueness keys they hold; returns
   * how many existed.
   */
  jobDelete(ids: readonly number[]): Promise<number>;
  /**
   * Deletes up to `limit` jobs in `state` (an ended one) that ended before `finishedBefore`,
   * oldest first, as jobDelete does; returns their ids.
   */
  jobPurge(state: JobState, finishedBefore: number, limit: number): Promise<number[]>;
  /** Records that each `jobId` waits for `dependsOn`. */
  jobDependenciesAdd(links: ReadonlyArray<{ jobId: number; dependsOn: number }>): Promise<void>;
  /**
   * The jobs in state `waiting` that depend on any of `ids`, each with the states of all of
   * its dependencies (a deleted dependency counts as canceled). With several nodes the
   * dependents are locked until the commit: asked in the write that ended the dependencies, of
   * two nodes ending two dependencies of one job at once the second sees both ended.
   */
  jobDependents(ids: readonly number[]): Promise<Dependent[]>;
  /**
   * Takes the uniqueness key for this transaction: with several nodes, concurrent takers of one
   * key wait for each other until commit. Returns the job holding it (null: none, or the holder
   * was deleted); the caller then judges and either answers with the holder or gives the key to
   * its new job with `uniqueSet`.
   */
  uniqueTake(key: string): Promise<UniqueHolder | null>;
  /** uniqueTake of many keys at once (with several nodes: a few statements, whatever their number). */
  uniqueTakeMany(keys: readonly string[]): Promise<Map<string, UniqueHolder | null>>;
  /** uniqueSet of many keys at once. */
  uniqueSetMany(
    entries: ReadonlyArray<{
      key: string;
      jobId: number;
      rule: { forMs: number | null; while: JobState[] | null };
    }>,
  ): Promise<void>;
  /** Gives the key (taken in this transaction) to `jobId`, with its rule. */
  uniqueSet(
    key: string,
    jobId: number,
    rule: { forMs: number | null; while: JobState[] | null },
  ): Promise<void>;
  /**
   * Appends messages about jobs; returns the seqs given, in order, from the counter that output
   * takes its seqs from too. Their jobs must exist.
   */
  jobMessageAppend(messages: readonly NewJobMessage[]): Promise<number[]>;
  /** Appends output; returns the seqs given, in order. Their jobs must exist. */
  jobLogAppend(entries: readonly NewLogEntry[]): Promise<number[]>;
  /**
   * Drops stored pieces of a job's output (pushed out of its tail) and counts what was dropped;
   * `gapAfter` (the last head piece's seq, 0 for none) is kept from the first drop on.
   */
  jobLogDrop(drop: LogDrop): Promise<void>;
  /** The sizes of a job's stored output pieces (seq order) and the bytes dropped so far. */
  jobLogSizes(
    jobId: number,
  ): Promise<{ pieces: Array<{ seq: number; bytes: number }>; dropped: number }>;
  /**
   * Sets progress of running attempts (ignored for attempts no longer current); returns the
   * attempts it set, as `attemptKey`s.
   */
  jobProgressSet(updates: readonly ProgressUpdate[]): Promise<ReadonlySet<string>>;
  /** Sets attributes of running attempts, as jobProgressSet does progress. */
  jobAttributeSet(updates: readonly AttributeUpdate[]): Promise<ReadonlySet<string>>;
  workerUpsert(worker: WorkerRecord): Promise<void>;
  /** Marks a worker offline, if it is still attached to that node (it may have moved on). */
  workerSetOffline(id: string, nodeId: string, now: number): Promise<void>;
  /** Replaces what operators decided about a worker (src/domain/worker-control.ts). */
  workerControlSet(workerId: string, control: WorkerControl, now: number): Promise<void>;
  /**
   * Counts one failure of a job of `type` in `queue` on a worker; returns the block when this
   * failure is the one that reaches the threshold, null otherwise (below it, or blocked before).
   */
  blocklistFailure(failure: BlocklistFailure): Promise<Block | null>;
  /**
   * Clears a worker's blocks (and failure counts) for a type, in one queue or in all; returns
   * the blocks cleared.
   */
  blocklistClear(clear: { workerId: string; type: string; queue?: string }): Promise<Block[]>;
  /** Adds usage samples; a second sample of one worker, resolution and time is ignored. */
  usageAdd(rows: readonly UsageRow[]): Promise<void>;
  /** Drops samples older than their resolution keeps; returns how many. */
  usagePrune(before: { fine: number; minute: number }): Promise<number>;
  /** A command for one node (src/broker/control.ts), kept until that node takes it. */
  nodeCommandAdd(command: { nodeId: string; body: string; now: number }): Promise<void>;
  /** Removes and returns the commands waiting for a node, oldest first. */
  nodeCommandTake(nodeId: string): Promise<string[]>;
  /** Drops the commands of nodes not among the live ones (nobody will take them). */
  nodeCommandPurge(liveNodeIds: readonly string[]): Promise<number>;
  nodeHeartbeat(node: NodeRecord): Promise<void>;
  settingSet(key: string, value: string): Promise<void>;
  /** Adds a schedule; false (nothing written) when one of that name exists. */
  scheduleInsert(schedule: ScheduleRecord): Promise<boolean>;
  /** Replaces a schedule's settings; false when there is no schedule of that name. */
  scheduleUpdate(settings: ScheduleSettings): Promise<boolean>;
  /** Removes a schedule; false when there was none. */
  scheduleDelete(name: string): Promise<boolean>;
  /** A schedule, its row locked until the transaction ends (with several nodes). */
  scheduleGetForUpdate(name: string): Promise<ScheduleRecord | undefined>;
  /**
   * Fires or skips one tick: advances the due time from `dueAt` to `nextAt` and counts, only
   * while the due time is still `dueAt` and the schedule is not paused. True when it applied.
   */
  scheduleAdvance(advance: ScheduleAdvance): Promise<boolean>;
  /** Records the job a tick fired (after `scheduleAdvance` won, in the same transaction). */
  scheduleSetLastJob(name: string, jobId: number): Promise<void>;
  /** Adds callbacks to the outbox (keys must be new). */
  outboxAdd(callbacks: readonly NewCallback[]): Promise<void>;
  /**
   * Claims up to `limit` due callbacks (next try due, no claim or a lapsed one), earliest due
   * first, counting a try for each. With several nodes each is claimed by one node only: rows
   * another transaction is claiming are skipped, not waited for.
   */
  outboxClaim(claim: CallbackClaim): Promise<Callback[]>;
  /** Applies outcomes of tries, each only while its callback is still claimed by its owner. */
  outboxSettle(outcomes: readonly CallbackOutcome[]): Promise<boolean[]>;
  /**
   * A queue's row as committed, for changing it in this transaction: with several nodes,
   * concurrent changes of one queue wait for each other until commit.
   */
  queueGetForUpdate(name: string): Promise<QueueRecord | undefined>;
  /** Creates or replaces a queue's row (its settings and whether it is paused). */
  queuePut(queue: QueueRecord): Promise<void>;
  /** Removes a queue's row, its fair groups and its buckets; whether it had a row. */
  queueDelete(name: string): Promise<boolean>;
  /**
   * Fair queueing (src/domain/queues.ts): for each group, the tag of the first of its jobs
   * entering now (the others follow at `step` apart), advancing the group's last tag past them.
   * With several nodes, concurrent entries of one group get disjoint tags.
   */
  fairTags(request: FairTagRequest): Promise<number[]>;
  /**
   * Gives the queued jobs of a queue their place under a new discipline (rank and, for fair,
   * tags by group in their present order, with the group weights); returns how many.
   */
  queueReorder(
    queue: string,
    discipline: QueueRecord['settings']['discipline'],
    weights: Record<string, number>,
  ): Promise<number>;
  /**
   * Serialises dispatch of gated jobs (rate buckets, concurrency, named limits) across nodes:
   * takes these keys until the commit, in sorted order. A single-node store needs no lock.
   */
  gateLock(keys: readonly string[]): Promise<void>;
  /** Token buckets by key (missing: never used). */
  bucketsGet(keys: readonly string[]): Promise<Map<string, Bucket>>;
  bucketsPut(entries: ReadonlyArray<{ key: string; bucket: Bucket }>): Promise<void>;
  /** Running jobs per needs, as committed now (after gateLock: as no other node will change). */
  runningCounts(): Promise<RunningCount[]>;
  /** The totals of these named limits (missing: no total set). */
  limitMaxes(names: readonly string[]): Promise<Map<string, number>>;
  /** Up to `limit` queued jobs of these needs in dispatch order, with their groups. */
  jobQueuedCandidates(needsIds: readonly number[], limit: number): Promise<QueuedCandidate[]>;
  /** Sets a named limit's total; null removes it (no total). */
  limitPut(name: string, max: number | null, now: number): Promise<void>;
  /**
   * Sends `payload` (at most 7,000 bytes) on `channel` to the subscribers of every node sharing
   * this store, this one included, when the transaction commits; nothing if it rolls back.
   */
  publish(channel: ClusterChannel, payload: string): Promise<void>;
}

export interface Store {
  readonly capabilities: StoreCapabilities;
  /** Runs `fn` in one transaction; resolves after the commit (durable per capabilities). */
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;

  jobGet(id: number): Promise<JobRecord | undefined>;
  jobList(query: JobQuery): Promise<JobRecord[]>;
  /** Ids of the jobs the selector matches, ascending, after `afterId`: actions walk them in chunks. */
  jobSelectIds(selector: JobSelector, afterId: number, limit: number): Promise<number[]>;
  /** How many jobs the selector matches. */
  jobCount(selector: JobSelector): Promise<number>;
  /** A job's dependencies with their states, and the ids of the jobs that depend on it. */
  jobDependencyView(id: number): Promise<{ dependencies: DependencyState[]; dependents: number[] }>;
  /** The failed queue grouped by queue, type or error group: largest groups first. */
  failedGroups(
    by: 'queue' | 'type' | 'error',
    limit: number,
  ): Promise<{ total: number; groups: FailedGroupRow[] }>;
  jobLogs(id: number, afterSeq: number, limit: number): Promise<LogEntry[]>;
  /** A job's messages with seqs above `afterSeq`, output included, in seq order. */
  jobMessages(id: number, afterSeq: number, limit: number): Promise<JobMessage[]>;
  jobCounts(): Promise<JobCounts>;
  /**
   * Jobs per queue and state, pairs without jobs left out (the metrics' gauge). A scan of the
   * jobs table: callers cache the answer rather than ask per request.
   */
  jobCountsByQueue(): Promise<QueueStateCount[]>;
  /** The earliest run time among scheduled jobs, or null. */
  jobNextRunAt(): Promise<number | null>;
  /** Queues with a row (created with settings, or paused), by name. */
  queueList(): Promise<QueueRecord[]>;
  /** Jobs per queue and state with the oldest wait (a scan: callers cache it, as jobCountsByQueue). */
  queueSummary(): Promise<QueueSummaryRow[]>;
  /** The named limits with a total. */
  limitList(): Promise<Array<{ name: string; max: number }>>;
  /** Running jobs per needs (see StoreTx.runningCounts). */
  runningCounts(): Promise<RunningCount[]>;
  /**
   * How many queued jobs of the same needs come before this queued job in dispatch order,
   * counting at most `cap`; null when it is not queued.
   */
  jobQueuedAhead(id: number, cap: number): Promise<number | null>;
  /** Running jobs whose node is not among the live ones: candidates for rescue. */
  jobListOrphans(liveNodeIds: readonly string[], limit: number): Promise<RunningJob[]>;
  /** Queued jobs with ids above `afterId`, by id: the `multi` queue manager loads them at start. */
  jobQueuedRefs(afterId: number, limit: number): Promise<QueuedRef[]>;
  /** Running jobs held by one worker (of this node), as the store knows them. */
  jobListRunningByWorker(workerId: string): Promise<RunningJob[]>;
  needsList(): Promise<NeedsRecord[]>;
  workerList(): Promise<WorkerRecord[]>;
  workerGet(id: string): Promise<WorkerRecord | undefined>;
  nodeList(): Promise<NodeRecord[]>;
  /** What operators decided about a worker, or undefined if nothing yet. */
  workerControlGet(workerId: string): Promise<WorkerControl | undefined>;
  /**
   * Blocks in force: of one worker, or (with `pairs`) those for the given queue and type
   * pairs, or all; by worker, queue and type.
   */
  blocklistList(query: {
    workerId?: string;
    pairs?: ReadonlyArray<{ queue: string; type: string }>;
  }): Promise<Block[]>;
  /** A worker's samples at one resolution from `since` on, oldest first, at most `limit`. */
  usageList(query: {
    workerId: string;
    resolution: UsageResolution;
    since: number;
    limit: number;
  }): Promise<UsageSample[]>;
  settingGet(key: string): Promise<string | undefined>;
  /** Every schedule, by name. */
  scheduleList(): Promise<ScheduleRecord[]>;
  scheduleGet(name: string): Promise<ScheduleRecord | undefined>;
  /** The earliest due time among schedules not paused, or null. */
  scheduleNextAt(): Promise<number | null>;
  /** How many callbacks the outbox holds (pending or being sent). */
  outboxBacklog(): Promise<number>;
  /** The earliest time a callback of the outbox may be claimed (its due time or claim's end), or null. */
  outboxNextAt(): Promise<number | null>;
  /** Receives what any node sharing the store publishes, after its commit; returns an unsubscribe. */
  subscribe(handler: ClusterHandler): () => void;
  /**
   * Takes or keeps the cluster leadership for this store (this node): true while it holds it,
   * false while another node does. Leadership is lost when the node's session with the database
   * ends (it dies or is cut off). A store that serves a single node always leads.
   */
  lead(): Promise<boolean>;
}
