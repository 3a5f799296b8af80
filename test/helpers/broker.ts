/** An in-process broker on a fresh data directory and free loopback ports, for tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startBroker, type RunningBroker } from '../../src/main/index.js';
import { brokerDefaults, type BrokerConfig } from '../../src/config/types.js';

export interface TestBroker {
  broker: RunningBroker;
  config: BrokerConfig;
  dataDir: string;
  /** Closes the broker and deletes its data. */
  close(): Promise<void>;
  /** Closes the broker but keeps its data (to start another on it). */
  stop(): Promise<void>;
}

export type ConfigOverrides = Partial<Omit<BrokerConfig, 'auth' | 'clients' | 'workers'>> & {
  auth?: Partial<BrokerConfig['auth']>;
  clients?: Partial<BrokerConfig['clients']>;
  workers?: Partial<BrokerConfig['workers']>;
};

export function testConfig(dataDir: string, over: ConfigOverrides = {}): BrokerConfig {
  return {
    ...brokerDefaults,
    pingIntervalMs: 100,
    maxLiveness: 5,
    ...over,
    dataDir,
    clients: { ...brokerDefaults.clients, address: '127.0.0.1', port: 0, ...over.clients },
    workers: { address: '127.0.0.1', port: 0, ...over.workers },
    auth: { ...brokerDefaults.auth, ...over.auth },
    retry: over.retry ?? { baseMs: 50, factor: 2, maxMs: 1_000, jitter: 0 },
    logger: { ...brokerDefaults.logger, level: 'silent' },
  };
}

export const testLogger = () => pino({ level: process.env.TEST_LOG ?? 'silent' });

export async function startTestBroker(
  over: ConfigOverrides = {},
  dataDir?: string,
): Promise<TestBroker> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'switchyard-test-')));
  const config = testConfig(dir, over);
  const broker = await startBroker({ config, logger: testLogger() });
  return {
    broker,
    config,
    dataDir: dir,
    stop: () => broker.close(),
    async close() {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
