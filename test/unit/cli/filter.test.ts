import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/errors.js';
import {
  isEmptyFilter,
  jobFilter,
  parseStates,
  parseTime,
  type FilterFlags,
} from '../../../src/cli/filter.js';

const NOW = Date.parse('2024-05-10T12:00:00.000Z');

function usage(flags: FilterFlags): string {
  try {
    jobFilter(flags, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('jobFilter', () => {
  it('is empty without filter flags', () => {
    expect(jobFilter({}, NOW)).toEqual({});
    expect(isEmptyFilter(jobFilter({}, NOW))).toBe(true);
    expect(isEmptyFilter(jobFilter({ queue: 'q' }, NOW))).toBe(false);
  });

  it('maps every flag to its field', () => {
    expect(
      jobFilter(
        {
          state: 'failed, canceled',
          queue: 'emails',
          type: 'shell',
          worker: 'w-1',
          group: '0123456789AB',
          search: 'disk full',
          attr: 'host=a=b',
          createdAfter: '2024-05-01',
          createdBefore: '2024-05-02T10:00:00+02:00',
          finishedAfter: '2h',
          finishedBefore: '30m',
        },
        NOW,
      ),
    ).toEqual({
      state: 'failed,canceled',
      queue: 'emails',
      type: 'shell',
      worker: 'w-1',
      group: '0123456789ab',
      search: 'disk full',
      attr: 'host=a=b',
      createdAfter: '2024-05-01T00:00:00.000Z',
      createdBefore: '2024-05-02T08:00:00.000Z',
      finishedAfter: '2024-05-10T10:00:00.000Z',
      finishedBefore: '2024-05-10T11:30:00.000Z',
    });
  });

  it('takes an attribute name alone', () => {
    expect(jobFilter({ attr: 'endpoint' }, NOW)).toEqual({ attr: 'endpoint' });
  });

  it.each([
    [{ state: 'failed,bogus' }, /^--state: "bogus" is not a job state; the states are waiting, /],
    [{ state: ' , ' }, /^--state: must name one or more states/],
    [{ group: 'abc' }, /^--group: must be an error group key \(12 hex digits/],
    [{ search: '' }, /^--search: must not be empty/],
    [{ attr: '=v' }, /^--attr: must be KEY or KEY=VALUE, got "=v"/],
    [{ createdAfter: 'yesterday' }, /^--created-after: must be a date and time .* got "yesterday"/],
    [{ createdBefore: '5w' }, /^--created-before: /],
    [{ finishedAfter: '' }, /^--finished-after: /],
    [{ finishedBefore: '2024-13-45' }, /^--finished-before: /],
  ] as [FilterFlags, RegExp][])('rejects %j, naming the flag', (flags, message) => {
    expect(usage(flags)).toMatch(message);
  });
});

describe('parseTime', () => {
  it.each([
    ['90s', '2024-05-10T11:58:30.000Z'],
    ['1.5h', '2024-05-10T10:30:00.000Z'],
    ['7d', '2024-05-03T12:00:00.000Z'],
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
  ])('reads %s as %s', (given, iso) => {
    expect(parseTime('--x', given, NOW)).toBe(iso);
  });
});

describe('parseStates', () => {
  it('reads a comma-separated list with spaces', () => {
    expect(parseStates('--unique-while', 'queued , running')).toEqual(['queued', 'running']);
  });
});
