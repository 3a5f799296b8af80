/**
 * The notifier's pure rules: which ends make a callback, the bodies, the signature a receiver
 * verifies, and when a failed try is retried or given up (exponential, jittered, bounded).
 */
import { describe, expect, it } from 'vitest';
import {
  backendErrorBody,
  defaultDeliveryPolicy,
  endsIn,
  jobEndBody,
  maxResultBytes,
  planRedelivery,
  sign,
  verifySignature,
  type DeliveryPolicy,
} from '../../../src/domain/notify.js';

const policy: DeliveryPolicy = {
  maxAttempts: 5,
  backoff: { baseMs: 1_000, factor: 2, maxMs: 5_000, jitter: 0.2 },
};

describe('planRedelivery', () => {
  it('waits exponentially longer after each failed try, up to the bound', () => {
    const middle = () => 0.5; // no jitter either way
    expect([1, 2, 3, 4].map((n) => planRedelivery(10_000, n, policy, middle))).toEqual([
      { action: 'retry', at: 11_000 },
      { action: 'retry', at: 12_000 },
      { action: 'retry', at: 14_000 },
      { action: 'retry', at: 15_000 },
    ]);
  });

  it('spreads each wait by the jitter, never beyond it', () => {
    expect(planRedelivery(0, 1, policy, () => 0)).toEqual({ action: 'retry', at: 800 });
    expect(planRedelivery(0, 1, policy, () => 0.999999)).toEqual({ action: 'retry', at: 1_200 });
    const many = { ...policy, maxAttempts: 100 };
    expect(planRedelivery(0, 40, many, () => 0.999999)).toEqual({ action: 'retry', at: 6_000 });
  });

  it('gives up once the tries are used, and never with tries left', () => {
    expect(planRedelivery(0, 5, policy)).toEqual({ action: 'give_up' });
    expect(planRedelivery(0, 6, policy)).toEqual({ action: 'give_up' });
    expect(planRedelivery(0, 4, policy).action).toBe('retry');
    expect(planRedelivery(0, 1, { ...policy, maxAttempts: 1 })).toEqual({ action: 'give_up' });
  });

  it('by default retries for a while with bounded waits', () => {
    const at = planRedelivery(0, 9, defaultDeliveryPolicy, () => 0.5);
    expect(at).toEqual({ action: 'retry', at: 256_000 });
    expect(planRedelivery(0, 10, defaultDeliveryPolicy)).toEqual({ action: 'give_up' });
  });
});

describe('endsIn', () => {
  it('is true for an end among the events only', () => {
    expect(endsIn('succeeded', ['succeeded', 'failed'])).toBe(true);
    expect(endsIn('canceled', ['succeeded', 'failed'])).toBe(false);
    expect(endsIn('queued', ['succeeded', 'failed', 'canceled'])).toBe(false);
    expect(endsIn('scheduled', ['backend_error'])).toBe(false);
  });
});

describe('bodies', () => {
  const job = {
    id: 42,
    type: 'shell',
    queue: 'default',
    state: 'failed' as const,
    attempt: 3,
    error: { code: 'exit_code', message: 'exit 1' },
    result: { exitCode: 1 },
  };

  it('tells of a job end with its key, time and job', () => {
    expect(JSON.parse(jobEndBody('k1', 1234, job))).toEqual({
      event: 'job.failed',
      id: 'k1',
      at: 1234,
      job: { ...job, id: '42' },
    });
  });

  it('leaves out a result too large to send, and says so', () => {
    const big = { ...job, result: 'x'.repeat(maxResultBytes + 1) };
    expect(JSON.parse(jobEndBody('k', 0, big)).job).toMatchObject({
      result: null,
      resultOmitted: true,
    });
  });

  it('bounds a large error: its details dropped, its message cut', () => {
    const huge = {
      ...job,
      error: {
        code: 'exit_code',
        message: 'm'.repeat(10_000),
        details: 'd'.repeat(maxResultBytes),
      },
    };
    const error = JSON.parse(jobEndBody('k', 0, huge)).job.error;
    expect(error.details).toBeUndefined();
    expect(error.code).toBe('exit_code');
    expect(error.message).toHaveLength(4097);
    const small = { ...job, error: { code: 'c', message: 'm', details: { line: 3 } } };
    expect(JSON.parse(jobEndBody('k', 0, small)).job.error).toEqual(small.error);
  });

  it('tells of a backend error with its message and details', () => {
    expect(JSON.parse(backendErrorBody('k2', 5, 'worker lost', { workerId: 'w' }))).toEqual({
      event: 'backend.error',
      id: 'k2',
      at: 5,
      message: 'worker lost',
      details: { workerId: 'w' },
    });
  });
});

describe('signature', () => {
  const body = '{"event":"job.succeeded"}';

  it('verifies for the same secret, body and a recent time', () => {
    const header = sign('s3cret', 1_700_000_000, body);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret', header, body, 1_700_000_100)).toBe(true);
  });

  it('fails for another secret, a changed body, an old time or a mangled header', () => {
    const header = sign('s3cret', 1_700_000_000, body);
    expect(verifySignature('other', header, body, 1_700_000_000)).toBe(false);
    expect(verifySignature('s3cret', header, `${body} `, 1_700_000_000)).toBe(false);
    expect(verifySignature('s3cret', header, body, 1_700_000_301)).toBe(false);
    expect(
      verifySignature(
        's3cret',
        header.replace('t=1700000000', 't=1700000001'),
        body,
        1_700_000_000,
      ),
    ).toBe(false);
    expect(verifySignature('s3cret', 'v1=abc', body, 1_700_000_000)).toBe(false);
    expect(verifySignature('s3cret', '', body, 1_700_000_000)).toBe(false);
  });
});
