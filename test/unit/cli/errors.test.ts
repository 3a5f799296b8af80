import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  describeFailure,
  exitCodes,
  exitStatusHelp,
  JobEndedError,
  UsageError,
} from '../../../src/cli/errors.js';
import { ConfigError } from '../../../src/config/load.js';
import {
  errorCodes,
  StartupError,
  SwitchyardError,
  type ErrorCode,
} from '../../../src/domain/errors.js';

describe('exit codes', () => {
  it('map every SwitchyardError code', () => {
    expect(Object.keys(exitCodes).sort()).toEqual(Object.keys(errorCodes).sort());
  });

  it.each([
    ['invalid_request', 2],
    ['payload_too_large', 2],
    ['unsupported_media_type', 2],
    ['not_found', 3],
    ['unavailable', 4],
    ['store_unavailable', 4],
    ['unauthorized', 5],
    ['forbidden', 5],
    ['conflict', 6],
    ['unmatchable', 7],
    ['frozen', 8],
    ['internal', 70],
  ] as [ErrorCode, number][])('%s exits %d with its message', (code, status) => {
    expect(describeFailure(new SwitchyardError(code, 'what happened'))).toEqual({
      status,
      message: 'what happened',
    });
  });

  it('usage and config errors exit 2, a failed job 1', () => {
    expect(describeFailure(new UsageError('bad flag'))).toEqual({ status: 2, message: 'bad flag' });
    expect(describeFailure(new ConfigError(['a: x', 'b: y']))).toEqual({
      status: 2,
      message: 'a: x\nb: y',
    });
    expect(describeFailure(new JobEndedError('job 1 failed'))).toEqual({
      status: 1,
      message: 'job 1 failed',
    });
  });

  it('a broker that could not start exits 9 with its one line, no stack', () => {
    const error = new StartupError('the port is in use; choose another', { cause: new Error('x') });
    expect(describeFailure(error)).toEqual({
      status: 9,
      message: 'the port is in use; choose another',
    });
  });

  it('commander errors exit 2 without a second message; help and version exit 0', () => {
    expect(describeFailure(new CommanderError(1, 'commander.unknownOption', 'x'))).toEqual({
      status: 2,
      message: null,
    });
    expect(describeFailure(new CommanderError(0, 'commander.helpDisplayed', 'x')).status).toBe(0);
    expect(describeFailure(new CommanderError(0, 'commander.version', 'x')).status).toBe(0);
  });

  it('unexpected errors exit 70 with their stack as detail', () => {
    const failure = describeFailure(new TypeError('boom'));
    expect(failure.status).toBe(70);
    expect(failure.message).toBe('internal error: boom');
    expect(failure.detail).toMatch(/^TypeError: boom\n/);
    expect(describeFailure('str')).toEqual({ status: 70, message: 'internal error: str' });
  });

  it('are all documented in the help text', () => {
    const help = exitStatusHelp();
    for (const status of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 70]) {
      expect(help).toMatch(new RegExp(`^  ${status} +\\S`, 'm'));
    }
    for (const code of Object.keys(errorCodes)) expect(help).toContain(code);
  });
});
