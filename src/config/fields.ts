/**
 * Every configuration field in one table: its YAML key (the name used in messages), its
 * environment variable, its command-line flag, how its value is parsed and where it goes in the
 * resolved BrokerConfig. The loader (./load.ts) only walks this table.
 */
import { notifierEvents, type NotifierEvent } from '../domain/notify.js';
import type { BrokerConfig, QueueManager } from './types.js';
import {
  address,
  boolean,
  hostNames,
  decimal,
  integer,
  limitTotals,
  listOf,
  logLevel,
  oneOf,
  optionalHttpUrl,
  optionalSecret,
  optionalSigningKey,
  optionalText,
  size,
  store,
  text,
  tokens,
  type Parser,
} from './values.js';

/**
 * Command-line flags that override the file and the environment. Values are what the flag parser
 * gave (strings, or booleans for switches); they are validated like any other input.
 */
export interface ConfigFlags {
  dataDir?: string;
  store?: string;
  clientsAddress?: string;
  clientsPort?: string | number;
  workersAddress?: string;
  workersPort?: string | number;
  queueManager?: string;
  maxLiveness?: string | number;
  pingInterval?: string | number;
  maxRequestFailures?: string | number;
  rejectUnmatchable?: string | boolean;
  logLevel?: string;
  logFile?: string;
  logJson?: boolean;
}

/** One configuration field. */
export interface Field {
  /** Dotted YAML path, e.g. `clients.port`; messages name the field by it. */
  key: string;
  /** Other YAML spellings accepted for the same field. */
  aliases?: readonly string[];
  /** The `SWITCHYARD_*` variable that overrides the file. */
  env?: string;
  /** Secret values (tokens) are never repeated in messages. */
  secret?: boolean;
  /** The flag that overrides the environment. */
  flag?: keyof ConfigFlags;
  /** Parses an input and stores the result in the config; returns the problem, or null. */
  apply(config: BrokerConfig, input: unknown): string | null;
}

function field<T>(
  spec: Omit<Field, 'apply'> & {
    parse: Parser<T>;
    set: (config: BrokerConfig, value: NoInfer<T>) => void;
  },
): Field {
  const { parse, set, ...rest } = spec;
  return {
    ...rest,
    apply(config, input) {
      const parsed = parse(input);
      if (!parsed.ok) return parsed.problem;
      set(config, parsed.value);
      return null;
    },
  };
}

const PORT = integer(0, 65535, ' (0 picks a free port)');

export const fields: readonly Field[] = [
  field({
    key: 'clients.address',
    env: 'SWITCHYARD_CLIENTS_ADDRESS',
    flag: 'clientsAddress',
    parse: address,
    set: (c, v) => (c.clients.address = v),
  }),
  field({
    key: 'clients.port',
    env: 'SWITCHYARD_CLIENTS_PORT',
    flag: 'clientsPort',
    parse: PORT,
    set: (c, v) => (c.clients.port = v),
  }),
  field({
    key: 'clients.allowed_hosts',
    env: 'SWITCHYARD_ALLOWED_HOSTS',
    parse: hostNames,
    set: (c, v) => (c.clients.allowedHosts = v),
  }),
  field({
    key: 'workers.address',
    env: 'SWITCHYARD_WORKERS_ADDRESS',
    flag: 'workersAddress',
    parse: address,
    set: (c, v) => (c.workers.address = v),
  }),
  field({
    key: 'workers.port',
    env: 'SWITCHYARD_WORKERS_PORT',
    flag: 'workersPort',
    parse: PORT,
    set: (c, v) => (c.workers.port = v),
  }),
  field({
    key: 'max_liveness',
    env: 'SWITCHYARD_MAX_LIVENESS',
    flag: 'maxLiveness',
    parse: integer(1, 1_000_000),
    set: (c, v) => (c.maxLiveness = v),
  }),
  field({
    key: 'ping_interval',
    env: 'SWITCHYARD_PING_INTERVAL',
    flag: 'pingInterval',
    parse: integer(10, 3_600_000, ' (milliseconds)'),
    set: (c, v) => (c.pingIntervalMs = v),
  }),
  field({
    key: 'max_request_failures',
    env: 'SWITCHYARD_MAX_REQUEST_FAILURES',
    flag: 'maxRequestFailures',
    parse: integer(0, 1_000_000),
    set: (c, v) => (c.maxRequestFailures = v),
  }),
  field({
    key: 'queue_manager',
    env: 'SWITCHYARD_QUEUE_MANAGER',
    flag: 'queueManager',
    parse: oneOf<QueueManager>(['single', 'multi']),
    set: (c, v) => (c.queueManager = v),
  }),
  field({
    key: 'reject_unmatchable',
    env: 'SWITCHYARD_REJECT_UNMATCHABLE',
    flag: 'rejectUnmatchable',
    parse: boolean,
    set: (c, v) => (c.rejectUnmatchable = v),
  }),
  field({
    key: 'data_dir',
    env: 'SWITCHYARD_DATA_DIR',
    flag: 'dataDir',
    parse: text,
    set: (c, v) => (c.dataDir = v),
  }),
  field({
    key: 'store',
    env: 'SWITCHYARD_STORE',
    flag: 'store',
    parse: store,
    set: (c, v) => (c.store = v),
  }),
  field({
    key: 'logger.file',
    env: 'SWITCHYARD_LOG_FILE',
    flag: 'logFile',
    parse: optionalText,
    set: (c, v) => (c.logger.file = v),
  }),
  field({
    key: 'logger.level',
    env: 'SWITCHYARD_LOG_LEVEL',
    flag: 'logLevel',
    parse: logLevel,
    set: (c, v) => (c.logger.level = v),
  }),
  field({
    key: 'logger.max-size',
    aliases: ['logger.max_size'],
    parse: size(1024, 1024 ** 4),
    set: (c, v) => (c.logger.maxSize = v),
  }),
  field({
    key: 'logger.rotations',
    parse: integer(1, 1000),
    set: (c, v) => (c.logger.rotations = v),
  }),
  field({
    key: 'logger.json',
    flag: 'logJson',
    parse: boolean,
    set: (c, v) => (c.logger.json = v),
  }),
  field({
    key: 'auth.client_tokens',
    secret: true,
    env: 'SWITCHYARD_CLIENT_TOKENS',
    parse: tokens,
    set: (c, v) => (c.auth.clientTokens = v),
  }),
  field({
    key: 'auth.worker_tokens',
    secret: true,
    env: 'SWITCHYARD_WORKER_TOKENS',
    parse: tokens,
    set: (c, v) => (c.auth.workerTokens = v),
  }),
  field({
    key: 'auth.admin_tokens',
    secret: true,
    env: 'SWITCHYARD_ADMIN_TOKENS',
    parse: tokens,
    set: (c, v) => (c.auth.adminTokens = v),
  }),
  field({
    key: 'retry.base',
    parse: integer(1, 86_400_000, ' (milliseconds)'),
    set: (c, v) => (c.retry = { ...c.retry, baseMs: v }),
  }),
  field({
    key: 'retry.factor',
    parse: decimal(1, 100),
    set: (c, v) => (c.retry = { ...c.retry, factor: v }),
  }),
  field({
    key: 'retry.max',
    parse: integer(1, 31_536_000_000, ' (milliseconds)'),
    set: (c, v) => (c.retry = { ...c.retry, maxMs: v }),
  }),
  field({
    key: 'retry.jitter',
    parse: decimal(0, 1),
    set: (c, v) => (c.retry = { ...c.retry, jitter: v }),
  }),
  field({
    key: 'body_limit',
    parse: size(1024, 1024 ** 3),
    set: (c, v) => (c.bodyLimit = v),
  }),
  field({
    key: 'limits',
    env: 'SWITCHYARD_LIMITS',
    parse: limitTotals,
    set: (c, v) => (c.limits = v),
  }),
  field({
    key: 'blocklist.threshold',
    env: 'SWITCHYARD_BLOCKLIST_THRESHOLD',
    parse: integer(0, 1_000_000, ' (failures; 0 disables the blocklist)'),
    set: (c, v) => (c.blocklist = { threshold: v }),
  }),
  field({
    key: 'job_output.head',
    env: 'SWITCHYARD_JOB_OUTPUT_HEAD',
    parse: size(0, 1024 ** 3),
    set: (c, v) => (c.jobOutput = { ...c.jobOutput, headBytes: v }),
  }),
  field({
    key: 'job_output.tail',
    env: 'SWITCHYARD_JOB_OUTPUT_TAIL',
    parse: size(0, 1024 ** 3),
    set: (c, v) => (c.jobOutput = { ...c.jobOutput, tailBytes: v }),
  }),
  ...(['succeeded', 'failed', 'canceled'] as const).map((state) =>
    field({
      key: `retention.${state}`,
      env: `SWITCHYARD_RETENTION_${state.toUpperCase()}`,
      parse: integer(0, 3_153_600_000, ' (seconds; 0 keeps them for ever)'),
      set: (c, v) => (c.retention = { ...c.retention, [`${state}Ms`]: v * 1000 }),
    }),
  ),
  field({
    key: 'monitor_secret',
    secret: true,
    env: 'SWITCHYARD_MONITOR_SECRET',
    parse: optionalSigningKey,
    set: (c, v) => (c.monitor = { ...c.monitor, secret: v }),
  }),
  field({
    key: 'notifier.address',
    aliases: ['notifier.url'],
    env: 'SWITCHYARD_NOTIFIER_URL',
    parse: optionalHttpUrl,
    set: (c, v) => (c.notifier.url = v),
  }),
  field({
    key: 'notifier.port',
    env: 'SWITCHYARD_NOTIFIER_PORT',
    parse: integer(1, 65535, " (replaces the address's port)"),
    set: (c, v) => (c.notifier.port = v),
  }),
  field({
    key: 'notifier.username',
    env: 'SWITCHYARD_NOTIFIER_USERNAME',
    parse: optionalText,
    set: (c, v) => (c.notifier.username = v),
  }),
  field({
    key: 'notifier.password',
    secret: true,
    env: 'SWITCHYARD_NOTIFIER_PASSWORD',
    parse: optionalSecret,
    set: (c, v) => (c.notifier.password = v),
  }),
  field({
    key: 'notifier.secret',
    secret: true,
    env: 'SWITCHYARD_NOTIFIER_SECRET',
    parse: optionalSecret,
    set: (c, v) => (c.notifier.secret = v),
  }),
  field({
    key: 'notifier.events',
    env: 'SWITCHYARD_NOTIFIER_EVENTS',
    parse: listOf<NotifierEvent>(notifierEvents),
    set: (c, v: NotifierEvent[]) => (c.notifier.events = v),
  }),
  field({
    key: 'notifier.max_attempts',
    parse: integer(1, 1000),
    set: (c, v) => (c.notifier.maxAttempts = v),
  }),
  field({
    key: 'notifier.timeout',
    parse: integer(100, 600_000, ' (milliseconds)'),
    set: (c, v) => (c.notifier.timeoutMs = v),
  }),
  field({
    key: 'notifier.retry_base',
    parse: integer(1, 86_400_000, ' (milliseconds)'),
    set: (c, v) => (c.notifier.retryBaseMs = v),
  }),
  field({
    key: 'notifier.retry_max',
    parse: integer(1, 86_400_000, ' (milliseconds)'),
    set: (c, v) => (c.notifier.retryMaxMs = v),
  }),
  field({
    key: 'notifier.concurrency',
    parse: integer(1, 1000),
    set: (c, v) => (c.notifier.concurrency = v),
  }),
];

/** Sections of the file: mappings whose keys are fields. */
export const sections: ReadonlySet<string> = new Set(
  fields.filter((f) => f.key.includes('.')).map((f) => f.key.split('.')[0] as string),
);

/** ReCodEx keys Switchyard reads without using: a warning, not an error, to ease migration. */
export const ignoredKeys: Readonly<Record<string, string>> = {
  monitor:
    'the broker sends to no monitor: a standalone `switchyard monitor` connects to the broker ' +
    'instead; its settings are ignored',
};

/** `SWITCHYARD_*` variables that are not broker settings but are used elsewhere. */
export const otherEnvVars: ReadonlySet<string> = new Set([
  'SWITCHYARD_CONFIG',
  'SWITCHYARD_URL',
  'SWITCHYARD_TOKEN',
  'SWITCHYARD_WORKER_TOKEN',
  'SWITCHYARD_JOB_ID',
  'SWITCHYARD_ATTEMPT',
]);

/** The field a YAML path names, by its key or an alias. */
export function fieldByKey(key: string): Field | undefined {
  return fields.find((f) => f.key === key || (f.aliases ?? []).includes(key));
}
