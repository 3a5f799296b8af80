import { describe, expect, it } from 'vitest';
import { describeState, followJob, LiveView } from '../../../src/cli/progress.js';
import type { JobBody, JobMessageBody } from '../../../src/protocol/api.js';

const at = '2024-01-01T00:00:00.000Z';
let seq = 0;
const base = () => ({ seq: String(++seq), job: '7', at, attempt: 1 });
const state = (from: string | null, to: string, extra: Record<string, unknown> = {}) =>
  ({
    ...base(),
    kind: 'state',
    data: { from, to, workerId: to === 'running' ? 'w_1' : null, error: null, ...extra },
  }) as JobMessageBody;
const progress = (percent: number | null, message: string | null, step?: object) =>
  ({
    ...base(),
    kind: 'progress',
    data: { percent, message, ...(step ? { step } : {}) },
  }) as JobMessageBody;
const log = (text: string, stream: 'stdout' | 'stderr' = 'stdout') =>
  ({ ...base(), kind: 'log', data: { stream, text } }) as JobMessageBody;

/** A stream as the view writes to it; a terminal has cli-progress' cursor controls. */
function stream(isTTY: boolean) {
  const out = {
    isTTY,
    columns: 80,
    text: '',
    write(s: string) {
      out.text += s;
      return true;
    },
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
    on: () => out,
    removeListener: () => out,
  };
  return out;
}

const journey: JobMessageBody[] = [
  state(null, 'queued'),
  state('queued', 'running'),
  progress(10, 'a'),
  log('hello\n::prog'),
  log('ress 40 x\nwor'),
  progress(10, 'a'),
  log('ld\n'),
  log('oops\n', 'stderr'),
  progress(null, 'b', { id: 'build', status: 'completed' }),
  progress(60, 'b'),
  log('tail without newline'),
  state('running', 'failed', { error: { code: 'exit_code', message: 'exit code 3' } }),
];

describe('describeState', () => {
  it('says where and which attempt runs, why a job is held, and why it failed', () => {
    expect(describeState(state('queued', 'running') as never)).toBe('running on w_1 (attempt 1)');
    expect(
      describeState(state('queued', 'held', { hold: { reason: 'ops', by: 'x', at: 0 } }) as never),
    ).toBe('held (ops)');
    expect(
      describeState(state('running', 'failed', { error: { code: 'x', message: 'boom' } }) as never),
    ).toBe('failed: boom');
  });
});

describe('LiveView', () => {
  it('writes plain lines off a terminal and streams output without directive lines', () => {
    const out = stream(false);
    const err = stream(false);
    const view = new LiveView(out, err, '7');
    for (const m of journey) view.show(m);
    view.finish();
    // Output cut anywhere is put back together, and the ::progress line left out.
    expect(out.text).toBe('hello\nworld\ntail without newline');
    expect(err.text).toBe(
      [
        'job 7: queued',
        'job 7: running on w_1 (attempt 1)',
        'job 7: 10% a',
        'oops',
        'job 7: step build completed (b)',
        'job 7: 60% b',
        'job 7: failed: exit code 3',
        '',
      ].join('\n'),
    );
  });

  it('draws a bar on a terminal (cli-progress), with lines and output above it', () => {
    const out = stream(true);
    const err = stream(true);
    const view = new LiveView(out, err, '7');
    for (const m of journey.slice(0, 4)) view.show(m);
    view.show(progress(40, 'compiling'));
    view.show(progress(null, null, { id: 't1', status: 'skipped' }));
    view.finish();
    expect(err.text).toContain('job 7: running on w_1 (attempt 1)');
    expect(err.text).toMatch(/\[={12}-{18}\] +40% compiling/);
    // Lines that come while the bar is shown are printed above it, on the terminal.
    expect(err.text).toContain('job 7: step t1 skipped\n');
    expect(err.text).toContain('hello\n');
    expect(out.text).toBe('');
  });

  it('leaves output out when asked', () => {
    const out = stream(false);
    const view = new LiveView(out, stream(false), '7', { output: false });
    view.show(log('x\n'));
    view.finish();
    expect(out.text).toBe('');
  });
});

describe('followJob', () => {
  it('shows every message the watch gives, then answers the job as it ended', async () => {
    const ended = { id: '7', state: 'failed' } as JobBody;
    const client = {
      async *watch() {
        yield* journey;
      },
      get: async () => ended,
    };
    const out = stream(false);
    const err = stream(false);
    expect(await followJob(client, '7', { stdout: out, stderr: err })).toBe(ended);
    expect(err.text.split('\n').at(-2)).toBe('job 7: failed: exit code 3');
  });
});
