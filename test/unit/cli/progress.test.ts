import { describe, expect, it } from 'vitest';
import { describeState, ProgressView, renderBar } from '../../../src/cli/progress.js';
import type { JobBody } from '../../../src/protocol/api.js';

function job(patch: Partial<JobBody>): JobBody {
  return {
    state: 'queued',
    attempt: 0,
    maxAttempts: 5,
    progress: null,
    workerName: null,
    ...patch,
  } as JobBody;
}

function output(isTTY: boolean): {
  write(s: string): void;
  isTTY: boolean;
  columns: number;
  text: string;
} {
  return {
    isTTY,
    columns: 80,
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
}

const at = '2024-01-01T00:00:00.000Z';

describe('renderBar', () => {
  it('draws the percent as a 30-character bar with the message', () => {
    expect(renderBar(40, 'compiling')).toBe(`[${'#'.repeat(12)}${'.'.repeat(18)}]  40% compiling`);
    expect(renderBar(100, null)).toBe(`[${'#'.repeat(30)}] 100%`);
    expect(renderBar(null, 'thinking')).toBe(`[${'.'.repeat(30)}]    ? thinking`);
  });

  it('clamps the percent and cuts to the terminal width', () => {
    expect(renderBar(150, null)).toContain('100%');
    expect(renderBar(-3, null)).toContain('  0%');
    expect(renderBar(10, 'x'.repeat(100), 50)).toHaveLength(49);
  });
});

describe('describeState', () => {
  it('says where and which attempt a job runs, and why a queued one waits', () => {
    expect(describeState(job({ state: 'running', workerName: 'w1', attempt: 2 }))).toBe(
      'running on w1 (attempt 2 of 5)',
    );
    expect(describeState(job({ state: 'queued', reason: 'no worker matches env=c' }))).toBe(
      'queued (no worker matches env=c)',
    );
    expect(describeState(job({ state: 'succeeded' }))).toBe('succeeded');
  });
});

describe('ProgressView', () => {
  const updates = [
    job({ state: 'queued' }),
    job({ state: 'running', attempt: 1, workerName: 'w' }),
    job({
      state: 'running',
      attempt: 1,
      workerName: 'w',
      progress: { percent: 10, message: 'a', at },
    }),
    job({
      state: 'running',
      attempt: 1,
      workerName: 'w',
      progress: { percent: 10, message: 'a', at },
    }),
    job({
      state: 'running',
      attempt: 1,
      workerName: 'w',
      progress: { percent: 60, message: 'b', at },
    }),
    job({ state: 'succeeded', attempt: 1, progress: { percent: 60, message: 'b', at } }),
  ];

  it('writes plain lines when stderr is not a terminal', () => {
    const out = output(false);
    const view = new ProgressView(out, '7');
    for (const u of updates) view.update(u);
    view.finish();
    expect(out.text).toBe(
      [
        'job 7: queued',
        'job 7: running on w (attempt 1 of 5)',
        'job 7: 10% a',
        'job 7: 60% b',
        'job 7: succeeded',
        '',
      ].join('\n'),
    );
  });

  it('redraws a bar in place on a terminal and clears it before state lines', () => {
    const out = output(true);
    const view = new ProgressView(out, '7');
    for (const u of updates) view.update(u);
    view.finish();
    const clear = '\r\x1b[2K';
    expect(out.text).toBe(
      'job 7: queued\n' +
        'job 7: running on w (attempt 1 of 5)\n' +
        `${clear}${renderBar(10, 'a', 80)}` +
        `${clear}${renderBar(60, 'b', 80)}` +
        `${clear}job 7: succeeded\n`,
    );
  });

  it('shows a new attempt as a state change', () => {
    const out = output(false);
    const view = new ProgressView(out, '1');
    view.update(job({ state: 'running', attempt: 1 }));
    view.update(job({ state: 'running', attempt: 2 }));
    expect(out.text.split('\n').filter(Boolean)).toHaveLength(2);
  });
});
