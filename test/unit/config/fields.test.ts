import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fields } from '../../../src/config/fields.js';
import { ConfigError, loadBrokerConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-fields-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** YAML for one dotted key: `logger.level` → "logger:\n  level: <value>". */
function yamlFor(key: string, value: string): string {
  const [section, leaf] = key.includes('.') ? key.split('.') : [null, key];
  return section === null ? `${leaf}: ${value}\n` : `${section}:\n  ${leaf}: ${value}\n`;
}

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** One bad value per field (as YAML text) and the reason the loader must give. */
const bad: Record<string, [yaml: string, reason: string]> = {
  'clients.address': ['"not an address!"', 'must be an IP address, a host name, or "*"'],
  'clients.port': ['"abc"', 'must be an integer from 0 to 65535'],
  'clients.allowed_hosts': ['[ok.lan, "bad host!"]', 'must be a list of host names'],
  'workers.address': ['[1, 2]', 'must be an IP address, a host name, or "*"'],
  'workers.port': ['65536', 'must be an integer from 0 to 65535'],
  max_liveness: ['0', 'must be an integer from 1 to 1000000'],
  ping_interval: ['1.5', 'must be an integer from 10 to 3600000 (milliseconds)'],
  max_request_failures: ['-1', 'must be an integer from 0 to 1000000'],
  queue_manager: ['fifo', 'must be one of "single", "multi"'],
  reject_unmatchable: ['maybe', 'must be true or false'],
  data_dir: ['""', 'must be a non-empty string'],
  store: ['mysql://db', 'must be "sqlite" or a postgres:// URL'],
  'logger.file': ['[a]', 'must be a non-empty string'],
  'logger.level': ['loud', 'must be one of silent, fatal, error, warn, info, debug, trace'],
  'logger.max-size': ['10X', 'must be a size in bytes from 1024 to'],
  'logger.rotations': ['0', 'must be an integer from 1 to 1000'],
  'logger.json': ['"sometimes"', 'must be true or false'],
  'auth.client_tokens': ['["ok-token-aaaaaaaaaa", ""]', 'token 2 of 2 must be a non-empty string'],
  'auth.worker_tokens': ['42', 'must be a list of tokens'],
  'auth.admin_tokens': ['["has space"]', 'token 1 of 1 must be a non-empty string without spaces'],
  'retry.base': ['0', 'must be an integer from 1 to 86400000 (milliseconds)'],
  'retry.factor': ['0.5', 'must be a number from 1 to 100'],
  'retry.max': ['soon', 'must be an integer from 1 to 31536000000 (milliseconds)'],
  'retry.jitter': ['1.5', 'must be a number from 0 to 1'],
  body_limit: ['1', 'must be a size in bytes from 1024 to'],
  'job_output.head': ['-1', 'must be a size in bytes from 0 to'],
  'job_output.tail': ['2G', 'must be a size in bytes from 0 to'],
  'retention.succeeded': ['-1', 'must be an integer from 0 to 3153600000 (seconds; 0 keeps'],
  'retention.failed': ['1.5', 'must be an integer from 0'],
  'retention.canceled': ['forever', 'must be an integer from 0'],
  'blocklist.threshold': ['-3', 'must be an integer from 0 to 1000000 (failures; 0 disables'],
  limits: ['{ license: -1 }', 'the total of license must be a whole number from 0 to 1000000'],
  'notifier.address': ['ftp://hooks.lan/x', 'must be an http:// or https:// URL'],
  'notifier.port': ['0', 'must be an integer from 1 to 65535'],
  'notifier.username': ['[a]', 'must be a non-empty string'],
  'notifier.password': ['[a]', 'must be a string'],
  'notifier.secret': ['{ a: 1 }', 'must be a string'],
  'notifier.events': ['[failed, exploded]', 'must be a list of "succeeded", "failed"'],
  'notifier.max_attempts': ['0', 'must be an integer from 1 to 1000'],
  'notifier.timeout': ['50', 'must be an integer from 100 to 600000 (milliseconds)'],
  'notifier.retry_base': ['0', 'must be an integer from 1 to 86400000 (milliseconds)'],
  'notifier.retry_max': ['soon', 'must be an integer from 1 to 86400000 (milliseconds)'],
  'notifier.concurrency': ['0', 'must be an integer from 1 to 1000'],
  monitor_secret: ['short', 'must be a string of at least 16 characters'],
};

/** Fields that accept any (long enough) string, so the value below is good for them. */
const freeText = new Set([
  'monitor_secret',
  'data_dir',
  'logger.file',
  'notifier.username',
  'notifier.password',
  'notifier.secret',
]);
const withEnv = fields.filter((f) => f.env !== undefined && !freeText.has(f.key));
const withFlag = fields.filter((f) => f.flag !== undefined && !freeText.has(f.key));

describe('every field', () => {
  it('has a bad-value case in this test', () => {
    expect(Object.keys(bad).sort()).toEqual(fields.map((f) => f.key).sort());
  });

  it.each(Object.entries(bad))(
    '%s rejects a bad value in the file, naming the field',
    (key, [yaml, reason]) => {
      const file = join(dir, `${key}.yml`);
      writeFileSync(file, yamlFor(key, yaml));
      const problem = problemOf(() => loadBrokerConfig({ file, env: {} }));
      expect(problem.startsWith(`${key}: ${reason}`)).toBe(true);
      expect(problem.endsWith(`(in ${file})`)).toBe(true);
      expect(problem.split('\n')).toHaveLength(1);
    },
  );

  it.each(withEnv.map((f) => [f.key, f.env as string]))(
    '%s rejects a bad value in %s',
    (key, env) => {
      const value = key.includes('tokens') ? 'a,,b' : 'not valid for this! field';
      const problem = problemOf(() => loadBrokerConfig({ env: { [env]: value } }));
      expect(problem).toMatch(new RegExp(`^${key.replace('.', '\\.')}: .* \\(from ${env}\\)$`));
    },
  );

  it.each(withFlag.map((f) => [f.key, f.flag as string]))(
    '%s rejects a bad value in the flag %s',
    (key, flag) => {
      const problem = problemOf(() =>
        loadBrokerConfig({ env: {}, flags: { [flag]: '(bad value)' } }),
      );
      expect(problem).toMatch(new RegExp(`^${key.replace('.', '\\.')}: .* \\(from --[a-z-]+\\)$`));
    },
  );
});

describe('values', () => {
  it('never repeat a token in a message', () => {
    const problem = problemOf(() =>
      loadBrokerConfig({ env: { SWITCHYARD_CLIENT_TOKENS: 'supersecretvalue1, has space' } }),
    );
    expect(problem).toBe(
      'auth.client_tokens: token 2 of 2 must be a non-empty string without spaces (from SWITCHYARD_CLIENT_TOKENS)',
    );
  });

  it('hide the password of a store URL in a message', () => {
    const problem = problemOf(() =>
      loadBrokerConfig({ env: { SWITCHYARD_STORE: 'postgres://me:hunter2@db:bad port/x' } }),
    );
    expect(problem).not.toContain('hunter2');
    expect(problem).toContain('postgres://me:***@db');
  });

  it.each([
    ['1024', 1024],
    ['4K', 4096],
    ['2m', 2 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['2048B', 2048],
  ])('sizes accept %s', (given, bytes) => {
    const file = join(dir, `size-${given}.yml`);
    writeFileSync(file, `body_limit: ${given}\n`);
    expect(loadBrokerConfig({ file, env: {} }).config.bodyLimit).toBe(bytes);
  });

  it.each([
    ['true', true],
    ['on', true],
    ['1', true],
    ['FALSE', false],
    ['no', false],
    ['0', false],
  ])('booleans accept %s from the environment', (given, value) => {
    const env = { SWITCHYARD_REJECT_UNMATCHABLE: given };
    expect(loadBrokerConfig({ env }).config.rejectUnmatchable).toBe(value);
  });

  it('addresses accept IPv4, IPv6 (bracketed or not), host names and *', () => {
    const load = (a: string) => loadBrokerConfig({ env: {}, flags: { clientsAddress: a } });
    expect(load('127.0.0.9').config.clients.address).toBe('127.0.0.9');
    expect(load('[::1]').config.clients.address).toBe('::1');
    expect(load('localhost').config.clients.address).toBe('localhost');
    expect(() => load('host_name')).toThrow(ConfigError);
    expect(() => load('*')).toThrow(/not a loopback address/);
  });

  it('an empty token list in the environment means no tokens', () => {
    const { config } = loadBrokerConfig({ env: { SWITCHYARD_CLIENT_TOKENS: ' ' } });
    expect(config.auth.clientTokens).toEqual([]);
  });
});
