import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/errors.js';
import { buildSubmitJob, commandOf, type SubmitFlags } from '../../../src/cli/submit.js';

const none: SubmitFlags = {};

function usage(flags: SubmitFlags, words: string[] = ['true']): string {
  try {
    buildSubmitJob(flags, words);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('commandOf', () => {
  it('makes several words an argv array', () => {
    expect(commandOf(['make', '-j4'])).toEqual(['make', '-j4']);
    expect(commandOf(['echo', 'a b'])).toEqual(['echo', 'a b']);
  });

  it('makes one word with spaces or shell syntax a shell string', () => {
    expect(commandOf(['make -j4 && echo done'])).toBe('make -j4 && echo done');
    expect(commandOf(['ls|wc'])).toBe('ls|wc');
    expect(commandOf(['echo $HOME'])).toBe('echo $HOME');
  });

  it('makes one plain word a one-element argv', () => {
    expect(commandOf(['ls'])).toEqual(['ls']);
    expect(commandOf(['/usr/bin/true'])).toEqual(['/usr/bin/true']);
  });
});

describe('buildSubmitJob', () => {
  it('turns words into a shell job with defaults left to the broker', () => {
    expect(buildSubmitJob(none, ['echo', 'hi'])).toEqual({
      type: 'shell',
      payload: { command: ['echo', 'hi'] },
    });
  });

  it('maps every option', () => {
    const job = buildSubmitJob(
      {
        type: 'shell',
        queue: 'gpu',
        require: ['env=python', 'threads=4', 'hwgroup=a|b'],
        priority: '-5',
        maxAttempts: '3',
        timeout: '5m',
        killSignal: 'int',
        killGrace: '0',
        meta: ['owner=ann', 'ticket=a=b'],
        payload: '{"cwd": "/tmp", "env": {"A": "1"}}',
      },
      ['python train.py'],
    );
    expect(job).toEqual({
      type: 'shell',
      queue: 'gpu',
      requires: { env: 'python', threads: '4', hwgroup: 'a|b' },
      priority: -5,
      maxAttempts: 3,
      timeout: 300,
      killSignal: 'SIGINT',
      killGrace: 0,
      meta: { owner: 'ann', ticket: 'a=b' },
      payload: { cwd: '/tmp', env: { A: '1' }, command: 'python train.py' },
    });
  });

  it('maps the lifecycle options: delay, hold, back-off, silence timeout, uniqueness, dependencies', () => {
    expect(
      buildSubmitJob(
        {
          delay: '5m',
          holdReason: 'wait for the data',
          backoffType: 'fixed',
          backoffDelay: '30s',
          backoffMax: '1h',
          backoffJitter: '0.5',
          silenceTimeout: '90',
          uniqueKey: 'nightly',
          uniqueFor: '2h',
          uniqueWhile: 'queued, running',
          dependsOn: ['3', ' 4'],
        },
        ['x'],
      ),
    ).toEqual({
      type: 'shell',
      payload: { command: ['x'] },
      delay: 300,
      hold: 'wait for the data',
      backoff: { type: 'fixed', delay: 30, maxDelay: 3600, jitter: 0.5 },
      silenceTimeout: 90,
      unique: { key: 'nightly', for: 7200, while: ['queued', 'running'] },
      dependsOn: ['3', '4'],
    });
  });

  it('asks for a callback with --notify, for the ends --notify-on names', () => {
    expect(buildSubmitJob({ notify: 'https://ci.example/hook' }, ['x']).notify).toEqual({
      url: 'https://ci.example/hook',
    });
    expect(
      buildSubmitJob({ notify: 'http://h/x', notifyOn: 'failed, canceled,failed' }, ['x']).notify,
    ).toEqual({ url: 'http://h/x', events: ['failed', 'canceled'] });
  });

  it('holds without a reason, and backs off exponentially unless told otherwise', () => {
    expect(buildSubmitJob({ hold: true, backoffDelay: '0', uniqueKey: 'k' }, ['x'])).toEqual({
      type: 'shell',
      payload: { command: ['x'] },
      hold: true,
      backoff: { type: 'exponential', delay: 0 },
      unique: { key: 'k' },
    });
  });

  it.each([
    ['90', 90],
    ['1.5', 1.5],
    ['30s', 30],
    ['2h', 7200],
  ])('reads --timeout %s as %d seconds', (given, seconds) => {
    expect(buildSubmitJob({ timeout: given }, ['x']).timeout).toBe(seconds);
  });

  it('takes the command from --payload when no words are given', () => {
    expect(buildSubmitJob({ payload: '{"command": ["ls", "-l"]}' }, [])).toEqual({
      type: 'shell',
      payload: { command: ['ls', '-l'] },
    });
  });

  it('passes the payload of other job types through, and refuses words for them', () => {
    expect(buildSubmitJob({ type: 'resize', payload: '[1, 2]' }, [])).toEqual({
      type: 'resize',
      payload: [1, 2],
    });
    expect(buildSubmitJob({ type: 'noop' }, [])).toEqual({ type: 'noop' });
    expect(usage({ type: 'resize' }, ['x'])).toMatch(/only for shell jobs.*--payload/);
  });

  it.each([
    [{}, [], /^missing COMMAND/],
    [{ payload: '{"command": "x"}' }, ['y'], /either after -- or in --payload/],
    [{ payload: '{bad' }, ['y'], /^--payload: not valid JSON/],
    [{ payload: '"str"' }, ['y'], /^--payload: a shell job's payload must be a JSON object/],
    [{ require: ['env'] }, ['y'], /^--require: "env" must have the form key=value/],
    [{ require: ['=x'] }, ['y'], /^--require: "=x" must have the form/],
    [{ require: ['env=a', 'env=b'] }, ['y'], /^--require: "env" is given twice/],
    [{ meta: ['k'] }, ['y'], /^--meta: "k" must have the form/],
    [{ priority: '1.5' }, ['y'], /^--priority: must be an integer, got "1.5"/],
    [{ maxAttempts: 'many' }, ['y'], /^--max-attempts: must be an integer/],
    [{ timeout: '0' }, ['y'], /^--timeout: must be a positive number of seconds/],
    [{ timeout: '-1' }, ['y'], /^--timeout: /],
    [{ timeout: '5d' }, ['y'], /^--timeout: /],
    [{ killGrace: 'soon' }, ['y'], /^--kill-grace: must be a number of seconds/],
    [{ killSignal: 'SIGSEGV' }, ['y'], /^--kill-signal: must be one of SIGTERM, /],
    [{ delay: 'soon' }, ['y'], /^--delay: must be a number of seconds/],
    [{ holdReason: '' }, ['y'], /^--hold-reason: must not be empty/],
    [{ backoffType: 'fixed' }, ['y'], /^--backoff-type: needs --backoff-delay too/],
    [{ backoffMax: '1' }, ['y'], /^--backoff-max: needs --backoff-delay too/],
    [{ backoffJitter: '1' }, ['y'], /^--backoff-jitter: needs --backoff-delay too/],
    [
      { backoffDelay: '1', backoffType: 'linear' },
      ['y'],
      /^--backoff-type: must be exponential or fixed, got "linear"/,
    ],
    [{ backoffDelay: '-1' }, ['y'], /^--backoff-delay: must be a number of seconds/],
    [{ backoffDelay: '1', backoffMax: 'x' }, ['y'], /^--backoff-max: must be a number/],
    [
      { backoffDelay: '1', backoffJitter: '1.5' },
      ['y'],
      /^--backoff-jitter: must be a number from 0 to 1, got "1.5"/,
    ],
    [{ backoffDelay: '1', backoffJitter: '' }, ['y'], /^--backoff-jitter: must be a number/],
    [{ silenceTimeout: '0' }, ['y'], /^--silence-timeout: must be a positive number of seconds/],
    [{ uniqueFor: '5' }, ['y'], /^--unique-for: needs --unique-key too/],
    [{ uniqueWhile: 'queued' }, ['y'], /^--unique-while: needs --unique-key too/],
    [{ uniqueKey: '' }, ['y'], /^--unique-key: must not be empty/],
    [{ uniqueKey: 'k', uniqueFor: '0' }, ['y'], /^--unique-for: must be a positive number/],
    [{ uniqueKey: 'k', uniqueWhile: 'done' }, ['y'], /^--unique-while: "done" is not a job state/],
    [{ dependsOn: ['3', 'abc'] }, ['y'], /^--depends-on: "abc" is not a job id: must be an id/],
    [{ notify: 'ftp://h/x' }, ['y'], /^--notify: must be an http:\/\/ or https:\/\/ URL/],
    [{ notifyOn: 'failed' }, ['y'], /^--notify-on: needs --notify too/],
    [{ notify: 'http://h/', notifyOn: 'done' }, ['y'], /^--notify-on: "done" is not one of/],
  ] as [SubmitFlags, string[], RegExp][])('rejects %j %j', (flags, words, message) => {
    expect(usage(flags, words)).toMatch(message);
  });
});
