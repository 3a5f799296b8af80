import { describe, expect, it } from 'vitest';
import { blockKey, countsAgainstWorker, isBlocked } from '../../../src/domain/blocklist.js';
import type { Outcome } from '../../../src/domain/transitions.js';

const fail = (code: string, over: Partial<Extract<Outcome, { kind: 'fail' }>> = {}): Outcome => ({
  kind: 'fail',
  error: { code, message: code },
  retryable: true,
  infrastructure: false,
  ...over,
});

describe('blocklist counting', () => {
  it('counts real failures of the job, retryable or not, timeouts too', () => {
    expect(countsAgainstWorker(fail('exit_code'))).toBe(true);
    expect(countsAgainstWorker(fail('handler_error', { retryable: false }))).toBe(true);
    expect(countsAgainstWorker(fail('timeout'))).toBe(true);
  });

  it('does not count what says nothing about the worker running the type', () => {
    expect(countsAgainstWorker({ kind: 'done', result: null })).toBe(false);
    expect(countsAgainstWorker({ kind: 'lost', error: { code: 'worker_lost', message: '' } })).toBe(
      false,
    );
    expect(countsAgainstWorker({ kind: 'requeue', error: { code: 'requeued', message: '' } })).toBe(
      false,
    );
    expect(countsAgainstWorker(fail('spawn_failed', { infrastructure: true }))).toBe(false);
    for (const code of ['canceled', 'held', 'requeued', 'worker_shutdown'])
      expect(countsAgainstWorker(fail(code)), code).toBe(false);
  });

  it('blocks at the threshold; 0 disables', () => {
    expect(isBlocked(2, 3)).toBe(false);
    expect(isBlocked(3, 3)).toBe(true);
    expect(isBlocked(100, 0)).toBe(false);
  });

  it('keys a queue and a type apart', () => {
    expect(blockKey('a', 'b:c')).not.toBe(blockKey('a:b', 'c'));
  });
});
