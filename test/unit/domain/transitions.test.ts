import { describe, expect, it } from 'vitest';
import { canTransition, jobStates, type JobState } from '../../../src/domain/job.js';
import { defaultRetryPolicy } from '../../../src/domain/retry.js';
import { checked, planCancel, planEnd, TransitionError } from '../../../src/domain/transitions.js';
import { runningJob, stateView } from '../../helpers/fixtures.js';

const job = runningJob;

const policy = { now: 5_000, maxRequestFailures: 3, retry: defaultRetryPolicy, random: () => 0.5 };
const boom = { code: 'exit_code', message: 'command exited with code 3' };

describe('planEnd', () => {
  it('a run taken back by the broker is queued ahead, counted neither as a failure nor a loss', () => {
    const taken = { code: 'requeued', message: 'worker w was put to sleep now' };
    const end = planEnd(
      job({ attempt: 3, requestFailures: 2, uncounted: 1 }),
      { kind: 'requeue', error: taken },
      policy,
    );
    expect(end).toMatchObject({
      to: 'queued',
      front: true,
      runAt: 5_000,
      requestFailures: 2,
      uncounted: 2,
      error: taken,
    });
    expect(end.record).toMatchObject({ outcome: 'aborted', error: taken });
  });

  it('a success ends the job succeeded with its result and an attempt record', () => {
    const end = planEnd(job(), { kind: 'done', result: { exitCode: 0 } }, policy);
    expect(end).toMatchObject({
      id: 7,
      from: 'running',
      lease: { attempt: 1, workerId: 'w_1', nodeId: 'n_1' },
      to: 'succeeded',
      result: { exitCode: 0 },
      error: null,
    });
    expect(end.record).toEqual({
      attempt: 1,
      workerId: 'w_1',
      workerName: 'alpha',
      startedAt: 1_000,
      finishedAt: 5_000,
      outcome: 'succeeded',
      error: null,
    });
  });

  it('a retryable failure with attempts left is scheduled after the back-off', () => {
    const end = planEnd(
      job({ attempt: 2 }),
      { kind: 'fail', error: boom, retryable: true, infrastructure: false },
      policy,
    );
    expect(end.to).toBe('scheduled');
    // attempt 2 → base·2 = 2 s, jitter factor 1 at r = 0.5
    expect(end.runAt).toBe(7_000);
    expect(end.error).toEqual(boom);
    expect(end.record?.outcome).toBe('failed');
  });

  it('a retryable failure on the last attempt fails the job and says no attempts are left', () => {
    const end = planEnd(
      job({ attempt: 3 }),
      { kind: 'fail', error: boom, retryable: true, infrastructure: false },
      policy,
    );
    expect(end.to).toBe('failed');
    expect(end.error?.message).toContain('attempt 3 of 3');
    expect(end.record?.error).toEqual(boom);
  });

  it('a permanent failure fails at once, whatever the attempts left', () => {
    const end = planEnd(
      job({ attempt: 1 }),
      { kind: 'fail', error: boom, retryable: false, infrastructure: false },
      policy,
    );
    expect(end.to).toBe('failed');
    expect(end.error).toEqual(boom);
  });

  it('a lost worker re-queues the job now and counts a request failure', () => {
    const lost = { code: 'worker_lost', message: 'worker alpha sent nothing' };
    const end = planEnd(job({ requestFailures: 1 }), { kind: 'lost', error: lost }, policy);
    expect(end).toMatchObject({ to: 'queued', runAt: 5_000, requestFailures: 2, front: true });
    expect(end.record?.outcome).toBe('aborted');
  });

  it('the loss that reaches max_request_failures fails the job naming the count and the last error', () => {
    const lost = { code: 'worker_lost', message: 'worker alpha sent nothing' };
    const end = planEnd(job({ requestFailures: 2 }), { kind: 'lost', error: lost }, policy);
    expect(end.to).toBe('failed');
    expect(end.requestFailures).toBe(3);
    expect(end.error?.code).toBe('max_request_failures');
    expect(end.error?.message).toContain('3 times');
    expect(end.error?.message).toContain('worker alpha sent nothing');
  });

  it('attempts lost to the infrastructure do not use up maxAttempts', () => {
    const end = planEnd(
      job({ attempt: 3, requestFailures: 2 }),
      { kind: 'fail', error: boom, retryable: true, infrastructure: false },
      policy,
    );
    expect(end.to).toBe('scheduled');
    expect(end.runAt).toBe(6_000);
  });

  it('an infrastructure failure counts as a request failure, not an attempt of the job', () => {
    const spawn = { code: 'spawn_failed', message: 'spawn nope ENOENT' };
    const end = planEnd(
      job({ attempt: 3 }),
      { kind: 'fail', error: spawn, retryable: true, infrastructure: true },
      policy,
    );
    expect(end.to).toBe('queued');
    expect(end.requestFailures).toBe(1);
  });
});

describe('checked plans', () => {
  const allowed = (from: JobState) => jobStates.filter((to) => canTransition(from, to));
  it.each(jobStates)(
    'accepts every change the table allows from %s, and refuses the rest',
    (from) => {
      for (const to of jobStates) {
        const change = { id: 1, from, to, now: 0 };
        if (allowed(from).includes(to)) expect(checked(change)).toBe(change);
        else expect(() => checked(change)).toThrow(TransitionError);
      }
    },
  );
});

describe('planCancel', () => {
  const view = stateView;

  it.each(['waiting', 'scheduled', 'queued', 'held'] as const)(
    'cancels a %s job with no attempt record',
    (state) => {
      expect(planCancel(view({ state }), 50)).toStrictEqual({
        id: 9,
        from: state,
        to: 'canceled',
        now: 50,
      });
    },
  );

  it('cancels a running job under its lease, recording the attempt as canceled', () => {
    const running = view({
      state: 'running',
      attempt: 2,
      workerId: 'w_1',
      workerName: 'alpha',
      nodeId: 'n_1',
      startedAt: 10,
    });
    expect(planCancel(running, 50)).toMatchObject({
      from: 'running',
      to: 'canceled',
      lease: { attempt: 2, workerId: 'w_1', nodeId: 'n_1' },
      record: {
        attempt: 2,
        workerId: 'w_1',
        workerName: 'alpha',
        startedAt: 10,
        finishedAt: 50,
        outcome: 'canceled',
        error: null,
      },
    });
  });

  it.each(['succeeded', 'failed', 'canceled'] as const)('plans nothing for a %s job', (state) => {
    expect(planCancel(view({ state }), 50)).toBeNull();
  });
});
