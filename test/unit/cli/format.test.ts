import { describe, expect, it } from 'vitest';
import { formatJob, formatPairs } from '../../../src/cli/client-commands.js';
import { UsageError } from '../../../src/cli/errors.js';
import {
  age,
  failedGroupsTable,
  formatTable,
  jobAttribute,
  jobDetails,
  jobsTable,
  shellQuote,
  statsText,
  summary,
  workersTable,
} from '../../../src/cli/format.js';
import type { JobBody, WorkerBody } from '../../../src/protocol/api.js';
import { jobBody } from '../../helpers/fixtures.js';

const NOW = Date.parse('2024-01-01T01:00:00.000Z');

const job = (patch: Partial<JobBody> = {}): JobBody =>
  jobBody({ payload: { command: ['echo', 'hello world'] }, ...patch });

describe('formatTable', () => {
  it('aligns columns two spaces apart without trailing spaces', () => {
    expect(
      formatTable(
        ['A', 'LONG'],
        [
          ['xxxx', 'y'],
          ['z', ''],
        ],
      ),
    ).toBe('A     LONG\nxxxx  y\nz\n');
  });
});

describe('age', () => {
  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [3_599_000, '59m'],
    [3_600_000, '1h'],
    [86_400_000 * 3 + 5, '3d'],
    [-5000, '0s'],
  ])('%d ms is %s', (ms, text) => {
    expect(age('2024-01-01T00:00:00.000Z', Date.parse('2024-01-01T00:00:00.000Z') + ms)).toBe(text);
  });
});

describe('summary', () => {
  it('shows an argv command shell-quoted and a string command as it is', () => {
    expect(summary(job())).toBe("echo 'hello world'");
    expect(summary(job({ payload: { command: 'make && make test' } }))).toBe('make && make test');
  });

  it('shows other payloads as JSON, on one line, cut to the width', () => {
    expect(summary(job({ type: 'x', payload: { a: 1 } }))).toBe('{"a":1}');
    expect(summary(job({ payload: { command: 'a\n  b' } }))).toBe('a b');
    expect(summary(job({ payload: { command: 'x'.repeat(100) } }), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(summary(job({ type: 'x', payload: undefined }))).toBe('');
  });

  it('shellQuote leaves plain words alone and quotes the rest', () => {
    expect(shellQuote('a-b/c.d=1')).toBe('a-b/c.d=1');
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });
});

describe('jobsTable', () => {
  it('has the columns ID STATE TYPE QUEUE PRI ATTEMPT WORKER AGE COMMAND', () => {
    const text = jobsTable(
      [
        job({ id: '12', state: 'running', attempt: 1, workerName: 'w1', priority: 5 }),
        job({ id: '3', queue: 'gpu' }),
      ],
      NOW,
    );
    expect(text).toBe(
      [
        'ID  STATE    TYPE   QUEUE    PRI  ATTEMPT  WORKER  AGE  COMMAND',
        "12  running  shell  default  5    1/5      w1      1h   echo 'hello world'",
        "3   queued   shell  gpu      0    0/5      -       1h   echo 'hello world'",
        '',
      ].join('\n'),
    );
  });

  it('prints only the header for no jobs', () => {
    expect(jobsTable([], NOW)).toBe('ID  STATE  TYPE  QUEUE  PRI  ATTEMPT  WORKER  AGE  COMMAND\n');
  });
});

describe('workersTable and statsText', () => {
  it('show workers with their jobs, queues, types and labels', () => {
    const w: WorkerBody = {
      id: 'w_1',
      name: 'box',
      labels: { env: ['c', 'python'], threads: ['8'] },
      types: ['shell'],
      queues: ['default', 'gpu'],
      slots: 4,
      running: ['1'],
      state: 'busy',
      connectedAt: '2024-01-01T00:00:00.000Z',
      lastSeenAt: '2024-01-01T00:59:58.000Z',
      address: null,
      cpu: null,
      memory: null,
    };
    expect(workersTable([w], NOW)).toBe(
      'ID   NAME  STATE  JOBS  QUEUES       TYPES  LABELS                      SEEN\n' +
        'w_1  box   busy   1/4   default,gpu  shell  env=c,env=python,threads=8  2s ago\n',
    );
  });

  it('show stats one per line', () => {
    const text = statsText({
      workers: 2,
      idleWorkers: 1,
      slots: 8,
      freeSlots: 3,
      jobs: {
        waiting: 0,
        scheduled: 1,
        queued: 2,
        running: 5,
        held: 0,
        succeeded: 9,
        failed: 1,
        canceled: 0,
      },
      frozen: false,
      uptimeSeconds: 12.7,
      store: 'sqlite',
      queueManager: 'single',
    });
    expect(text).toContain('workers:       2 (1 idle)\n');
    expect(text).toContain('running:       5\n');
    expect(text).toContain('frozen:        no\n');
    expect(text).toContain('uptime:        12 s\n');
  });
});

describe('jobDetails', () => {
  it('lists the fields a job has and leaves out empty ones', () => {
    const text = jobDetails(
      job({
        state: 'failed',
        requires: { env: 'c' },
        attributes: { endpoint: 'h:1' },
        error: { code: 'exit_code', message: 'exited with 2' },
        result: { exitCode: 2 },
        progress: { percent: 40, message: 'compiling', at: '2024-01-01T00:00:00.000Z' },
      }),
      NOW,
    );
    expect(text).toContain('state:      failed\n');
    expect(text).toContain('requires:   env=c\n');
    expect(text).toContain('progress:   40% compiling\n');
    expect(text).toContain('attributes: endpoint=h:1\n');
    expect(text).toContain('error:      exited with 2 (exit_code)\n');
    expect(text).toContain('exit code:  2\n');
    expect(text).not.toContain('meta:');
    expect(text).not.toContain('worker:');
  });

  it('shows the hold, dependencies, dependents, back-off, silence timeout, unique key and error group', () => {
    const text = jobDetails(
      job({
        state: 'held',
        hold: { reason: 'disk full', by: 'token:ab12', at: '2024-01-01T00:30:00.000Z' },
        dependencies: [
          { id: '3', state: 'succeeded' },
          { id: '4', state: 'running' },
        ],
        dependents: ['8', '9'],
        backoff: { type: 'exponential', delay: 10, maxDelay: 600, jitter: 0.1 },
        silenceTimeout: 120,
        unique: { key: 'nightly', for: 3600, while: ['queued', 'running'] },
        errorGroup: '0123456789ab',
      }),
      NOW,
    );
    expect(text).toContain(
      'held:            disk full (by token:ab12, 2024-01-01T00:30:00.000Z)\n',
    );
    expect(text).toContain('depends on:      3 (succeeded), 4 (running)\n');
    expect(text).toContain('dependents:      8, 9\n');
    expect(text).toContain('backoff:         exponential from 10 s, at most 600 s, jitter 0.1\n');
    expect(text).toContain('silence timeout: 120 s\n');
    expect(text).toContain('unique:          nightly (for 3600 s; while queued, running)\n');
    expect(text).toContain('error group:     0123456789ab\n');
  });

  it('shows a plain back-off and unique key, and none of the new rows when they are unset', () => {
    const text = jobDetails(
      job({ backoff: { type: 'fixed', delay: 30 }, unique: { key: 'k' }, dependencies: [] }),
      NOW,
    );
    expect(text).toContain('backoff:  fixed from 30 s\n');
    expect(text).toContain('unique:   k\n');
    for (const row of ['held:', 'depends on:', 'dependents:', 'silence timeout:', 'error group:'])
      expect(text).not.toContain(row);
  });
});

describe('failedGroupsTable', () => {
  const failed = (id: string, message: string, finishedAt: string): JobBody =>
    job({ id, state: 'failed', finishedAt, error: { code: 'exit_code', message } });

  it('by error shows the group key and its label, and counts the groups not shown', () => {
    expect(
      failedGroupsTable(
        {
          by: 'error',
          total: 10,
          groups: [
            {
              key: '0123456789ab',
              label: 'cannot open <path>: disk full',
              count: 6,
              newest: failed('41', 'cannot open /tmp/a: disk full', '2024-01-01T00:58:00.000Z'),
            },
            {
              key: 'ba9876543210',
              label: 'exited with <n>',
              count: 3,
              newest: failed('7', 'exited with 2', '2024-01-01T00:00:00.000Z'),
            },
          ],
        },
        NOW,
      ),
    ).toBe(
      'COUNT  GROUP         NEWEST  AGE  ERROR\n' +
        '6      0123456789ab  41      2m   cannot open <path>: disk full\n' +
        '3      ba9876543210  7       1h   exited with <n>\n' +
        '10 failed jobs in all, 1 in groups not shown\n',
    );
  });

  it('by type shows the newest error, cut to one line', () => {
    const long = `line one\n${'x'.repeat(100)}`;
    const text = failedGroupsTable(
      {
        by: 'type',
        total: 1,
        groups: [
          {
            key: 'resize',
            label: 'resize',
            count: 1,
            newest: failed('2', long, '2024-01-01T00:59:00.000Z'),
          },
        ],
      },
      NOW,
    );
    const [header, row, total] = text.split('\n');
    expect(header).toBe('COUNT  TYPE    NEWEST  AGE  ERROR');
    expect(row).toMatch(/^1 {6}resize {2}2 {7}1m {3}line one x+…$/);
    expect([...(row ?? '')].length).toBe(28 + 80);
    expect(total).toBe('1 failed job in all');
  });

  it('says when there are no failed jobs', () => {
    expect(failedGroupsTable({ by: 'error', total: 0, groups: [] }, NOW)).toBe('no failed jobs\n');
  });
});

describe('jobAttribute', () => {
  const j = job({
    id: '42',
    priority: 7,
    workerName: 'w1',
    attributes: { endpoint: 'host:4711', 'dotted.name': 'x', Mixed: 'm' },
    meta: { owner: 'ann' },
    result: { exitCode: 0 },
    progress: { percent: 50, message: null, at: '2024-01-01T00:00:00.000Z' },
  });

  it('finds ::attr attributes first, exactly or ignoring case', () => {
    expect(jobAttribute(j, 'endpoint')).toBe('host:4711');
    expect(jobAttribute(j, 'dotted.name')).toBe('x');
    expect(jobAttribute(j, 'mixed')).toBe('m');
  });

  it('then the job fields, ignoring case, with dots into objects', () => {
    expect(jobAttribute(j, 'id')).toBe('42');
    expect(jobAttribute(j, 'Priority')).toBe(7);
    expect(jobAttribute(j, 'maxattempts')).toBe(5);
    expect(jobAttribute(j, 'worker')).toBe('w1');
    expect(jobAttribute(j, 'meta.owner')).toBe('ann');
    expect(jobAttribute(j, 'result.exitCode')).toBe(0);
    expect(jobAttribute(j, 'progress.percent')).toBe(50);
  });

  it('is undefined for what the job does not have, including nulls', () => {
    expect(jobAttribute(j, 'nothing')).toBeUndefined();
    expect(jobAttribute(j, 'progress.message')).toBeUndefined();
    expect(jobAttribute(j, 'startedAt')).toBeUndefined();
    expect(jobAttribute(j, 'id.deeper')).toBeUndefined();
    expect(jobAttribute(job(), 'worker')).toBeUndefined();
  });
});

describe('--format', () => {
  it('pairs formats with attributes and interprets escapes', () => {
    expect(formatPairs(['%s\\t', 'id', '%d\\n', 'priority'])).toEqual([
      { format: '%s\t', attribute: 'id' },
      { format: '%d\n', attribute: 'priority' },
    ]);
  });

  it('needs an attribute for every format', () => {
    expect(() => formatPairs(['%s'])).toThrow(UsageError);
    expect(() => formatPairs(['%s', 'id', '%d'])).toThrow(/"%d" has no attribute after it/);
  });

  it('prints a template for jobs that have every attribute it names, in any mix with pairs', () => {
    const pairs = formatPairs(['%{id} %{attributes.endpoint}\\n', '%s|', 'state']);
    expect(pairs).toEqual([
      { template: '%{id} %{attributes.endpoint}\n' },
      { format: '%s|', attribute: 'state' },
    ]);
    const served = job({ id: '7', state: 'running', attributes: { endpoint: '127.0.0.1:5672' } });
    expect(formatJob(served, pairs)).toBe('7 127.0.0.1:5672\nrunning|');
    expect(formatJob(job({ id: '8', state: 'queued' }), pairs)).toBe('queued|');
    expect(formatJob(served, formatPairs(['%{ endpoint }/%{queue}']))).toBe(
      '127.0.0.1:5672/default',
    );
  });

  it('prints each pair only for jobs that have the attribute, adding no newline', () => {
    const pairs = formatPairs(['%-4s', 'id', '%s', 'endpoint', '\\n', 'id']);
    expect(formatJob(job({ id: '1', attributes: { endpoint: 'h:1' } }), pairs)).toBe('1   h:1\n');
    expect(formatJob(job({ id: '2' }), pairs)).toBe('2   \n');
    expect(formatJob(job({ id: '3' }), formatPairs(['%s', 'endpoint']))).toBe('');
  });
});
