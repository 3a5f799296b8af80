import { describe, expect, it } from 'vitest';
import { checkExposure, isLoopback } from '../../../src/config/exposure.js';
import { ConfigError, loadBrokerConfig } from '../../../src/config/load.js';
import { brokerDefaults, type BrokerConfig } from '../../../src/config/types.js';

const TOKEN = 'a-long-enough-token-123';

function config(patch: {
  clients?: string;
  workers?: string;
  client?: string[];
  worker?: string[];
  admin?: string[];
}): BrokerConfig {
  return {
    ...brokerDefaults,
    clients: { ...brokerDefaults.clients, address: patch.clients ?? '127.0.0.1' },
    workers: { ...brokerDefaults.workers, address: patch.workers ?? '127.0.0.1' },
    auth: {
      clientTokens: patch.client ?? [],
      workerTokens: patch.worker ?? [],
      adminTokens: patch.admin ?? [],
    },
  };
}

describe('isLoopback', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '127.255.255.255',
    '::1',
    '0:0:0:0:0:0:0:1',
    'localhost',
    'LOCALHOST',
    '::ffff:127.0.0.1',
  ])('%s is loopback', (a) => expect(isLoopback(a)).toBe(true));
  it.each([
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '128.0.0.1',
    '192.168.1.2',
    'example.com',
    'localhost.example.com',
    '::2',
  ])('%s is not loopback', (a) => expect(isLoopback(a)).toBe(false));
});

describe('checkExposure', () => {
  it('accepts the defaults: loopback, no tokens', () => {
    expect(checkExposure(brokerDefaults)).toEqual([]);
  });

  it('rejects an exposed clients port without tokens, saying how to set them', () => {
    const problems = checkExposure(config({ clients: '0.0.0.0' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^clients\.address: "0\.0\.0\.0" is not a loopback address/);
    for (const hint of [
      'auth.client_tokens',
      'auth.admin_tokens',
      'SWITCHYARD_CLIENT_TOKENS',
      'SWITCHYARD_ADMIN_TOKENS',
    ]) {
      expect(problems[0]).toContain(hint);
    }
  });

  it('accepts an exposed clients port with client tokens or admin tokens', () => {
    expect(checkExposure(config({ clients: '0.0.0.0', client: [TOKEN] }))).toEqual([]);
    expect(checkExposure(config({ clients: '0.0.0.0', admin: [TOKEN] }))).toEqual([]);
  });

  it('does not count worker tokens for the clients port', () => {
    expect(checkExposure(config({ clients: '10.1.1.1', worker: [TOKEN] }))).toHaveLength(1);
  });

  it('rejects an exposed workers port without worker tokens, saying how to set them', () => {
    const problems = checkExposure(
      config({ workers: 'example.com', client: [TOKEN], admin: [TOKEN] }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^workers\.address: "example\.com" is not a loopback address/);
    expect(problems[0]).toContain('auth.worker_tokens');
    expect(problems[0]).toContain('SWITCHYARD_WORKER_TOKENS');
  });

  it('reports both ports', () => {
    expect(checkExposure(config({ clients: '::', workers: '::' }))).toHaveLength(2);
  });

  it('is applied by the loader', () => {
    expect(() =>
      loadBrokerConfig({
        env: { SWITCHYARD_CLIENTS_ADDRESS: '*', SWITCHYARD_WORKERS_ADDRESS: '*' },
      }),
    ).toThrow(ConfigError);
    const { config: ok } = loadBrokerConfig({
      env: {
        SWITCHYARD_CLIENTS_ADDRESS: '*',
        SWITCHYARD_WORKERS_ADDRESS: '*',
        SWITCHYARD_CLIENT_TOKENS: TOKEN,
        SWITCHYARD_WORKER_TOKENS: TOKEN,
      },
    });
    expect(ok.clients.address).toBe('0.0.0.0');
  });
});
