import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadBrokerConfig, type LoadOptions } from '../../../src/config/load.js';
import { brokerDefaults, notifierUrl } from '../../../src/config/types.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function yamlFile(text: string): string {
  const file = join(dir, `config-${++fileCount}.yml`);
  writeFileSync(file, text);
  return file;
}

/** The problems a load reports, or [] if it succeeds. */
function problemsOf(options: LoadOptions): readonly string[] {
  try {
    loadBrokerConfig({ env: {}, ...options });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const RECODEX = `
# Address and port for clients (frontend)
clients:
    address: "127.0.0.1"
    port: 9658
workers:
    address: "127.0.0.1"
    port: 9657
max_liveness: 10
max_request_failures: 3
logger:
    file: "/var/log/recodex/broker"
    level: "debug"
    max-size: 1048576
    rotations: 3
queue_manager: "single"
`;

describe('loadBrokerConfig', () => {
  it('with nothing at all gives the defaults and no warnings', () => {
    expect(loadBrokerConfig({ env: {} })).toEqual({ config: brokerDefaults, warnings: [] });
  });

  it('does not share objects with the defaults', () => {
    const { config } = loadBrokerConfig({ env: {} });
    config.clients.port = 1;
    config.auth.clientTokens.push('x');
    expect(brokerDefaults.clients.port).toBe(9658);
    expect(brokerDefaults.auth.clientTokens).toEqual([]);
  });

  it('reads every field of a full file', () => {
    const file = yamlFile(`
clients: { address: "localhost", port: 8000, allowed_hosts: [Broker.LAN, 10.0.0.5] }
workers: { address: "::1", port: 8001 }
max_liveness: 4
ping_interval: 250
max_request_failures: 0
queue_manager: multi
reject_unmatchable: true
data_dir: /var/lib/switchyard
store: postgres://u:p@db/switchyard
body_limit: 2M
job_output: { head: 64K, tail: 0 }
logger: { file: /tmp/sy, level: notice, max-size: 10K, rotations: 5, json: true }
auth:
  client_tokens: [aaaaaaaaaaaaaaaaaaaa]
  worker_tokens: bbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccc
  admin_tokens: [dddddddddddddddddddd]
retry: { base: 500, factor: 1.5, max: 60000, jitter: 0 }
retention: { succeeded: 3600, failed: 0, canceled: 60 }
blocklist: { threshold: 5 }
limits: { license: 3, db/main: 1 }
monitor_secret: 0123456789abcdef
notifier:
  url: http://hooks.lan/sy
  port: 8080
  username: u
  password: 12345
  secret: k
  events: [failed]
  max_attempts: 3
  timeout: 500
  retry_base: 100
  retry_max: 900
  concurrency: 2
`);
    expect(loadBrokerConfig({ file, env: {} })).toEqual({
      warnings: [],
      config: {
        clients: { address: 'localhost', port: 8000, allowedHosts: ['broker.lan', '10.0.0.5'] },
        workers: { address: '::1', port: 8001 },
        maxLiveness: 4,
        pingIntervalMs: 250,
        maxRequestFailures: 0,
        queueManager: 'multi',
        rejectUnmatchable: true,
        dataDir: '/var/lib/switchyard',
        store: 'postgres://u:p@db/switchyard',
        bodyLimit: 2 * 1024 * 1024,
        jobOutput: { headBytes: 64 * 1024, tailBytes: 0 },
        logger: { file: '/tmp/sy', level: 'info', maxSize: 10 * 1024, rotations: 5, json: true },
        auth: {
          clientTokens: ['aaaaaaaaaaaaaaaaaaaa'],
          workerTokens: ['bbbbbbbbbbbbbbbbbbbb', 'cccccccccccccccccccc'],
          adminTokens: ['dddddddddddddddddddd'],
        },
        retry: { baseMs: 500, factor: 1.5, maxMs: 60000, jitter: 0 },
        retention: { succeededMs: 3_600_000, failedMs: 0, canceledMs: 60_000 },
        blocklist: { threshold: 5 },
        limits: { license: 3, 'db/main': 1 },
        notifier: {
          url: 'http://hooks.lan/sy',
          port: 8080,
          username: 'u',
          password: '12345',
          secret: 'k',
          events: ['failed'],
          maxAttempts: 3,
          timeoutMs: 500,
          retryBaseMs: 100,
          retryMaxMs: 900,
          concurrency: 2,
        },
        monitor: { secret: '0123456789abcdef' },
      },
    });
  });

  it('reads a ReCodEx broker config with its notifier, warning about the monitor it ignores', () => {
    const file = yamlFile(
      `${RECODEX}\nmonitor: { address: 127.0.0.1, port: 7894 }\n` +
        'notifier: { address: "https://recodex.example/v1/broker-reports", port: 4443, ' +
        'username: re, password: codex }\n',
    );
    const { config, warnings } = loadBrokerConfig({ file, env: {} });
    expect(config.logger).toEqual({
      file: '/var/log/recodex/broker',
      level: 'debug',
      maxSize: 1048576,
      rotations: 3,
      json: false,
    });
    expect(config.notifier).toMatchObject({
      url: 'https://recodex.example/v1/broker-reports',
      port: 4443,
      username: 're',
      password: 'codex',
      secret: null,
      events: ['succeeded', 'failed', 'canceled', 'backend_error'],
    });
    expect(notifierUrl(config.notifier)).toBe('https://recodex.example:4443/v1/broker-reports');
    expect(warnings).toEqual([
      expect.stringMatching(/^"monitor" is ignored: .* \(in .*config-\d+\.yml\)$/),
    ]);
  });

  it('takes the notifier from the environment and refuses a bad one, naming the field', () => {
    const { config } = loadBrokerConfig({
      env: {
        SWITCHYARD_NOTIFIER_URL: 'http://127.0.0.1:9000/hook',
        SWITCHYARD_NOTIFIER_SECRET: 's3cret',
        SWITCHYARD_NOTIFIER_EVENTS: 'failed,backend_error',
      },
    });
    expect(config.notifier).toMatchObject({
      url: 'http://127.0.0.1:9000/hook',
      secret: 's3cret',
      events: ['failed', 'backend_error'],
    });
    const bad = (env: Record<string, string>): string => {
      try {
        loadBrokerConfig({ env });
      } catch (error) {
        return (error as ConfigError).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(bad({ SWITCHYARD_NOTIFIER_URL: 'ftp://x/' })).toMatch(
      /^notifier\.address: must be an http/,
    );
    expect(bad({ SWITCHYARD_NOTIFIER_URL: 'http://u:p@x/' })).toMatch(/without credentials/);
    expect(bad({ SWITCHYARD_NOTIFIER_EVENTS: 'failed,exploded' })).toMatch(
      /^notifier\.events: .*"exploded" is not one/,
    );
    expect(bad({ SWITCHYARD_NOTIFIER_USERNAME: 'u', SWITCHYARD_NOTIFIER_PASSWORD: 'p' })).toMatch(
      /notifier\.address: must be set/,
    );
    const secret = bad({ SWITCHYARD_NOTIFIER_URL: 'http://x/', SWITCHYARD_NOTIFIER_USERNAME: 'u' });
    expect(secret).toMatch(/notifier\.password: username and password go together/);
  });

  it.each([
    ['emerg', 'fatal'],
    ['alert', 'fatal'],
    ['critical', 'fatal'],
    ['err', 'error'],
    ['warn', 'warn'],
    ['notice', 'info'],
    ['info', 'info'],
    ['debug', 'debug'],
    ['off', 'silent'],
    ['TRACE', 'trace'],
  ])('accepts the log level %s as %s', (given, level) => {
    const file = yamlFile(`logger:\n  level: ${given}\n`);
    expect(loadBrokerConfig({ file, env: {} }).config.logger.level).toBe(level);
  });

  it('takes limit totals from the environment as name=N pairs, and names a bad one', () => {
    const { config } = loadBrokerConfig({ env: { SWITCHYARD_LIMITS: 'license=3, db=0' } });
    expect(config.limits).toEqual({ license: 3, db: 0 });
    expect(() => loadBrokerConfig({ env: { SWITCHYARD_LIMITS: 'license' } })).toThrow(
      /limits: must be name=N pairs separated by commas; "license" is not one/,
    );
    expect(() => loadBrokerConfig({ env: { SWITCHYARD_LIMITS: 'bad name=2' } })).toThrow(
      /"bad name" is not a limit name/,
    );
  });

  it('maps the address "*" to all interfaces', () => {
    const file = yamlFile(
      'clients: { address: "*" }\nworkers: { address: "*" }\n' +
        'auth: { client_tokens: [aaaaaaaaaaaaaaaaaaaa], worker_tokens: [bbbbbbbbbbbbbbbbbbbb] }\n',
    );
    const { config } = loadBrokerConfig({ file, env: {} });
    expect(config.clients.address).toBe('0.0.0.0');
    expect(config.workers.address).toBe('0.0.0.0');
  });

  it('reads the file named by SWITCHYARD_CONFIG, unless a file is given', () => {
    const a = yamlFile('max_liveness: 7\n');
    const b = yamlFile('max_liveness: 8\n');
    expect(loadBrokerConfig({ env: { SWITCHYARD_CONFIG: a } }).config.maxLiveness).toBe(7);
    expect(loadBrokerConfig({ file: b, env: { SWITCHYARD_CONFIG: a } }).config.maxLiveness).toBe(8);
  });

  it('treats an empty file and empty sections as "all defaults"', () => {
    expect(loadBrokerConfig({ file: yamlFile(''), env: {} }).config).toEqual(brokerDefaults);
    const file = yamlFile('clients:\nlogger:\n  file: ~\n');
    expect(loadBrokerConfig({ file, env: {} }).config).toEqual(brokerDefaults);
  });

  it('reports a missing file', () => {
    expect(problemsOf({ file: join(dir, 'nope.yml') })).toEqual([
      `cannot read config file ${join(dir, 'nope.yml')}: no such file`,
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const file = yamlFile('clients:\n  port: [1\nmax_liveness: 3\n');
    const problems = problemsOf({ file });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(new RegExp(`^${file}: .*line \\d+, column \\d+$`));
  });

  it('reports duplicate keys', () => {
    const file = yamlFile('max_liveness: 3\nmax_liveness: 4\n');
    expect(problemsOf({ file })[0]).toMatch(/Map keys must be unique/);
  });

  it('rejects a file that is not a mapping, and sections that are not mappings', () => {
    expect(problemsOf({ file: yamlFile('- a\n- b\n') })[0]).toMatch(
      /: must be a mapping of settings, got \["a","b"\]$/,
    );
    const file = yamlFile('clients: 9658\nlogger: [a]\n');
    expect(problemsOf({ file })).toEqual([
      `clients: must be a mapping of settings, got 9658 (in ${file})`,
      `logger: must be a mapping of settings, got ["a"] (in ${file})`,
    ]);
  });

  it('accepts logger.max_size as another spelling of logger.max-size, but not both', () => {
    const file = yamlFile('logger:\n  max_size: 2K\n');
    expect(loadBrokerConfig({ file, env: {} }).config.logger.maxSize).toBe(2048);
    const both = yamlFile('logger:\n  max_size: 2K\n  max-size: 3K\n');
    expect(problemsOf({ file: both })).toEqual([
      `logger.max-size: given twice, as "logger.max_size" and "logger.max-size" (in ${both})`,
    ]);
  });
});

describe('unknown keys', () => {
  it('are reported at the top level, with a suggestion', () => {
    const file = yamlFile('max_livenes: 3\n');
    expect(problemsOf({ file })).toEqual([
      `unknown key "max_livenes" (in ${file}); did you mean "max_liveness"?`,
    ]);
  });

  it('suggest the snake_case key for a camelCase one', () => {
    const file = yamlFile('maxRequestFailures: 3\nqueueManager: multi\n');
    expect(problemsOf({ file })).toEqual([
      `unknown key "maxRequestFailures" (in ${file}); did you mean "max_request_failures"?`,
      `unknown key "queueManager" (in ${file}); did you mean "queue_manager"?`,
    ]);
  });

  it.each(['clients', 'workers', 'logger', 'auth', 'retry'])(
    'are reported inside the %s section',
    (section) => {
      const file = yamlFile(`${section}:\n  bogus: 1\n`);
      expect(problemsOf({ file })).toEqual([`unknown key "${section}.bogus" (in ${file})`]);
    },
  );

  it('are reported without a suggestion when nothing is close', () => {
    const file = yamlFile('something_else: 3\n');
    expect(problemsOf({ file })).toEqual([`unknown key "something_else" (in ${file})`]);
  });

  it('include dotted keys at the top level, which are not a way to write sections', () => {
    const file = yamlFile('clients.port: 3\n');
    expect(problemsOf({ file })).toEqual([`unknown key "clients.port" (in ${file})`]);
  });

  it('are all listed together with bad values', () => {
    const file = yamlFile('clients:\n  prot: 1\n  port: abc\nfoo: 1\n');
    const problems = problemsOf({ file });
    expect(problems).toEqual([
      `unknown key "clients.prot" (in ${file}); did you mean "clients.port"?`,
      `unknown key "foo" (in ${file})`,
      `clients.port: must be an integer from 0 to 65535 (0 picks a free port), got "abc" (in ${file})`,
    ]);
    expect(() => loadBrokerConfig({ file, env: {} })).toThrow(problems.join('\n'));
  });

  it('in the environment are warnings, with a suggestion', () => {
    const { warnings } = loadBrokerConfig({
      env: {
        SWITCHYARD_CLIENT_PORT: '1',
        SWITCHYARD_URL: 'x',
        SWITCHYARD_TOKEN: 'y',
        PATH: '/bin',
      },
    });
    expect(warnings).toEqual([
      'environment variable SWITCHYARD_CLIENT_PORT is not a Switchyard setting and is ignored; ' +
        'did you mean SWITCHYARD_CLIENTS_PORT?',
    ]);
  });
});

describe('precedence', () => {
  it('is file < environment < flags, field by field', () => {
    const file = yamlFile('clients: { port: 1001 }\nworkers: { port: 2001 }\nmax_liveness: 3\n');
    const env = { SWITCHYARD_CLIENTS_PORT: '1002', SWITCHYARD_WORKERS_PORT: '2002' };
    const { config } = loadBrokerConfig({ file, env, flags: { clientsPort: '1003' } });
    expect(config.clients.port).toBe(1003);
    expect(config.workers.port).toBe(2002);
    expect(config.maxLiveness).toBe(3);
  });

  it('lets a good flag override a bad environment value', () => {
    const env = { SWITCHYARD_MAX_LIVENESS: 'many' };
    expect(loadBrokerConfig({ env, flags: { maxLiveness: 5 } }).config.maxLiveness).toBe(5);
  });

  it('names where a bad value came from', () => {
    const file = yamlFile('queue_manager: fifo\n');
    expect(problemsOf({ file })).toEqual([
      `queue_manager: must be one of "single", "multi", got "fifo" (in ${file})`,
    ]);
    expect(problemsOf({ env: { SWITCHYARD_QUEUE_MANAGER: 'fifo' } })).toEqual([
      'queue_manager: must be one of "single", "multi", got "fifo" (from SWITCHYARD_QUEUE_MANAGER)',
    ]);
    expect(problemsOf({ flags: { queueManager: 'fifo' } })).toEqual([
      'queue_manager: must be one of "single", "multi", got "fifo" (from --queue-manager)',
    ]);
  });

  it('ignores empty environment variables', () => {
    expect(loadBrokerConfig({ env: { SWITCHYARD_CLIENTS_PORT: '' } }).config.clients.port).toBe(
      9658,
    );
  });

  it('reads every environment variable', () => {
    const { config } = loadBrokerConfig({
      env: {
        SWITCHYARD_CLIENTS_ADDRESS: '127.0.0.2',
        SWITCHYARD_CLIENTS_PORT: '1',
        SWITCHYARD_WORKERS_ADDRESS: 'localhost',
        SWITCHYARD_WORKERS_PORT: '2',
        SWITCHYARD_MAX_LIVENESS: '3',
        SWITCHYARD_PING_INTERVAL: '400',
        SWITCHYARD_MAX_REQUEST_FAILURES: '5',
        SWITCHYARD_QUEUE_MANAGER: 'multi',
        SWITCHYARD_REJECT_UNMATCHABLE: 'yes',
        SWITCHYARD_DATA_DIR: '/data',
        SWITCHYARD_STORE: 'postgresql://db/x',
        SWITCHYARD_LOG_LEVEL: 'err',
        SWITCHYARD_LOG_FILE: '/log/broker',
        SWITCHYARD_CLIENT_TOKENS: 'aaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb',
        SWITCHYARD_WORKER_TOKENS: 'cccccccccccccccccccc',
        SWITCHYARD_ADMIN_TOKENS: 'dddddddddddddddddddd',
        SWITCHYARD_ALLOWED_HOSTS: 'a.example, b.example',
        SWITCHYARD_JOB_OUTPUT_HEAD: '1K',
        SWITCHYARD_JOB_OUTPUT_TAIL: '2048',
      },
    });
    expect(config).toEqual({
      ...brokerDefaults,
      clients: { address: '127.0.0.2', port: 1, allowedHosts: ['a.example', 'b.example'] },
      jobOutput: { headBytes: 1024, tailBytes: 2048 },
      workers: { address: 'localhost', port: 2 },
      maxLiveness: 3,
      pingIntervalMs: 400,
      maxRequestFailures: 5,
      queueManager: 'multi',
      rejectUnmatchable: true,
      dataDir: '/data',
      store: 'postgresql://db/x',
      logger: { ...brokerDefaults.logger, level: 'error', file: '/log/broker' },
      auth: {
        clientTokens: ['aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb'],
        workerTokens: ['cccccccccccccccccccc'],
        adminTokens: ['dddddddddddddddddddd'],
      },
    });
  });

  it('reads every flag', () => {
    const { config } = loadBrokerConfig({
      env: {},
      flags: {
        clientsAddress: '127.0.0.3',
        clientsPort: '11',
        workersAddress: '127.0.0.4',
        workersPort: 12,
        maxLiveness: '13',
        pingInterval: '140',
        maxRequestFailures: '15',
        queueManager: 'multi',
        rejectUnmatchable: true,
        dataDir: 'd',
        store: 'sqlite',
        logLevel: 'debug',
        logFile: 'f',
        logJson: true,
      },
    });
    expect(config).toEqual({
      ...brokerDefaults,
      clients: { address: '127.0.0.3', port: 11, allowedHosts: [] },
      workers: { address: '127.0.0.4', port: 12 },
      maxLiveness: 13,
      pingIntervalMs: 140,
      maxRequestFailures: 15,
      queueManager: 'multi',
      rejectUnmatchable: true,
      dataDir: 'd',
      logger: { ...brokerDefaults.logger, level: 'debug', file: 'f', json: true },
    });
  });
});

describe('cross-field checks', () => {
  it('rejects retry.max below retry.base', () => {
    const file = yamlFile('retry: { base: 5000, max: 1000 }\n');
    expect(problemsOf({ file })).toEqual([
      'retry.max: must be at least retry.base (5000 ms), got 1000',
    ]);
  });

  it('rejects the same port for clients and workers', () => {
    expect(problemsOf({ flags: { clientsPort: 7000, workersPort: 7000 } })).toEqual([
      'workers.port: must differ from clients.port, both are 7000',
    ]);
    expect(problemsOf({ flags: { clientsPort: 0, workersPort: 0 } })).toEqual([]);
  });

  it('warns about short tokens without showing them', () => {
    const { warnings } = loadBrokerConfig({ env: { SWITCHYARD_ADMIN_TOKENS: 'secret' } });
    expect(warnings).toEqual([
      'auth.admin_tokens: token 1 is shorter than 16 characters and easy to guess',
    ]);
    expect(warnings.join()).not.toContain('secret');
  });
});
