/**
 * Cron schedules: named cron expressions whose ticks submit a job from a template.
 *
 * Exactly once per tick, across nodes and crashes: the store keeps per schedule the due time of
 * its next tick, and a tick is fired by one transaction that moves that due time on from the
 * value it read (a conditional update: of two nodes, one wins) and inserts the tick's job. A
 * crash leaves both or neither. The job also carries a uniqueness key of its tick, so that even
 * a double fire could not make two jobs.
 *
 * The ticker runs on the cluster leader (any node would be correct, the leader saves the others
 * the reads): it wakes at the earliest due time, on the injected clock, and re-reads the due
 * times at every maintenance heartbeat (a schedule set through another node, a new leader).
 */
import type { Logger } from 'pino';
import type { Clock, Timer } from '../domain/clock.js';
import { parseCron, planTick, type CronSpec } from '../domain/cron.js';
import { SwitchyardError, invalid, notFound } from '../domain/errors.js';
import { isTerminal } from '../domain/job.js';
import type { SubmitJob } from '../protocol/api.js';
import type { ScheduleCreate, SchedulePatch } from '../protocol/schedules.js';
import type { ScheduleRecord, Store, StoreTx } from '../store/store.js';
import type { BatchContext, Committer } from './committer.js';
import type { EventBus } from './events.js';
import type { JobService } from './jobs.js';
import { prepareJob, type PreparedJob } from './submission.js';

/**
 * At most this many schedules: the leader reads them all at every heartbeat, and a listing
 * works out the next run times of each.
 */
export const MAX_SCHEDULES = 1_000;

export interface ScheduleServiceDeps {
  store: Store;
  committer: Committer;
  jobs: JobService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  /** Whether this node runs the ticker now (the cluster leader). */
  isLeader(): boolean;
}

/** The job a tick submits: the template, marked with its schedule and tick, unique per tick. */
export function tickJob(template: SubmitJob, name: string, tickAt: number): SubmitJob {
  return {
    ...template,
    meta: { ...template.meta, schedule: name, tick: new Date(tickAt).toISOString() },
    unique: { key: `schedule:${name}:${tickAt}` },
  };
}

export class ScheduleService {
  private timer: Timer | null = null;
  private armedAt: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private readonly specs = new Map<string, CronSpec>();

  constructor(private readonly deps: ScheduleServiceDeps) {}

  /** Starts ticking (on the leader); idempotent. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.recheck();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.armedAt = null;
  }

  /** Resolves when no tick is being fired (tests: after moving the clock). */
  async settled(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  /** Re-reads the due times (a heartbeat, a change): fires what is due, arms for the rest. */
  recheck(): void {
    if (this.stopped || !this.deps.isLeader()) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.recheck();
      }
    });
  }

  async list(): Promise<ScheduleRecord[]> {
    return this.deps.store.scheduleList();
  }

  async get(name: string): Promise<ScheduleRecord> {
    const s = await this.deps.store.scheduleGet(name);
    if (s === undefined) throw notFound('schedule', name);
    return s;
  }

  /** The cron spec of a stored schedule (checked when it was set). */
  spec(s: Pick<ScheduleRecord, 'cron' | 'timezone'>): CronSpec | null {
    const key = `${s.timezone} ${s.cron}`;
    let spec = this.specs.get(key);
    if (spec === undefined) {
      const parsed = parseCron(s.cron, s.timezone);
      if ('problem' in parsed) return null;
      spec = parsed.spec;
      if (this.specs.size > MAX_SCHEDULES) this.specs.clear();
      this.specs.set(key, spec);
    }
    return spec;
  }

  async create(input: ScheduleCreate): Promise<ScheduleRecord> {
    const { committer, clock } = this.deps;
    const now = clock.now();
    const timezone = input.timezone ?? 'UTC';
    const spec = this.check(input.cron, timezone, input.job, now);
    const paused = input.paused ?? false;
    const record: ScheduleRecord = {
      name: input.name,
      cron: input.cron,
      timezone,
      template: input.job,
      overlap: input.overlap ?? 'skip',
      missed: input.missed ?? 'once',
      paused,
      nextAt: paused ? null : spec.cron.nextRun(new Date(now))!.getTime(),
      lastRunAt: null,
      lastJobId: null,
      fired: 0,
      skipped: 0,
      createdAt: now,
      updatedAt: now,
    };
    // Refusals are answered after the transaction, not thrown in it: a throw would roll back
    // the other operations of its batch too (they are then retried one by one).
    const outcome = await committer.run(async (tx, ctx) => {
      if ((await this.deps.store.scheduleList()).length >= MAX_SCHEDULES) return 'full';
      if (!(await tx.scheduleInsert(record))) return 'exists';
      this.changed(ctx, input.name, 'created');
      return 'created';
    });
    if (outcome === 'full')
      throw new SwitchyardError('conflict', `there are ${MAX_SCHEDULES} schedules already`);
    if (outcome === 'exists')
      throw new SwitchyardError('conflict', `schedule ${input.name} exists already`, {
        name: input.name,
      });
    return record;
  }

  /**
   * Changes a schedule. A new expression or time zone, and a resume, take the next tick after
   * now (ticks while paused never fire); other changes keep the due time.
   */
  async update(
    name: string,
    patch: SchedulePatch,
    change: 'updated' | 'paused' | 'resumed' = 'updated',
  ): Promise<ScheduleRecord> {
    const { committer, clock } = this.deps;
    const outcome = await committer.run(async (tx, ctx) => {
      const now = clock.now();
      const s = await tx.scheduleGetForUpdate(name);
      if (s === undefined) return notFound('schedule', name);
      const next: ScheduleRecord = {
        ...s,
        cron: patch.cron ?? s.cron,
        timezone: patch.timezone ?? s.timezone,
        template: patch.job ?? s.template,
        overlap: patch.overlap ?? s.overlap,
        missed: patch.missed ?? s.missed,
        paused: patch.paused ?? s.paused,
        updatedAt: now,
      };
      let spec: CronSpec;
      try {
        spec = this.check(next.cron, next.timezone, next.template as SubmitJob, now);
      } catch (error) {
        if (error instanceof SwitchyardError) return error;
        throw error;
      }
      const retimed =
        next.cron !== s.cron || next.timezone !== s.timezone || (s.paused && !next.paused);
      if (next.paused) next.nextAt = null;
      else if (retimed || s.nextAt === null)
        next.nextAt = spec.cron.nextRun(new Date(now))!.getTime();
      await tx.scheduleUpdate(next);
      this.changed(ctx, name, change);
      return next;
    });
    if (outcome instanceof SwitchyardError) throw outcome;
    return outcome;
  }

  async pause(name: string): Promise<ScheduleRecord> {
    return this.update(name, { paused: true }, 'paused');
  }

  async resume(name: string): Promise<ScheduleRecord> {
    return this.update(name, { paused: false }, 'resumed');
  }

  /** Deletes a schedule (the jobs it submitted stay); answers with it as it was. */
  async delete(name: string): Promise<ScheduleRecord> {
    const deleted = await this.deps.committer.run(async (tx, ctx) => {
      const s = await tx.scheduleGetForUpdate(name);
      if (s === undefined || !(await tx.scheduleDelete(name))) return undefined;
      this.changed(ctx, name, 'deleted');
      return s;
    });
    if (deleted === undefined) throw notFound('schedule', name);
    return deleted;
  }

  /** Checks an expression, a time zone and a template as a submission would be; the spec. */
  private check(cron: string, timezone: string, template: SubmitJob, now: number): CronSpec {
    const parsed = parseCron(cron, timezone);
    if ('problem' in parsed) throw invalid(parsed.problem);
    if (parsed.spec.cron.nextRun(new Date(now)) === null)
      throw invalid(`cron: "${cron}" never comes due after now`);
    // The same preparation as a submission's, so a bad template is refused now, not at a tick.
    prepareJob(tickJob(template, 'check', now), now, 'job.');
    return parsed.spec;
  }

  private changed(
    ctx: BatchContext,
    name: string,
    change: 'created' | 'updated' | 'paused' | 'resumed' | 'deleted',
  ): void {
    ctx.afterCommit(() => {
      this.deps.events.emit('schedule:changed', { name, change });
      this.recheck();
    });
  }

  /** Fires every due tick, then arms the timer for the earliest due time left. */
  private async run(): Promise<void> {
    const { store, clock, logger } = this.deps;
    try {
      const now = clock.now();
      // One small read at most heartbeats: the schedules are listed only when one is due.
      const earliest = await store.scheduleNextAt();
      if (earliest !== null && earliest <= now) {
        for (const s of await store.scheduleList()) {
          if (this.stopped || !this.deps.isLeader()) return;
          if (s.paused || s.nextAt === null || s.nextAt > now) continue;
          await this.fire(s.name, now);
        }
      }
      this.arm(earliest !== null && earliest > now ? earliest : await store.scheduleNextAt());
    } catch (err) {
      if (this.stopped) return;
      logger.error({ err }, 'firing schedules failed');
      // Try again soon: a store that is down now may be back.
      this.arm(clock.now() + 1_000);
    }
  }

  private arm(at: number | null): void {
    if (this.stopped) return;
    if (at === null) {
      this.timer?.cancel();
      this.timer = null;
      this.armedAt = null;
      return;
    }
    if (this.armedAt === at) return;
    this.timer?.cancel();
    this.armedAt = at;
    this.timer = this.deps.clock.setTimeout(
      () => {
        this.timer = null;
        this.armedAt = null;
        this.recheck();
      },
      Math.max(0, at - this.deps.clock.now()),
    );
  }

  /**
   * Fires (or skips) the tick of one schedule due by `now`, in one commit: the conditional
   * advance of its due time, then the tick's job through the submission path.
   */
  private async fire(name: string, now: number): Promise<void> {
    const { committer, jobs, events, logger } = this.deps;
    await committer.run(async (tx, ctx) => {
      const s = await tx.scheduleGetForUpdate(name);
      if (s === undefined || s.paused || s.nextAt === null || s.nextAt > now) return;
      const spec = this.spec(s);
      // Checked when it was set; a cron parser of another version may refuse it: no more ticks.
      const plan =
        spec === null
          ? { fire: false, tickAt: s.nextAt, skipped: 1, nextAt: null, missed: false }
          : planTick(spec, s.missed, s.nextAt, now);
      if (spec === null)
        logger.error({ schedule: s.name }, 'the cron expression of a schedule is refused');
      let job: PreparedJob | null = null;
      let reason: 'overlap' | 'missed' | 'invalid' = spec === null ? 'invalid' : 'missed';
      let skipped = plan.skipped;
      if (plan.fire) {
        if (s.overlap === 'skip' && (await this.lastJobRuns(tx, s))) {
          reason = 'overlap';
          skipped++;
        } else {
          try {
            job = prepareJob(tickJob(s.template as SubmitJob, s.name, plan.tickAt), now);
          } catch (err) {
            // Checked when it was set; the rules may have changed since (an upgrade).
            logger.error({ err, schedule: s.name }, 'the job template of a schedule is refused');
            reason = 'invalid';
            skipped++;
          }
        }
      }
      const won = await tx.scheduleAdvance({
        name,
        dueAt: s.nextAt,
        nextAt: plan.nextAt,
        now,
        fired: job === null ? 0 : 1,
        skipped,
      });
      if (!won) return;
      let jobId: number | null = null;
      if (job !== null) {
        const [answer] = await jobs.insertPrepared(tx, ctx, [job], false);
        jobId = answer!.job.id;
        await tx.scheduleSetLastJob(name, jobId);
      }
      ctx.afterCommit(() => {
        if (jobId !== null) {
          const missed = plan.missed ? plan.skipped : 0;
          events.emit('schedule:fired', {
            name,
            tickAt: plan.tickAt,
            jobId: String(jobId),
            missed,
          });
        } else {
          events.emit('schedule:skipped', { name, tickAt: plan.tickAt, reason, ticks: skipped });
        }
      });
    });
  }

  /** Whether the job of the schedule's previous tick has not ended yet. */
  private async lastJobRuns(tx: StoreTx, s: ScheduleRecord): Promise<boolean> {
    if (s.lastJobId === null) return false;
    const [row] = await tx.jobStatesForUpdate([s.lastJobId]);
    return row !== undefined && !isTerminal(row.state);
  }
}
