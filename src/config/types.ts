/**
 * The broker's resolved configuration: every field present. The YAML file (all fields
 * optional), `SWITCHYARD_*` environment variables and command-line flags are merged over
 * `brokerDefaults` by the loader (./load.ts), then validated with messages that name the field.
 */
import { defaultDeliveryPolicy, notifierEvents, type NotifierEvent } from '../domain/notify.js';
import type { RetryPolicy } from '../domain/retry.js';
import { defaultRetryPolicy } from '../domain/retry.js';

export type QueueManager = 'single' | 'multi';

/** pino's levels plus ReCodEx's names for them (emerg, alert, critical, err, notice). */
export type LogLevel = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface Endpoint {
  address: string;
  port: number;
}

export interface ClientsEndpoint extends Endpoint {
  /**
   * Host names (of `Host` headers) served besides the loopback ones while no tokens are set;
   * any other is refused (DNS rebinding).
   */
  allowedHosts: string[];
}

export interface LoggerConfig {
  /** Log file path without suffix (`/var/log/switchyard/broker` → broker.log, broker.1.log…), or null for stderr. */
  file: string | null;
  level: LogLevel;
  /** Bytes before the file is rotated. */
  maxSize: number;
  /** Rotated files kept. */
  rotations: number;
  /** JSON lines instead of human-readable lines (stderr only; files are always JSON). */
  json: boolean;
}

export interface AuthConfig {
  /** Bearer tokens for the client API. */
  clientTokens: string[];
  /** Tokens workers present in `hello`. */
  workerTokens: string[];
  /** Bearer tokens for the client API including administrative actions. */
  adminTokens: string[];
}

/**
 * The global notifier (ReCodEx's `notifier` section): where the broker POSTs a callback when a
 * job ends and when the backend has an error. Off while `url` is null; jobs may still ask for
 * callbacks of their own (`notify` at submission), which are signed with `secret` too.
 */
export interface NotifierConfig {
  /** The http(s) URL callbacks go to (ReCodEx's `address`, with `port` folded in), or null: off. */
  url: string | null;
  /** ReCodEx's separate `port`: replaces the URL's port when set. */
  port: number | null;
  /** HTTP basic auth for `url` (never sent to a job's own URL). */
  username: string | null;
  password: string | null;
  /** Key of the HMAC-SHA256 signature header (on every callback), or null: unsigned. */
  secret: string | null;
  /** What the global notifier is told of. */
  events: NotifierEvent[];
  /** Tries per callback, the first included; then it is logged and given up. */
  maxAttempts: number;
  /** Milliseconds one try may take. */
  timeoutMs: number;
  /** Back-off between tries (milliseconds). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Requests in flight at once, per node. */
  concurrency: number;
}

/** The URL the global notifier POSTs to (its `port` folded in), or null when it is off. */
export function notifierUrl(config: NotifierConfig): string | null {
  if (config.url === null) return null;
  if (config.port === null) return config.url;
  const url = new URL(config.url);
  url.port = String(config.port);
  return url.href;
}

export interface BrokerConfig {
  clients: ClientsEndpoint;
  workers: Endpoint;
  /** Heartbeat intervals a worker may miss before it is dead. */
  maxLiveness: number;
  /** Milliseconds between heartbeats of a worker running jobs (idle: every max_liveness/3). */
  pingIntervalMs: number;
  /** Infrastructure failures (lost workers) before a job fails. */
  maxRequestFailures: number;
  queueManager: QueueManager;
  /** Reject a job that no connected worker could ever run, instead of queueing it. */
  rejectUnmatchable: boolean;
  /** Directory of the SQLite database (and anything else the broker keeps on disk). */
  dataDir: string;
  /** `sqlite` (in dataDir) or a `postgres://` URL. */
  store: string;
  logger: LoggerConfig;
  auth: AuthConfig;
  retry: RetryPolicy;
  /** Largest request body the client API accepts, in bytes. */
  bodyLimit: number;
  /**
   * How much of a job's output is kept (stdout and stderr together, over all its attempts): its
   * first `headBytes` and its last `tailBytes`; what lies between is dropped and counted.
   */
  jobOutput: { headBytes: number; tailBytes: number };
  /**
   * How long ended jobs are kept, per state, in milliseconds (0: for ever); then the leader
   * deletes them with their attempts and output.
   */
  retention: { succeededMs: number; failedMs: number; canceledMs: number };
  /**
   * The monitor: `secret` signs the links that let a browser watch one job (null: one made at
   * first start and kept in the store, shared by every node).
   */
  monitor: { secret: string | null };
  notifier: NotifierConfig;
  /**
   * The blocklist: a worker that fails `threshold` jobs of one type in one queue gets no more of
   * them until cleared (0, the default, disables it: a lone worker blocked would strand them).
   */
  blocklist: { threshold: number };
  /**
   * Totals of named concurrency limits, set in the store at every start of a node that has
   * them (the API may change them meanwhile): name → units.
   */
  limits: Record<string, number>;
}

export const brokerDefaults: BrokerConfig = {
  clients: { address: '127.0.0.1', port: 9658, allowedHosts: [] },
  workers: { address: '127.0.0.1', port: 9657 },
  maxLiveness: 10,
  pingIntervalMs: 1000,
  maxRequestFailures: 3,
  queueManager: 'single',
  rejectUnmatchable: false,
  dataDir: './.switchyard',
  store: 'sqlite',
  logger: { file: null, level: 'info', maxSize: 1_048_576, rotations: 3, json: false },
  auth: { clientTokens: [], workerTokens: [], adminTokens: [] },
  retry: defaultRetryPolicy,
  bodyLimit: 1_048_576,
  jobOutput: { headBytes: 1_048_576, tailBytes: 1_048_576 },
  retention: { succeededMs: 7 * 86_400_000, failedMs: 30 * 86_400_000, canceledMs: 7 * 86_400_000 },
  blocklist: { threshold: 0 },
  limits: {},
  monitor: { secret: null },
  notifier: {
    url: null,
    port: null,
    username: null,
    password: null,
    secret: null,
    events: [...notifierEvents],
    maxAttempts: defaultDeliveryPolicy.maxAttempts,
    timeoutMs: 10_000,
    retryBaseMs: defaultDeliveryPolicy.backoff.baseMs,
    retryMaxMs: defaultDeliveryPolicy.backoff.maxMs,
    concurrency: 16,
  },
};
