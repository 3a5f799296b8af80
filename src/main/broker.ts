/**
 * The composition root of one broker node: it opens the store and builds, in order, group
 * commit, the needs registry, dispatch, the scheduler of delayed jobs, the control plane between
 * nodes, the completion module, the workers' endpoint, the client API, and maintenance
 * (heartbeat, leadership, rescue of orphans). `startBroker` builds and starts it; `close` stops
 * it without touching running work (workers keep their jobs and hand them back to the next
 * broker). Nothing below this file knows how the parts are wired.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApi } from '../api/server.js';
import { Monitor } from '../api/monitor.js';
import { JobAccess } from '../broker/access.js';
import type { ApiContext, ClusterState } from '../api/context.js';
import { ClusterLink } from '../broker/cluster.js';
import { Journal } from '../broker/journal.js';
import { Committer } from '../broker/committer.js';
import { Completion } from '../broker/complete.js';
import { Control } from '../broker/control.js';
import { Dispatcher } from '../broker/dispatcher.js';
import { WorkerMessages } from '../broker/endpoint/messages.js';
import { newId, Registration } from '../broker/endpoint/registration.js';
import { WorkerEndpoint } from '../broker/endpoint/server.js';
import { Sessions } from '../broker/endpoint/sessions.js';
import { UsageRecorder } from '../broker/usage.js';
import { WorkerControls } from '../broker/worker-control.js';
import { EventLog } from '../broker/event-log.js';
import { EventBus } from '../broker/events.js';
import { JobService } from '../broker/jobs.js';
import { Maintenance } from '../broker/maintenance.js';
import { Metrics, type WorkerCounts } from '../broker/metrics.js';
import { NeedsRegistry } from '../broker/needs.js';
import { Notifier } from '../broker/notifier.js';
import { Watchdog } from '../broker/watchdog.js';
import { Persister } from '../broker/persist.js';
import { QueueFlow, QueueRegistry } from '../broker/queues.js';
import { QueueViews } from '../broker/queue-views.js';
import { Reports } from '../broker/reports.js';
import { Rescuer } from '../broker/rescue.js';
import { Scheduler } from '../broker/scheduler.js';
import { ScheduleService } from '../broker/schedules.js';
import { checkExposure } from '../config/exposure.js';
import type { BrokerConfig } from '../config/types.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { StartupError } from '../domain/errors.js';
import { livenessWindow } from '../domain/liveness.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { version } from '../version.js';

export interface BrokerOptions {
  config: BrokerConfig;
  logger: Logger;
  clock?: Clock;
  /** A store to use instead of opening `config.store` (tests); the broker closes it. */
  store?: Store;
  /** Told of every route of the client API as it is added (tests). */
  onApiRoute?: ApiContext['onRoute'];
}

export interface RunningBroker {
  /** `http://host:port` of the client API. */
  readonly clientsUrl: string;
  /** `ws://host:port` of the workers' endpoint. */
  readonly workersUrl: string;
  readonly nodeId: string;
  readonly events: EventBus;
  /** The recent events with their ids, which the event streams follow. */
  readonly eventLog: EventLog;
  readonly store: Store;
  /** The monitor's subscriptions (tests: what it holds). */
  readonly monitor: Monitor;
  /** The cron schedules (tests: wait for a tick with `settled`). */
  readonly schedules: ScheduleService;
  /** The callbacks in the outbox (all nodes'), for a gauge. */
  notifierBacklog(): Promise<number>;
  /**
   * This node's metrics (the notifier's backlog among them).
   */
  readonly metrics: Metrics;
  /** Stops accepting, writes what is pending, closes connections and the store. Idempotent. */
  close(): Promise<void>;
}

const FROZEN_KEY = 'frozen';
const FROZEN_REREAD_MS = 5_000;

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const problems = checkExposure(config);
  if (problems.length > 0) throw new StartupError(problems.join('\n'));

  const store =
    options.store ??
    (await openStore(config.store, config.dataDir, {
      onError: (err) => logger.warn({ err }, 'store connection trouble (recovering)'),
    }));
  if (store.capabilities.multiNode && config.queueManager === 'multi') {
    await store.close();
    throw new StartupError(
      'queue_manager: "multi" keeps each worker\'s queue in one node\'s memory, so it cannot be ' +
        `used with the shared ${store.capabilities.name} store; use "single" (the default)`,
    );
  }
  const startedAt = clock.now();
  const nodeId = newId('n');
  const events = new EventBus();
  // Ids keep increasing across restarts of a node (see event-log.ts).
  // It records from the first event-stream reader on (see event-log.ts).
  const eventLog = new EventLog(events, undefined, Math.max(1, clock.now()) * 1_000);
  // The sessions exist further down; the gauges are read only when scraped, once they do.
  let workerCounts = (): WorkerCounts => ({ workers: {}, busySlots: 0, freeSlots: 0 });
  const metrics = new Metrics({
    nodeId,
    now: () => clock.now(),
    jobCounts: () => store.jobCountsByQueue(),
    workers: () => workerCounts(),
  });
  const committer = new Committer(store, logger, (seconds) => metrics.commitTook(seconds));
  const journal = new Journal(events);
  journal.attach(committer);
  const needs = new NeedsRegistry(store);
  const queues = new QueueRegistry({ store, committer, events, needs, clock, logger });
  const flow = new QueueFlow(clock);
  let frozen = false;
  const cleanups: Array<() => Promise<void> | void> = [];

  try {
    await needs.load();
    await queues.load();
    for (const [name, max] of Object.entries(config.limits)) {
      if (queues.limitMax(name) !== max) await queues.putLimit(name, max);
    }
    queues.start();
    cleanups.push(() => queues.stop());
    frozen = (await store.settingGet(FROZEN_KEY)) === 'true';
    committer.onRollback(() => needs.forgetUncommitted());

    const dispatcher = new Dispatcher(
      committer,
      store,
      needs,
      config.queueManager,
      nodeId,
      clock,
      journal,
      queues,
      // Sessions exist before any worker can be handed a job.
      (session, jobs) => sessions.deliver(session, jobs),
    );
    const scheduler = new Scheduler(store, committer, dispatcher, journal, clock, logger);
    const control = new Control({
      store,
      committer,
      nodeId,
      logger,
      clock,
      execute: (command) => {
        if (command.kind === 'stop')
          sessions.stopJob(command.jobId, command.attempt, command.reason);
        else if (command.kind === 'worker')
          workerControls
            .refresh(command.workerId, command.stop)
            .catch((err: unknown) =>
              logger.error({ err, worker: command.workerId }, 'applying worker settings failed'),
            );
        else workerControls.kick(command.workerId);
      },
    });
    // Delivery starts once the broker is up and stops before the writes end (rows stay).
    const notifier = new Notifier({ store, clock, logger, nodeId, config: config.notifier });
    const completion = new Completion({
      dispatcher,
      scheduler,
      journal,
      control,
      notifier,
      clock,
      settings: { maxRequestFailures: config.maxRequestFailures, retry: config.retry },
      needs,
      metrics,
      blocklist: {
        threshold: config.blocklist.threshold,
        // The worker controls exist before any attempt can end.
        blocked: (ctx, block) => workerControls.blocked(ctx, block),
      },
    });
    const liveness = { pingIntervalMs: config.pingIntervalMs, maxLiveness: config.maxLiveness };
    const persister = new Persister(logger, clock);
    const sessions = new Sessions({
      persister,
      committer,
      completion,
      dispatcher,
      needs,
      events,
      clock,
      logger,
      nodeId,
      notifier,
      settings: liveness,
      metrics,
    });
    workerCounts = () => sessions.counts();
    const workerControls = new WorkerControls({
      store,
      committer,
      control,
      sessions,
      needs,
      dispatcher,
      completion,
      events,
      clock,
      logger,
      nodeId,
    });
    workerControls.start();
    cleanups.push(() => workerControls.stop());
    const usage = new UsageRecorder({ committer, clock, logger });
    usage.start();
    cleanups.push(() => usage.stop());
    const watchdog = new Watchdog({
      clock,
      committer,
      completion,
      logger,
      sessions: () => sessions.list(),
      stop: (jobId, attempt) => sessions.stopJob(jobId, attempt, 'timeout'),
    });
    watchdog.start();
    cleanups.push(() => watchdog.stop());
    const endpoint = new WorkerEndpoint({
      registration: new Registration({
        store,
        committer,
        completion,
        dispatcher,
        needs,
        sessions,
        events,
        clock,
        logger,
        nodeId,
        notifier,
        controls: workerControls,
        settings: { ...liveness, workerTokens: config.auth.workerTokens },
      }),
      sessions,
      messages: new WorkerMessages({
        committer,
        completion,
        dispatcher,
        reports: new Reports({ committer, events, journal, logger, limits: config.jobOutput }),
        persister,
        clock,
        logger,
        usage,
      }),
      clock,
      logger,
      settings: {
        helloTimeoutMs: 10_000,
        maxFrameBytes: Math.max(2 * 1024 * 1024, config.bodyLimit * 2),
        tokensRequired: config.auth.workerTokens.length > 0,
        allowedHosts: config.clients.allowedHosts,
      },
    });
    const jobs = new JobService({
      store,
      committer,
      completion,
      needs,
      dispatcher,
      scheduler,
      events,
      journal,
      clock,
      rejectUnmatchable: config.rejectUnmatchable,
      isFrozen: () => frozen,
      workersFor: (n) => sessions.workersFor(n),
      metrics,
      queues,
      flow,
    });
    dispatcher.onStarted = (queue, n) => flow.count(queue, 'out', n);
    cleanups.push(() => dispatcher.gates.stop());
    const queueViews = new QueueViews({
      store,
      queues,
      flow,
      needs,
      dispatcher,
      clock,
      nodeId,
      workersFor: (n) => sessions.workersFor(n),
    });

    // The ticker runs on the leader; maintenance exists further down.
    let leading = (): boolean => false;
    const schedules = new ScheduleService({
      store,
      committer,
      jobs,
      events,
      clock,
      logger,
      isLeader: () => leading(),
    });

    const cluster = new ClusterLink({
      store,
      committer,
      dispatcher,
      needs,
      events,
      nodeId,
      logger,
      clock,
    });
    cluster.start();
    control.start();
    cleanups.push(() => {
      control.stop();
      cluster.stop();
    });

    await dispatcher.start();
    await scheduler.start();
    cleanups.push(() => scheduler.stop());

    let clusterView = async (): Promise<ClusterState> => ({
      nodeId,
      leader: null,
      nodes: [],
      workers: [],
    });

    const workersAddress = await endpoint
      .listen(config.workers.address, config.workers.port)
      .catch((error: unknown) => {
        throw listenError(error, 'workers', config);
      });
    cleanups.push(() => endpoint.close());

    // Frozen is a stored setting: set through any node, it reaches the others by their events
    // at once and by re-reading it every few seconds (in case an event was lost on the way).
    let frozenChanges = 0;
    events.on('broker:frozen', (e) => {
      frozen = e.frozen;
      frozenChanges++;
    });
    const setFrozen = async (value: boolean): Promise<boolean> => {
      await committer.run(async (tx, ctx) => {
        await tx.settingSet(FROZEN_KEY, String(value));
        ctx.afterCommit(() => events.emit('broker:frozen', { frozen: value }));
      });
      return value;
    };
    const frozenTimer = clock.setInterval(() => {
      const seen = frozenChanges;
      store.settingGet(FROZEN_KEY).then(
        (value) => {
          if (seen === frozenChanges) frozen = value === 'true';
        },
        () => undefined,
      );
    }, FROZEN_REREAD_MS);
    cleanups.push(() => frozenTimer.cancel());

    const monitor = new Monitor({ store, events, clock, logger });
    const access = await JobAccess.load(store, config.monitor.secret);
    const api = await buildApi({
      config,
      logger,
      version,
      startedAt,
      clock,
      store,
      jobs,
      schedules,
      sessions,
      workers: workerControls,
      events,
      monitor,
      access,
      eventLog,
      metrics,
      isFrozen: () => frozen,
      setFrozen,
      queues,
      queueViews,
      cluster: () => clusterView(),
      onRoute: options.onApiRoute,
    });
    await api
      .listen({ host: config.clients.address, port: config.clients.port })
      .catch((error: unknown) => {
        throw listenError(error, 'clients', config);
      });
    cleanups.push(() => api.close());
    // Monitor sockets are closed first, with a reason, rather than cut by the server's close.
    cleanups.push(() => monitor.close());
    // Before the API closes: requests waiting for jobs to end are answered with the job now.
    cleanups.push(async () => jobs.wakeWaiters());
    const clientsAddress = api.server.address() as AddressInfo;

    const clientsUrl = `http://${urlHost(clientsAddress.address)}:${clientsAddress.port}`;
    const workersUrl = `ws://${urlHost(workersAddress.address)}:${workersAddress.port}`;

    const maintenance = new Maintenance({
      store,
      committer,
      rescuer: new Rescuer({ store, committer, completion, logger }),
      control,
      clock,
      logger,
      nodeId,
      address: clientsUrl,
      startedAt,
      livenessWindowMs: livenessWindow(config),
      noteScheduled: (runAt) => scheduler.note(runAt),
      rescan: () => dispatcher.rescan(),
      onBeat: () => schedules.recheck(),
      retention: config.retention,
      queueStats: store.capabilities.multiNode ? () => flow.snapshot() : () => null,
    });
    leading = () => maintenance.leader;
    clusterView = async () => {
      const nodes = await maintenance.nodes();
      const [leader, workers] = await Promise.all([
        maintenance.leaderId(nodes),
        store.workerList(),
      ]);
      return { nodeId, leader, nodes, workers: workers.filter((w) => w.online) };
    };

    await maintenance.start();
    cleanups.push(() => maintenance.stop());
    schedules.start();
    cleanups.push(() => schedules.stop());
    metrics.setNotifierBacklog(() => notifier.backlog());
    notifier.start();
    cleanups.push(() => notifier.stop());

    logger.info(
      {
        clients: clientsUrl,
        workers: workersUrl,
        store: store.capabilities.name,
        node: nodeId,
        version,
      },
      'broker started',
    );

    let closing: Promise<void> | null = null;
    return {
      clientsUrl,
      workersUrl,
      nodeId,
      events,
      eventLog,
      store,
      monitor,
      schedules,
      notifierBacklog: () => notifier.backlog(),
      metrics,
      close() {
        closing ??= (async () => {
          // API first (no new work), then workers (their jobs stay theirs), then the writes.
          for (const cleanup of [...cleanups].reverse()) await cleanup();
          await committer.close();
          await store.close();
          eventLog.stop();
          logger.info(
            { batches: committer.batches, operations: committer.operations },
            'broker stopped',
          );
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const cleanup of [...cleanups].reverse()) {
      try {
        await cleanup();
      } catch {
        // Already failing; the first error is the one to report.
      }
    }
    await committer.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw error;
  }
}

/** A listen that failed for a reason the operator can fix, as a StartupError; else as it is. */
function listenError(error: unknown, which: 'clients' | 'workers', config: BrokerConfig): unknown {
  const { address, port } = config[which];
  const what = which === 'clients' ? 'the client API' : "the workers' endpoint";
  const where = `cannot listen on ${address}:${port} for ${what}`;
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return new StartupError(
        `${where}: the port is in use (another broker?); stop what uses it, or choose another ` +
          `port with --${which}-port`,
        { cause: error },
      );
    case 'EACCES':
      return new StartupError(
        `${where}: permission denied (ports below 1024 need privileges); choose another port ` +
          `with --${which}-port`,
        { cause: error },
      );
    case 'EADDRNOTAVAIL':
      return new StartupError(
        `${where}: no such address on this machine; choose another with --${which}-address`,
        { cause: error },
      );
    default:
      return error;
  }
}
