import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerDefaults } from '../../../src/config/types.js';
import { closeLogger, createLogger, levelFromFlags } from '../../../src/log/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('levelFromFlags', () => {
  it('--debug wins, then --verbose, then the fallback, then the command kind', () => {
    expect(levelFromFlags({ debug: true, verbose: true }, 'client')).toBe('debug');
    expect(levelFromFlags({ verbose: true }, 'client')).toBe('info');
    expect(levelFromFlags({}, 'client')).toBe('warn');
    expect(levelFromFlags({}, 'server')).toBe('info');
    expect(levelFromFlags({}, 'server', 'error')).toBe('error');
  });
});

describe('createLogger', () => {
  it('writes human-readable lines at or above its level', () => {
    const err = capture();
    const log = createLogger({
      ...brokerDefaults.logger,
      level: 'info',
      name: 'broker',
      stderr: err.stream,
    });
    log.debug('hidden');
    log.info({ port: 9658 }, 'listening');
    log.warn('careful');
    const text = err.text();
    expect(text).not.toContain('hidden');
    expect(text).toMatch(/INFO.*\(broker\).*listening/);
    expect(text).toContain('port: 9658');
    expect(text).toMatch(/WARN.*careful/);
    expect(text).not.toContain('{"level"');
  });

  it('writes JSON lines to stderr with json', () => {
    const err = capture();
    const log = createLogger({
      ...brokerDefaults.logger,
      level: 'debug',
      json: true,
      stderr: err.stream,
    });
    log.debug({ a: 1 }, 'hello');
    const line = JSON.parse(err.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 20, a: 1, msg: 'hello' });
  });

  it('writes nothing when silent', () => {
    const err = capture();
    const log = createLogger({ ...brokerDefaults.logger, level: 'silent', stderr: err.stream });
    log.fatal('no');
    expect(err.text()).toBe('');
  });

  it('writes JSON lines to <file>.log as well as to stderr', async () => {
    const err = capture();
    const base = join(dir, 'plain', 'broker');
    const log = createLogger({ ...brokerDefaults.logger, file: base, stderr: err.stream });
    log.info('to both');
    await closeLogger(log);
    const line = JSON.parse(readFileSync(`${base}.log`, 'utf8').trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: 'to both' });
    expect(err.text()).toContain('to both');
  });

  it('rotates the file by size, keeping `rotations` files named <file>.N.log', async () => {
    const base = join(dir, 'rot', 'broker');
    const log = createLogger({
      ...brokerDefaults.logger,
      file: base,
      maxSize: 1024,
      rotations: 2,
      stderr: new PassThrough().resume(),
    });
    const filler = 'x'.repeat(200);
    for (let i = 0; i < 60; i++) {
      log.info({ i, filler }, 'line');
      // Let the stream notice the size and rotate between writes.
      await new Promise((r) => setImmediate(r));
    }
    await closeLogger(log);
    expect(readdirSync(join(dir, 'rot')).sort()).toEqual([
      'broker.1.log',
      'broker.2.log',
      'broker.log',
    ]);
    expect(existsSync(`${base}.3.log`)).toBe(false);
    for (const name of ['broker.1.log', 'broker.2.log']) {
      expect(statSync(join(dir, 'rot', name)).size).toBeLessThan(1024 + 400);
    }
    // Oldest lines are in broker.2.log, then broker.1.log, then broker.log: in order, no gaps,
    // ending with the last line written.
    const numbers = ['broker.2.log', 'broker.1.log', 'broker.log'].flatMap((name) =>
      readFileSync(join(dir, 'rot', name), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { i: number }).i),
    );
    expect(numbers.length).toBeGreaterThan(4);
    expect(numbers).toEqual(numbers.map((_, k) => 60 - numbers.length + k));
  });

  it('closeLogger is a no-op for a logger without a file', async () => {
    const log = createLogger({ ...brokerDefaults.logger, stderr: new PassThrough().resume() });
    await expect(closeLogger(log)).resolves.toBeUndefined();
  });
});
