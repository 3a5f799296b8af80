import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/errors.js';
import { configFlags, parseBrokers, upBanner } from '../../../src/cli/server-commands.js';
import { brokerDefaults } from '../../../src/config/types.js';

describe('configFlags', () => {
  it('passes only the options given, and the logging flags as level and format', () => {
    expect(configFlags({})).toEqual({});
    expect(
      configFlags({ clientsPort: '1', dataDir: 'd', logFile: 'f', verbose: true, json: true }),
    ).toEqual({ clientsPort: '1', dataDir: 'd', logFile: 'f', logLevel: 'info', logJson: true });
    expect(configFlags({ debug: true, verbose: true }).logLevel).toBe('debug');
    expect(configFlags({ rejectUnmatchable: true })).toEqual({ rejectUnmatchable: true });
  });
});

describe('parseBrokers', () => {
  it('accepts repeated and comma-separated ws:// and wss:// URLs', () => {
    expect(parseBrokers(['ws://a:9657, wss://b:9657', 'ws://c:1'])).toEqual([
      'ws://a:9657',
      'wss://b:9657',
      'ws://c:1',
    ]);
  });

  it('rejects other URLs and an empty list', () => {
    expect(() => parseBrokers(['http://a:1'])).toThrow(UsageError);
    expect(() => parseBrokers([' , '])).toThrow(/at least one/);
  });
});

describe('upBanner', () => {
  it('says where the API and workers are, and gives a command to try', () => {
    const text = upBanner('http://127.0.0.1:9658', 'ws://127.0.0.1:9657', brokerDefaults, 4);
    expect(text).toContain('client API  http://127.0.0.1:9658/api/v1\n');
    expect(text).toContain('workers     ws://127.0.0.1:9657  (one local shell worker, 4 slots)\n');
    expect(text).toContain('Try:  switchyard submit --wait -- echo hello\n');
  });

  it('adds --url for another port and --token when tokens are needed', () => {
    const config = { ...brokerDefaults, auth: { ...brokerDefaults.auth, clientTokens: ['t'] } };
    expect(upBanner('http://127.0.0.1:5000', 'ws://x', config, 1)).toContain(
      'Try:  switchyard submit --url http://127.0.0.1:5000 --token $SWITCHYARD_TOKEN --wait -- echo hello',
    );
  });
});
