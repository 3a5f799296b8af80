import { describe, expect, it } from 'vitest';
import { errorGroupOf, errorLabel, normalizeMessage } from '../../../src/domain/error-groups.js';
import { defaultRetryPolicy } from '../../../src/domain/retry.js';
import {
  planDependencies,
  planEnd,
  planHold,
  planRelease,
  planRetry,
  planRunNow,
} from '../../../src/domain/transitions.js';
import { isDuplicate, type KeyHolder } from '../../../src/domain/uniqueness.js';
import { runningJob, stateView } from '../../helpers/fixtures.js';

const running = runningJob;

const view = stateView;

const policy = { now: 5_000, maxRequestFailures: 3, retry: defaultRetryPolicy, random: () => 0.5 };
const boom = { code: 'exit_code', message: 'command exited with code 3' };
const fail = { kind: 'fail', error: boom, retryable: true, infrastructure: false } as const;
const hold = { reason: 'maintenance', by: 'token:abcd1234', at: 50 };

describe('per-job back-off', () => {
  it('a fixed back-off waits its delay after every failure', () => {
    const options = {
      backoff: { type: 'fixed' as const, delayMs: 30_000, maxDelayMs: 3_600_000, jitter: 0 },
    };
    const first = planEnd(running({ options }), fail, policy);
    const second = planEnd(running({ options, attempt: 2 }), fail, policy);
    expect(first).toMatchObject({ to: 'scheduled', runAt: 35_000 });
    expect(second).toMatchObject({ to: 'scheduled', runAt: 35_000 });
  });

  it('an exponential back-off doubles from its delay up to its maximum', () => {
    const backoff = { type: 'exponential' as const, delayMs: 100, maxDelayMs: 350, jitter: 0 };
    const at = (attempt: number) =>
      planEnd(running({ options: { backoff }, attempt, maxAttempts: 10 }), fail, policy).runAt;
    expect([at(1), at(2), at(3), at(4)]).toEqual([5_100, 5_200, 5_350, 5_350]);
  });
});

describe('attempts that do not count', () => {
  it('held attempts are not counted against maxAttempts', () => {
    // Three attempts started, one of them stopped by a hold: a failure of the third is the
    // second counted one, so the job is retried.
    const end = planEnd(running({ attempt: 3, uncounted: 1 }), fail, policy);
    expect(end.to).toBe('scheduled');
    const without = planEnd(running({ attempt: 3 }), fail, policy);
    expect(without.to).toBe('failed');
  });

  it('a failed job gets its error group', () => {
    const end = planEnd(running({ attempt: 3 }), fail, policy);
    expect(end.errorGroup).toBe(errorGroupOf(end.error!));
    expect(planEnd(running(), fail, policy).errorGroup).toBeUndefined();
  });
});

describe('planHold', () => {
  it.each(['scheduled', 'queued'] as const)('holds a %s job without a record', (state) => {
    expect(planHold(view({ state }), hold, 50)).toStrictEqual({
      id: 9,
      from: state,
      to: 'held',
      now: 50,
      hold,
    });
  });

  it('holds a running job under its lease, recording the attempt as held and uncounted', () => {
    const change = planHold(
      view({
        state: 'running',
        attempt: 2,
        uncounted: 1,
        workerId: 'w_1',
        workerName: 'alpha',
        nodeId: 'n_1',
        startedAt: 10,
      }),
      hold,
      50,
    );
    expect(change).toMatchObject({
      to: 'held',
      lease: { attempt: 2, workerId: 'w_1', nodeId: 'n_1' },
      uncounted: 2,
      attributes: {},
      record: { attempt: 2, outcome: 'held', startedAt: 10, finishedAt: 50, error: null },
    });
  });

  it.each(['waiting', 'held', 'succeeded', 'failed', 'canceled'] as const)(
    'leaves a %s job alone',
    (state) => {
      expect(planHold(view({ state }), hold, 50)).toBeNull();
    },
  );
});

describe('planRelease, planRetry, planRunNow', () => {
  it('a release queues a held job now and clears its hold', () => {
    expect(planRelease(view({ state: 'held' }), 70)).toStrictEqual({
      id: 9,
      from: 'held',
      to: 'queued',
      now: 70,
      runAt: 70,
      hold: null,
    });
    expect(planRelease(view({ state: 'queued' }), 70)).toBeNull();
  });

  it('a retry gives an ended job all its attempts again', () => {
    const change = planRetry(view({ state: 'failed', attempt: 5, requestFailures: 2 }), 70);
    expect(change).toMatchObject({
      from: 'failed',
      to: 'queued',
      uncounted: 5,
      requestFailures: 0,
      error: null,
      errorGroup: null,
    });
    expect(planRetry(view({ state: 'canceled' }), 70)?.to).toBe('queued');
    expect(planRetry(view({ state: 'succeeded' }), 70)).toBeNull();
    expect(planRetry(view({ state: 'running' }), 70)).toBeNull();
  });

  it('run-now queues only a scheduled job', () => {
    expect(planRunNow(view({ state: 'scheduled', runAt: 9_999 }), 70)).toMatchObject({
      to: 'queued',
      runAt: 70,
    });
    expect(planRunNow(view({ state: 'queued' }), 70)).toBeNull();
  });
});

describe('planDependencies', () => {
  const waiting = { id: 4, state: 'waiting' as const, runAt: 0 };
  it('queues a waiting job once every dependency succeeded', () => {
    const deps = [
      { id: 1, state: 'succeeded' as const },
      { id: 2, state: 'succeeded' as const },
    ];
    expect(planDependencies(waiting, deps, 10)).toMatchObject({ to: 'queued', runAt: 10 });
    expect(planDependencies({ ...waiting, runAt: 99 }, deps, 10)?.to).toBe('scheduled');
  });

  it('keeps waiting while one has not ended', () => {
    const deps = [
      { id: 1, state: 'succeeded' as const },
      { id: 2, state: 'running' as const },
    ];
    expect(planDependencies(waiting, deps, 10)).toBeNull();
  });

  it('cancels, naming the dependency, when one failed or was canceled', () => {
    const deps = [
      { id: 1, state: 'running' as const },
      { id: 2, state: 'failed' as const },
    ];
    expect(planDependencies(waiting, deps, 10)).toMatchObject({
      to: 'canceled',
      error: { code: 'dependency_failed', message: 'job 2, which this job depends on, failed' },
    });
    expect(planDependencies(waiting, [{ id: 3, state: 'canceled' }], 10)?.error?.message).toContain(
      'job 3, which this job depends on, was canceled',
    );
    expect(planDependencies({ ...waiting, state: 'held' }, deps, 10)).toBeNull();
  });
});

describe('error groups', () => {
  it('messages that differ in numbers, ids, paths, addresses and quoted values fall together', () => {
    const same = [
      'connect ECONNREFUSED 10.0.0.7:5432 after 3 tries (job-812)',
      'connect ECONNREFUSED 192.168.1.20:6379 after 12 tries (job-9)',
    ];
    expect(errorGroupOf({ code: 'x', message: same[0]! })).toBe(
      errorGroupOf({ code: 'x', message: same[1]! }),
    );
    expect(normalizeMessage('cannot open /var/data/7/in.csv: "abc" missing')).toBe(
      'cannot open <path>: "<s>" missing',
    );
    expect(normalizeMessage('object 3f9a1c77e0b2 of 550e8400-e29b-41d4-a716-446655440000')).toBe(
      'object <hex> of <uuid>',
    );
  });

  it('different messages or codes are different groups', () => {
    expect(errorGroupOf({ code: 'x', message: 'disk full' })).not.toBe(
      errorGroupOf({ code: 'x', message: 'permission denied' }),
    );
    expect(errorGroupOf({ code: 'a', message: 'm' })).not.toBe(
      errorGroupOf({ code: 'b', message: 'm' }),
    );
    expect(errorLabel({ code: 'exit_code', message: 'exited with 137' })).toBe(
      'exit_code: exited with <n>',
    );
    expect(errorGroupOf({ code: 'a', message: 'm' })).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('uniqueness', () => {
  const holder = (over: Partial<KeyHolder> = {}): KeyHolder => ({
    state: 'queued',
    createdAt: 1_000,
    startedAt: null,
    finishedAt: null,
    forMs: 60_000,
    while: null,
    ...over,
  });

  it('is a duplicate within the window from the last activity', () => {
    expect(isDuplicate(holder(), 60_999)).toBe(true);
    expect(isDuplicate(holder(), 61_000)).toBe(false);
    // Ended later: the window runs from the end.
    expect(isDuplicate(holder({ state: 'succeeded', finishedAt: 50_000 }), 100_000)).toBe(true);
    // Running: processed now.
    expect(isDuplicate(holder({ state: 'running', startedAt: 2_000 }), 1_000_000)).toBe(true);
  });

  it('only in the states named, and for ever without a window', () => {
    const active = holder({ while: ['queued', 'running'], forMs: null });
    expect(isDuplicate(active, 10 ** 12)).toBe(true);
    expect(isDuplicate({ ...active, state: 'succeeded', finishedAt: 5 }, 10)).toBe(false);
  });
});
