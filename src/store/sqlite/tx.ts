/**
 * StoreTx over the writer. Methods are async to fit the interface but do their work at once,
 * synchronously: better-sqlite3 is synchronous, and a transaction's statements run in the order
 * they are called. A tx is usable only while its `write` runs; using one that escaped its
 * callback throws instead of writing outside any transaction.
 */
import type { JobRecord, JobState } from '../../domain/job.js';
import type {
  AdoptParams,
  AttributeUpdate,
  Callback,
  CallbackClaim,
  CallbackOutcome,
  NewCallback,
  ClaimParams,
  ClaimResult,
  ClusterChannel,
  Dependent,
  JobReplan,
  NeedsRecord,
  NewJob,
  LogDrop,
  NewLogEntry,
  NewJobMessage,
  NodeRecord,
  ProgressUpdate,
  QueuedRef,
  RunningJob,
  StateChange,
  StoreTx,
  UniqueHolder,
  WorkerRecord,
  JobStateRow,
  ScheduleAdvance,
  ScheduleRecord,
  ScheduleSettings,
  BlocklistFailure,
  UsageRow,
  FairTagRequest,
  QueuedCandidate,
  RunningCount,
} from '../store.js';
import type { Discipline, QueueRecord } from '../../domain/queues.js';
import type { Bucket } from '../../domain/token-bucket.js';
import type { Conn } from './connection.js';
import { jobMessageAppend } from './messages.js';
import {
  bucketsGet,
  bucketsPut,
  fairTags,
  jobQueuedCandidates,
  limitMaxes,
  limitPut,
  queueDelete,
  queueGet,
  queuePut,
  queueReorder,
  runningCounts,
} from './queues.js';
import { jobAdopt, jobClaim, jobClaimIds } from './jobs-claim.js';
import { jobDependenciesAdd, jobDependents } from './jobs-deps.js';
import { jobGetForUpdate, jobReplan, jobSetStateIfMany, jobStatesForUpdate } from './jobs-state.js';
import { jobInsertMany, jobPromoteDue } from './jobs-enqueue.js';
import { jobDelete, jobPurge } from './jobs-remove.js';
import {
  jobAttributeSet,
  jobLogAppend,
  jobLogDrop,
  jobLogSizes,
  jobProgressSet,
} from './jobs-running.js';
import {
  needsUpsert,
  nodeCommandAdd,
  nodeCommandPurge,
  nodeCommandTake,
  nodeHeartbeat,
  settingSet,
  workerSetOffline,
  workerUpsert,
} from './registry.js';
import {
  scheduleAdvance,
  scheduleDelete,
  scheduleGet,
  scheduleInsert,
  scheduleSetLastJob,
  scheduleUpdate,
} from './schedules.js';
import {
  blocklistClear,
  blocklistFailure,
  usageAdd,
  usagePrune,
  workerControlSet,
} from './worker-control.js';
import type { Block } from '../../domain/blocklist.js';
import type { WorkerControl } from '../../domain/worker-control.js';
import { outboxAdd, outboxClaim, outboxSettle } from './outbox.js';
import { uniqueSet, uniqueSetMany, uniqueTake, uniqueTakeMany } from './unique.js';

/** One `write` transaction's operations. */
export class SqliteTx implements StoreTx {
  private active = true;
  /** Messages published in this transaction, delivered by the store after the commit. */
  readonly published: Array<[ClusterChannel, string]> = [];

  constructor(private readonly conn: Conn) {}

  /** Called by the store when the transaction commits or rolls back. */
  end(): void {
    this.active = false;
  }

  private get c(): Conn {
    if (!this.active) throw new Error('store transaction used after its write() ended');
    return this.conn;
  }

  async needsUpsert(needs: Omit<NeedsRecord, 'id'>): Promise<number> {
    return needsUpsert(this.c, needs);
  }

  async jobInsertMany(jobs: readonly NewJob[]): Promise<number[]> {
    return jobInsertMany(this.c, jobs);
  }

  async jobClaim(params: ClaimParams): Promise<ClaimResult> {
    return jobClaim(this.c, params);
  }

  async jobClaimIds(
    ids: readonly number[],
    params: Omit<ClaimParams, 'needsIds' | 'limit'>,
  ): Promise<RunningJob[]> {
    return jobClaimIds(this.c, ids, params);
  }

  async jobSetStateIfMany(changes: readonly StateChange[]): Promise<boolean[]> {
    return jobSetStateIfMany(this.c, changes);
  }

  async jobGetForUpdate(ids: readonly number[]): Promise<JobRecord[]> {
    return jobGetForUpdate(this.c, ids);
  }

  async jobStatesForUpdate(ids: readonly number[]): Promise<JobStateRow[]> {
    return jobStatesForUpdate(this.c, ids);
  }

  async jobAdopt(params: AdoptParams): Promise<RunningJob | undefined> {
    return jobAdopt(this.c, params);
  }

  async jobPromoteDue(now: number, limit: number): Promise<{ jobs: QueuedRef[] }> {
    return jobPromoteDue(this.c, now, limit);
  }

  async jobReplan(changes: readonly JobReplan[]): Promise<boolean[]> {
    return jobReplan(this.c, changes);
  }

  async jobDelete(ids: readonly number[]): Promise<number> {
    return jobDelete(this.c, ids);
  }

  async jobPurge(state: JobState, finishedBefore: number, limit: number): Promise<number[]> {
    return jobPurge(this.c, state, finishedBefore, limit);
  }

  async jobDependenciesAdd(
    links: ReadonlyArray<{ jobId: number; dependsOn: number }>,
  ): Promise<void> {
    jobDependenciesAdd(this.c, links);
  }

  async jobDependents(ids: readonly number[]): Promise<Dependent[]> {
    return jobDependents(this.c, ids);
  }

  async uniqueTakeMany(keys: readonly string[]): Promise<Map<string, UniqueHolder | null>> {
    return uniqueTakeMany(this.c, keys);
  }

  async uniqueSetMany(
    entries: ReadonlyArray<{
      key: string;
      jobId: number;
      rule: { forMs: number | null; while: JobState[] | null };
    }>,
  ): Promise<void> {
    uniqueSetMany(this.c, entries);
  }

  async uniqueTake(key: string): Promise<UniqueHolder | null> {
    return uniqueTake(this.c, key);
  }

  async uniqueSet(
    key: string,
    jobId: number,
    rule: { forMs: number | null; while: JobState[] | null },
  ): Promise<void> {
    uniqueSet(this.c, key, jobId, rule);
  }

  async jobMessageAppend(messages: readonly NewJobMessage[]): Promise<number[]> {
    return jobMessageAppend(this.c, messages);
  }

  async jobLogAppend(entries: readonly NewLogEntry[]): Promise<number[]> {
    return jobLogAppend(this.c, entries);
  }

  async jobLogDrop(drop: LogDrop): Promise<void> {
    jobLogDrop(this.c, drop);
  }

  async jobLogSizes(
    jobId: number,
  ): Promise<{ pieces: Array<{ seq: number; bytes: number }>; dropped: number }> {
    return jobLogSizes(this.c, jobId);
  }

  async jobProgressSet(updates: readonly ProgressUpdate[]): Promise<ReadonlySet<string>> {
    return jobProgressSet(this.c, updates);
  }

  async jobAttributeSet(updates: readonly AttributeUpdate[]): Promise<ReadonlySet<string>> {
    return jobAttributeSet(this.c, updates);
  }

  async workerUpsert(worker: WorkerRecord): Promise<void> {
    workerUpsert(this.c, worker);
  }

  async workerSetOffline(id: string, nodeId: string, now: number): Promise<void> {
    workerSetOffline(this.c, id, nodeId, now);
  }

  async workerControlSet(workerId: string, control: WorkerControl, now: number): Promise<void> {
    workerControlSet(this.c, workerId, control, now);
  }

  async blocklistFailure(failure: BlocklistFailure): Promise<Block | null> {
    return blocklistFailure(this.c, failure);
  }

  async blocklistClear(clear: {
    workerId: string;
    type: string;
    queue?: string;
  }): Promise<Block[]> {
    return blocklistClear(this.c, clear);
  }

  async usageAdd(rows: readonly UsageRow[]): Promise<void> {
    usageAdd(this.c, rows);
  }

  async usagePrune(before: { fine: number; minute: number }): Promise<number> {
    return usagePrune(this.c, before);
  }

  async nodeCommandAdd(command: { nodeId: string; body: string; now: number }): Promise<void> {
    nodeCommandAdd(this.c, command);
  }

  async nodeCommandTake(nodeId: string): Promise<string[]> {
    return nodeCommandTake(this.c, nodeId);
  }

  async nodeCommandPurge(liveNodeIds: readonly string[]): Promise<number> {
    return nodeCommandPurge(this.c, liveNodeIds);
  }

  async nodeHeartbeat(node: NodeRecord): Promise<void> {
    nodeHeartbeat(this.c, node);
  }

  async settingSet(key: string, value: string): Promise<void> {
    settingSet(this.c, key, value);
  }

  async scheduleInsert(schedule: ScheduleRecord): Promise<boolean> {
    return scheduleInsert(this.c, schedule);
  }

  async scheduleUpdate(settings: ScheduleSettings): Promise<boolean> {
    return scheduleUpdate(this.c, settings);
  }

  async scheduleDelete(name: string): Promise<boolean> {
    return scheduleDelete(this.c, name);
  }

  async scheduleGetForUpdate(name: string): Promise<ScheduleRecord | undefined> {
    return scheduleGet(this.c, name);
  }

  async scheduleAdvance(advance: ScheduleAdvance): Promise<boolean> {
    return scheduleAdvance(this.c, advance);
  }

  async scheduleSetLastJob(name: string, jobId: number): Promise<void> {
    return scheduleSetLastJob(this.c, name, jobId);
  }

  async outboxAdd(callbacks: readonly NewCallback[]): Promise<void> {
    outboxAdd(this.c, callbacks);
  }

  async outboxClaim(claim: CallbackClaim): Promise<Callback[]> {
    return outboxClaim(this.c, claim);
  }

  async outboxSettle(outcomes: readonly CallbackOutcome[]): Promise<boolean[]> {
    return outboxSettle(this.c, outcomes);
  }

  async queueGetForUpdate(name: string): Promise<QueueRecord | undefined> {
    return queueGet(this.c, name);
  }

  async queuePut(queue: QueueRecord): Promise<void> {
    queuePut(this.c, queue);
  }

  async queueDelete(name: string): Promise<boolean> {
    return queueDelete(this.c, name);
  }

  async fairTags(request: FairTagRequest): Promise<number[]> {
    return fairTags(this.c, request);
  }

  async queueReorder(
    queue: string,
    discipline: Discipline,
    weights: Record<string, number>,
  ): Promise<number> {
    return queueReorder(this.c, queue, discipline, weights);
  }

  /** One writer: every transaction is serialised already. */
  async gateLock(): Promise<void> {
    if (!this.active) throw new Error('store transaction used after its write() ended');
  }

  async bucketsGet(keys: readonly string[]): Promise<Map<string, Bucket>> {
    return bucketsGet(this.c, keys);
  }

  async bucketsPut(entries: ReadonlyArray<{ key: string; bucket: Bucket }>): Promise<void> {
    bucketsPut(this.c, entries);
  }

  async runningCounts(): Promise<RunningCount[]> {
    return runningCounts(this.c);
  }

  async limitMaxes(names: readonly string[]): Promise<Map<string, number>> {
    return limitMaxes(this.c, names);
  }

  async jobQueuedCandidates(
    needsIds: readonly number[],
    limit: number,
  ): Promise<QueuedCandidate[]> {
    return jobQueuedCandidates(this.c, needsIds, limit);
  }

  async limitPut(name: string, max: number | null, now: number): Promise<void> {
    limitPut(this.c, name, max, now);
  }

  async publish(channel: ClusterChannel, payload: string): Promise<void> {
    void this.c;
    this.published.push([channel, payload]);
  }
}
