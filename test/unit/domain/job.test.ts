import { describe, expect, it } from 'vitest';
import {
  allowedTransitions,
  canTransition,
  isTerminal,
  jobStates,
  terminalStates,
  type JobState,
} from '../../../src/domain/job.js';

/** The transition table of DESIGN.md "Job states", written out independently of the code. */
const expected: Record<JobState, readonly JobState[]> = {
  waiting: ['queued', 'scheduled', 'held', 'failed', 'canceled'],
  scheduled: ['queued', 'held', 'canceled'],
  queued: ['running', 'held', 'canceled'],
  running: ['succeeded', 'failed', 'scheduled', 'queued', 'held', 'canceled'],
  held: ['queued', 'scheduled', 'canceled'],
  succeeded: [],
  failed: ['queued'],
  canceled: ['queued'],
};

const allStates = Object.keys(expected) as JobState[];

const pairs = allStates.flatMap((from) =>
  allStates.map((to) => ({ from, to, allowed: expected[from].includes(to) })),
);

describe('job states', () => {
  it('are exactly the eight states of the contract, each once', () => {
    expect([...jobStates].sort()).toEqual([...allStates].sort());
    expect(new Set(jobStates).size).toBe(jobStates.length);
  });

  it('have exactly succeeded, failed and canceled as terminal states', () => {
    expect([...terminalStates].sort()).toEqual(['canceled', 'failed', 'succeeded']);
  });

  it.each(allStates)('isTerminal(%s) agrees with the contract', (state) => {
    expect(isTerminal(state)).toBe(['succeeded', 'failed', 'canceled'].includes(state));
  });
});

describe('transition matrix', () => {
  it.each(pairs.filter((p) => p.allowed))('$from → $to is allowed', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each(pairs.filter((p) => !p.allowed))('$from → $to is refused', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it.each(allStates)('allowedTransitions(%s) lists exactly the allowed targets', (from) => {
    expect([...allowedTransitions(from)].sort()).toEqual([...expected[from]].sort());
  });

  it.each(allStates)('%s cannot transition to itself', (state) => {
    expect(canTransition(state, state)).toBe(false);
  });

  it('succeeded has no way out', () => {
    expect(allowedTransitions('succeeded')).toEqual([]);
    for (const to of allStates) expect(canTransition('succeeded', to)).toBe(false);
  });

  it.each(['failed', 'canceled'] as const)('%s leaves only by a retry, to queued', (from) => {
    expect(allowedTransitions(from)).toEqual(['queued']);
    for (const to of allStates) expect(canTransition(from, to)).toBe(to === 'queued');
  });

  it.each(['waiting', 'scheduled', 'queued', 'running', 'held'] as const)(
    'non-terminal %s can be canceled',
    (from) => {
      expect(canTransition(from, 'canceled')).toBe(true);
    },
  );

  it('only a running job can succeed', () => {
    expect(allStates.filter((s) => canTransition(s, 'succeeded'))).toEqual(['running']);
  });

  it('only a queued job can start running', () => {
    expect(allStates.filter((s) => canTransition(s, 'running'))).toEqual(['queued']);
  });

  it('a dead worker or a retry puts a running job back to queued or scheduled', () => {
    expect(canTransition('running', 'queued')).toBe(true);
    expect(canTransition('running', 'scheduled')).toBe(true);
  });
});
