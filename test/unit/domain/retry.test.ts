import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  decideFailure,
  decideLoss,
  defaultRetryPolicy,
  nextRunAt,
  type RetryPolicy,
} from '../../../src/domain/retry.js';

const fixed = (r: number) => () => r;
/** The largest value Math.random can return. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

const noJitter: RetryPolicy = { baseMs: 100, factor: 3, maxMs: 10_000, jitter: 0 };

describe('defaultRetryPolicy', () => {
  it('is base 1 s, factor 2, max 1 h, jitter 20 %', () => {
    expect(defaultRetryPolicy).toEqual({ baseMs: 1_000, factor: 2, maxMs: 3_600_000, jitter: 0.2 });
  });
});

describe('backoffDelay with the default policy', () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [5, 16_000],
    [6, 32_000],
    [10, 512_000],
    [12, 2_048_000],
  ])('r=0.5 (no jitter) after attempt %i waits exactly %i ms', (attempt, ms) => {
    expect(backoffDelay(attempt, defaultRetryPolicy, fixed(0.5))).toBe(ms);
  });

  it.each([
    [1, 800],
    [2, 1_600],
    [3, 3_200],
    [4, 6_400],
    [5, 12_800],
  ])('r=0 (jitter −20 %%) after attempt %i waits exactly %i ms', (attempt, ms) => {
    expect(backoffDelay(attempt, defaultRetryPolicy, fixed(0))).toBe(ms);
  });

  it.each([
    [1, 1_200],
    [2, 2_400],
    [3, 4_800],
    [4, 9_600],
    [5, 19_200],
  ])('r≈1 (jitter +20 %%) after attempt %i waits %i ms', (attempt, ms) => {
    expect(backoffDelay(attempt, defaultRetryPolicy, fixed(ALMOST_ONE))).toBe(ms);
  });

  it('doubles with each attempt until the cap', () => {
    for (let n = 1; n < 12; n++) {
      expect(backoffDelay(n + 1, defaultRetryPolicy, fixed(0.5))).toBe(
        2 * backoffDelay(n, defaultRetryPolicy, fixed(0.5)),
      );
    }
  });

  it('is capped at maxMs (1 h) from attempt 13 on', () => {
    expect(backoffDelay(13, defaultRetryPolicy, fixed(0.5))).toBe(3_600_000);
    expect(backoffDelay(50, defaultRetryPolicy, fixed(0.5))).toBe(3_600_000);
    expect(backoffDelay(10_000, defaultRetryPolicy, fixed(0.5))).toBe(3_600_000);
  });

  it('applies jitter after the cap: between 48 min and 1 h 12 min', () => {
    expect(backoffDelay(100, defaultRetryPolicy, fixed(0))).toBe(2_880_000);
    expect(backoffDelay(100, defaultRetryPolicy, fixed(ALMOST_ONE))).toBe(4_320_000);
  });

  it.each([0, -1, -100, 0.5])('treats attempt %d (< 1) as attempt 1', (attempt) => {
    expect(backoffDelay(attempt, defaultRetryPolicy, fixed(0.5))).toBe(1_000);
    expect(backoffDelay(attempt, defaultRetryPolicy, fixed(0))).toBe(800);
  });

  it('rounds a fractional attempt down', () => {
    expect(backoffDelay(2.9, defaultRetryPolicy, fixed(0.5))).toBe(2_000);
  });

  it('uses the default policy when none is given', () => {
    expect(backoffDelay(3, undefined, fixed(0.5))).toBe(4_000);
  });

  it('stays within ±20 % for every r in [0, 1)', () => {
    for (let attempt = 1; attempt <= 15; attempt++) {
      const raw = Math.min(3_600_000, 1_000 * 2 ** (attempt - 1));
      for (let i = 0; i <= 100; i++) {
        const r = i === 100 ? ALMOST_ONE : i / 100;
        const d = backoffDelay(attempt, defaultRetryPolicy, fixed(r));
        expect(d).toBeGreaterThanOrEqual(raw * 0.8);
        expect(d).toBeLessThanOrEqual(raw * 1.2);
      }
    }
  });

  it('grows with r: the jitter spreads linearly around the raw delay', () => {
    expect(backoffDelay(1, defaultRetryPolicy, fixed(0.25))).toBe(900);
    expect(backoffDelay(1, defaultRetryPolicy, fixed(0.75))).toBe(1_100);
  });

  it('stays within ±20 % with the real Math.random', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(1);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1_200);
      expect(Number.isInteger(d)).toBe(true);
    }
  });
});

describe('backoffDelay with a custom policy', () => {
  it('grows by the policy factor', () => {
    const delays = [1, 2, 3, 4].map((n) => backoffDelay(n, noJitter, fixed(0)));
    expect(delays).toEqual([100, 300, 900, 2_700]);
  });

  it('is capped at the policy maxMs', () => {
    expect(backoffDelay(5, noJitter, fixed(0))).toBe(8_100);
    expect(backoffDelay(6, noJitter, fixed(0))).toBe(10_000);
    expect(backoffDelay(60, noJitter, fixed(0))).toBe(10_000);
  });

  it('ignores r when jitter is 0', () => {
    expect(backoffDelay(2, noJitter, fixed(0))).toBe(300);
    expect(backoffDelay(2, noJitter, fixed(ALMOST_ONE))).toBe(300);
  });

  it('spreads by the policy jitter fraction', () => {
    const half: RetryPolicy = { baseMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.5 };
    expect(backoffDelay(1, half, fixed(0))).toBe(500);
    expect(backoffDelay(1, half, fixed(ALMOST_ONE))).toBe(1_500);
  });

  it('returns whole milliseconds', () => {
    const odd: RetryPolicy = { baseMs: 333, factor: 1.5, maxMs: 100_000, jitter: 0.1 };
    for (let n = 1; n < 10; n++)
      expect(Number.isInteger(backoffDelay(n, odd, fixed(0.37)))).toBe(true);
  });

  it('never returns a negative delay, even with jitter above 1', () => {
    const wild: RetryPolicy = { baseMs: 1_000, factor: 2, maxMs: 60_000, jitter: 2 };
    expect(backoffDelay(1, wild, fixed(0))).toBe(0);
  });
});

describe('nextRunAt', () => {
  it('adds the back-off delay to now', () => {
    expect(nextRunAt(1_700_000_000_000, 3, defaultRetryPolicy, fixed(0.5))).toBe(1_700_000_004_000);
    expect(nextRunAt(5_000, 1, defaultRetryPolicy, fixed(0))).toBe(5_800);
  });

  it('uses the given policy', () => {
    expect(nextRunAt(0, 3, noJitter, fixed(0.9))).toBe(900);
  });
});

describe('decideFailure', () => {
  const base = { now: 10_000, maxAttempts: 5, random: fixed(0.5) };

  it('fails a permanent failure at once, even with attempts left', () => {
    expect(decideFailure({ ...base, attempt: 1, retryable: false })).toEqual({ action: 'fail' });
  });

  it('fails a retryable failure on the last attempt', () => {
    expect(decideFailure({ ...base, attempt: 5, retryable: true })).toEqual({ action: 'fail' });
  });

  it('fails a retryable failure past the last attempt', () => {
    expect(decideFailure({ ...base, attempt: 6, retryable: true })).toEqual({ action: 'fail' });
  });

  it('fails at once when only one attempt is allowed', () => {
    expect(decideFailure({ ...base, maxAttempts: 1, attempt: 1, retryable: true })).toEqual({
      action: 'fail',
    });
  });

  it('retries a retryable failure with attempts left, at now + back-off', () => {
    expect(decideFailure({ ...base, attempt: 1, retryable: true })).toEqual({
      action: 'retry',
      runAt: 11_000,
    });
    expect(decideFailure({ ...base, attempt: 4, retryable: true })).toEqual({
      action: 'retry',
      runAt: 18_000,
    });
  });

  it('uses the given policy and random for the retry time', () => {
    expect(
      decideFailure({ ...base, attempt: 2, retryable: true, policy: noJitter, random: fixed(0) }),
    ).toEqual({
      action: 'retry',
      runAt: 10_300,
    });
  });

  it('retries at a time within the default jitter without an injected random', () => {
    const decision = decideFailure({ now: 0, attempt: 1, maxAttempts: 3, retryable: true });
    expect(decision.action).toBe('retry');
    if (decision.action !== 'retry') return;
    expect(decision.runAt).toBeGreaterThanOrEqual(800);
    expect(decision.runAt).toBeLessThanOrEqual(1_200);
  });
});

describe('decideLoss', () => {
  it.each([0, 1, 2])('requeues a job with %i failures below the limit of 3', (n) => {
    expect(
      decideLoss({ requestFailures: n, maxRequestFailures: 3, lastError: 'worker lost' }),
    ).toEqual({
      action: 'requeue',
    });
  });

  it('fails at the limit with a message naming the count, the limit and the last error', () => {
    expect(
      decideLoss({ requestFailures: 3, maxRequestFailures: 3, lastError: 'worker w1 lost' }),
    ).toEqual({
      action: 'fail',
      message: 'job failed 3 times (max_request_failures is 3); last error: worker w1 lost',
    });
  });

  it('fails past the limit, naming the actual count', () => {
    const decision = decideLoss({
      requestFailures: 7,
      maxRequestFailures: 4,
      lastError: 'spawn failed: ENOENT',
    });
    expect(decision.action).toBe('fail');
    if (decision.action !== 'fail') return;
    expect(decision.message).toContain('failed 7 times');
    expect(decision.message).toContain('max_request_failures is 4');
    expect(decision.message).toContain('last error: spawn failed: ENOENT');
  });

  it('fails on the first loss when the limit is 1', () => {
    expect(decideLoss({ requestFailures: 1, maxRequestFailures: 1, lastError: 'x' }).action).toBe(
      'fail',
    );
  });
});
