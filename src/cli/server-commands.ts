/**
 * The long-running commands: `up` (broker + one local shell worker), `broker` and `worker`.
 * Each runs until SIGINT or SIGTERM and then stops cleanly: a worker drains (no new jobs,
 * running ones finish, bounded by the drain timeout; a second signal stops at once), the broker
 * closes. The broker and worker modules are imported when a command runs, so that client
 * commands start fast and do not load the server's dependencies.
 */
import { availableParallelism, hostname } from 'node:os';
import type { Logger } from 'pino';
import { DEFAULT_URL } from '../client/client.js';
import { loadBrokerConfig, type ConfigFlags } from '../config/load.js';
import { brokerDefaults, type BrokerConfig } from '../config/types.js';
import { parseLabels } from '../domain/matching.js';
import { closeLogger, createLogger, levelFromFlags } from '../log/logger.js';
import { nonEmpty, type CliContext } from './context.js';
import { UsageError } from './errors.js';

/** The logging flags of server commands. */
export interface LogFlags {
  debug?: boolean;
  verbose?: boolean;
  json?: boolean;
}

/** The options of `switchyard broker` (and the subset `up` has). */
export interface BrokerFlags extends LogFlags {
  config?: string;
  dataDir?: string;
  store?: string;
  clientsAddress?: string;
  clientsPort?: string;
  workersAddress?: string;
  workersPort?: string;
  queueManager?: string;
  rejectUnmatchable?: boolean;
  maxLiveness?: string;
  pingInterval?: string;
  maxRequestFailures?: string;
  logFile?: string;
}

/** The options of `switchyard worker`. */
export interface WorkerFlags extends LogFlags {
  broker?: string[];
  name?: string;
  label?: string[];
  queue?: string[];
  slots?: string;
  token?: string;
  drainTimeout?: string;
  type?: string[];
}

/** The job types the worker agent runs itself. */
export const AGENT_TYPES = ['shell', 'http'] as const;

/** The agent's types from `--type` (repeatable, comma-separated; default all of them). */
export function agentTypes(
  given: readonly string[] | undefined,
): Array<(typeof AGENT_TYPES)[number]> {
  if (given === undefined) return [...AGENT_TYPES];
  const types = given.flatMap((t) => t.split(',')).map((t) => t.trim());
  const out: Array<(typeof AGENT_TYPES)[number]> = [];
  for (const t of types) {
    if (!(AGENT_TYPES as readonly string[]).includes(t))
      throw new UsageError(
        `--type: "${t.slice(0, 40)}" is not a type the agent runs (${AGENT_TYPES.join(', ')})`,
      );
    if (!out.includes(t as (typeof AGENT_TYPES)[number]))
      out.push(t as (typeof AGENT_TYPES)[number]);
  }
  return out;
}

/** The options of `switchyard monitor`. */
export interface MonitorFlags extends LogFlags {
  broker?: string;
  token?: string;
  address?: string;
  port?: string;
  open?: boolean;
}

/** The port `switchyard monitor` listens on by default. */
export const DEFAULT_MONITOR_PORT = 9659;

/** The worker endpoint `switchyard worker` connects to by default (that of `up`). */
export const DEFAULT_BROKER = 'ws://127.0.0.1:9657';

/** Seconds `switchyard worker` gives running jobs to finish when stopped, by default. */
export const DEFAULT_DRAIN_SECONDS = 30;

/** Seconds `up` gives running jobs to finish when it is stopped. */
export const UP_DRAIN_SECONDS = 30;

/** The config loader's flags for what was given on the command line (and nothing else). */
export function configFlags(flags: BrokerFlags): ConfigFlags {
  const out: ConfigFlags = {};
  const copy = [
    'dataDir',
    'store',
    'clientsAddress',
    'clientsPort',
    'workersAddress',
    'workersPort',
    'queueManager',
    'maxLiveness',
    'pingInterval',
    'maxRequestFailures',
    'logFile',
  ] as const;
  for (const key of copy) if (flags[key] !== undefined) out[key] = flags[key];
  if (flags.rejectUnmatchable === true) out.rejectUnmatchable = true;
  if (flags.debug === true || flags.verbose === true)
    out.logLevel = levelFromFlags(flags, 'server');
  if (flags.json === true) out.logJson = true;
  return out;
}

/** The stop signals of a server command: the first asks to stop, the second insists. */
function stopSignals(ctx: CliContext): {
  first: Promise<NodeJS.Signals>;
  second: Promise<NodeJS.Signals>;
  dispose(): void;
} {
  let count = 0;
  let resolveFirst!: (s: NodeJS.Signals) => void;
  let resolveSecond!: (s: NodeJS.Signals) => void;
  const first = new Promise<NodeJS.Signals>((r) => (resolveFirst = r));
  const second = new Promise<NodeJS.Signals>((r) => (resolveSecond = r));
  const dispose = ctx.onStopSignal((signal) => {
    count += 1;
    if (count === 1) resolveFirst(signal);
    else resolveSecond(signal);
  });
  return { first, second, dispose };
}

function loggerFor(ctx: CliContext, config: BrokerConfig['logger'], name: string): Logger {
  const stderr = ctx.stderr === process.stderr ? undefined : ctx.stderr;
  return createLogger({ ...config, name, ...(stderr === undefined ? {} : { stderr }) });
}

/** Runs `switchyard broker` until a stop signal. */
export async function brokerCommand(ctx: CliContext, flags: BrokerFlags): Promise<void> {
  const { config, warnings } = loadBrokerConfig({
    ...(flags.config === undefined ? {} : { file: flags.config }),
    env: ctx.env,
    flags: configFlags(flags),
  });
  const logger = loggerFor(ctx, config.logger, 'broker');
  for (const warning of warnings) logger.warn(warning);
  const stop = stopSignals(ctx);
  try {
    const { startBroker } = await import('../main/index.js');
    const broker = await startBroker({ config, logger });
    const signal = await stop.first;
    // A second signal now gets the default behaviour: the process ends at once.
    stop.dispose();
    logger.info({ signal }, 'stopping the broker');
    await broker.close();
  } finally {
    stop.dispose();
    await closeLogger(logger);
  }
}

function positiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`${flag}: must be a positive integer, got "${value}"`);
  }
  return Number(value);
}

/** Runs `switchyard monitor` (the standalone monitor) until a stop signal. */
export async function monitorCommand(ctx: CliContext, flags: MonitorFlags): Promise<void> {
  const broker = flags.broker ?? nonEmpty(ctx.env.SWITCHYARD_URL) ?? DEFAULT_URL;
  if (!/^https?:\/\/[^/\s]+/.test(broker)) {
    throw new UsageError(`--broker: must be the broker's http:// or https:// URL, got "${broker}"`);
  }
  const port = flags.port ?? String(DEFAULT_MONITOR_PORT);
  if (!/^\d+$/.test(port) || Number(port) > 65_535) {
    throw new UsageError(`--port: must be a port number (0-65535), got "${port}"`);
  }
  const token = flags.token ?? nonEmpty(ctx.env.SWITCHYARD_TOKEN);
  const level = levelFromFlags(flags, 'server');
  const logger = loggerFor(
    ctx,
    { ...brokerDefaults.logger, level, json: flags.json === true },
    'monitor',
  );
  const stop = stopSignals(ctx);
  try {
    const { startMonitor } = await import('../main/monitor.js');
    const monitor = await startMonitor({
      broker,
      ...(token === undefined ? {} : { token }),
      address: flags.address ?? '127.0.0.1',
      port: Number(port),
      open: flags.open === true,
      logger,
    });
    const signal = await stop.first;
    stop.dispose();
    logger.info({ signal }, 'stopping the monitor');
    await monitor.close();
  } finally {
    stop.dispose();
    await closeLogger(logger);
  }
}

/** `--broker` values, repeated or comma-separated, as worker endpoint URLs. */
export function parseBrokers(values: readonly string[]): string[] {
  const urls = values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  for (const url of urls) {
    if (!/^wss?:\/\/[^/\s]+/.test(url)) {
      throw new UsageError(`--broker: must be a ws:// or wss:// URL, got "${url}"`);
    }
  }
  if (urls.length === 0) throw new UsageError('--broker: give at least one ws://HOST:PORT');
  return urls;
}

/** Runs `switchyard worker` until a stop signal, then drains. */
export async function workerCommand(ctx: CliContext, flags: WorkerFlags): Promise<void> {
  const brokers = parseBrokers(flags.broker ?? [DEFAULT_BROKER]);
  let labels;
  try {
    labels = parseLabels(flags.label ?? []);
  } catch (err) {
    throw new UsageError(`--label: ${(err as Error).message}`);
  }
  const slots = positiveInt('--slots', flags.slots ?? '1');
  const types = agentTypes(flags.type);
  const drain = flags.drainTimeout ?? String(DEFAULT_DRAIN_SECONDS);
  if (!/^\d+(\.\d+)?$/.test(drain)) {
    throw new UsageError(`--drain-timeout: must be a number of seconds, got "${drain}"`);
  }
  const drainTimeoutMs = Number(drain) * 1000;
  const token = flags.token ?? (ctx.env.SWITCHYARD_WORKER_TOKEN || undefined);
  const level = levelFromFlags(flags, 'server');
  const logger = loggerFor(
    ctx,
    { ...brokerDefaults.logger, level, json: flags.json === true },
    'worker',
  );
  const stop = stopSignals(ctx);
  try {
    const { Worker, createShellHandler, createHttpHandler } = await import('../worker/index.js');
    const handlers = {
      ...(types.includes('shell') ? { shell: createShellHandler() } : {}),
      ...(types.includes('http') ? { http: createHttpHandler() } : {}),
    };
    const worker = new Worker({
      brokers,
      // Unique per process by default (host-pid): two agents on one host are two workers.
      ...(flags.name === undefined ? {} : { name: flags.name }),
      labels,
      queues: flags.queue ?? ['default'],
      slots,
      ...(token === undefined ? {} : { token }),
      handlers,
      logger,
      drainTimeoutMs,
    });
    try {
      // start() resolves on the broker's first welcome and keeps retrying until then, so a stop
      // signal must also end the wait for it.
      const started = worker.start();
      started.catch(() => undefined);
      // An operator may drain the worker through the broker: it then closes by itself.
      const closed = new Promise<null>((resolve) => worker.once('closed', () => resolve(null)));
      await Promise.race([started, stop.first, closed]);
      const signal = await Promise.race([stop.first, closed]);
      if (signal === null) {
        logger.info('drained by the broker: no jobs left, stopping');
      } else {
        logger.info(
          { signal, timeoutSeconds: drainTimeoutMs / 1000 },
          'draining: running jobs finish, no new ones start',
        );
        await Promise.race([worker.drain(drainTimeoutMs), stop.second]);
      }
    } finally {
      await worker.close();
    }
    logger.info('worker stopped');
  } finally {
    stop.dispose();
    await closeLogger(logger);
  }
}

/** The options of `switchyard up`. */
export type UpFlags = Pick<BrokerFlags, 'config' | 'dataDir' | 'clientsPort' | 'workersPort'> &
  LogFlags;

/** Runs `switchyard up`: a loopback broker and one local shell worker in this process. */
export async function upCommand(ctx: CliContext, flags: UpFlags): Promise<void> {
  const { config, warnings } = loadBrokerConfig({
    ...(flags.config === undefined ? {} : { file: flags.config }),
    env: ctx.env,
    flags: { ...configFlags(flags), clientsAddress: '127.0.0.1', workersAddress: '127.0.0.1' },
  });
  const logger = loggerFor(ctx, config.logger, 'up');
  for (const warning of warnings) logger.warn(warning);
  const stop = stopSignals(ctx);
  try {
    const [{ startBroker }, { Worker, createShellHandler }] = await Promise.all([
      import('../main/index.js'),
      import('../worker/index.js'),
    ]);
    const broker = await startBroker({ config, logger });
    try {
      const token = config.auth.workerTokens[0];
      const slots = availableParallelism();
      const worker = new Worker({
        brokers: [broker.workersUrl],
        name: `${hostname()}-local`,
        slots,
        ...(token === undefined ? {} : { token }),
        handlers: { shell: createShellHandler() },
        logger: logger.child({ component: 'worker' }),
        drainTimeoutMs: UP_DRAIN_SECONDS * 1000,
      });
      try {
        const started = worker.start();
        started.catch(() => undefined);
        const stoppedEarly = await Promise.race([
          started.then(() => false),
          stop.first.then(() => true),
        ]);
        if (!stoppedEarly) {
          ctx.stdout.write(upBanner(broker.clientsUrl, broker.workersUrl, config, slots));
          await stop.first;
        }
        logger.info(
          `stopping: running jobs get ${UP_DRAIN_SECONDS} s to finish (Ctrl-C again to stop now)`,
        );
        await Promise.race([worker.drain(UP_DRAIN_SECONDS * 1000), stop.second]);
      } finally {
        await worker.close();
      }
    } finally {
      await broker.close();
    }
  } finally {
    stop.dispose();
    await closeLogger(logger);
  }
}

/** What `up` prints once it is ready: where things are and a command to try. */
export function upBanner(
  clientsUrl: string,
  workersUrl: string,
  config: BrokerConfig,
  slots: number,
): string {
  const url = clientsUrl.replace(/\/+$/, '');
  const flags = [
    url === DEFAULT_URL ? '' : ` --url ${url}`,
    config.auth.clientTokens.length + config.auth.adminTokens.length > 0
      ? ' --token $SWITCHYARD_TOKEN'
      : '',
  ].join('');
  return [
    'Switchyard is up.',
    `  client API  ${url}/api/v1`,
    `  workers     ${workersUrl}  (one local shell worker, ${slots} slot${slots === 1 ? '' : 's'})`,
    `  data        ${config.dataDir} (${config.store})`,
    '',
    `Try:  switchyard submit${flags} --wait -- echo hello`,
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}
