import { describe, expect, it } from 'vitest';
import {
  SwitchyardError,
  errorCodes,
  invalid,
  isErrorCode,
  notFound,
  type ErrorCode,
} from '../../../src/domain/errors.js';

const statuses: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unmatchable: 422,
  upgrade_required: 426,
  frozen: 503,
  unavailable: 503,
  store_unavailable: 503,
  internal: 500,
};

describe('error codes', () => {
  it('are exactly the documented set, each with its status', () => {
    expect({ ...errorCodes }).toEqual(statuses);
  });

  it.each(Object.entries(statuses) as [ErrorCode, number][])('%s has status %i', (code, status) => {
    expect(new SwitchyardError(code, 'm').status).toBe(status);
  });
});

describe('SwitchyardError', () => {
  it('is an Error with its name, code, message and details', () => {
    const err = new SwitchyardError('conflict', 'job 7 is running', { state: 'running' });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(err.name).toBe('SwitchyardError');
    expect(err.code).toBe('conflict');
    expect(err.message).toBe('job 7 is running');
    expect(err.details).toEqual({ state: 'running' });
    expect(err.stack).toContain('job 7 is running');
  });

  it('has undefined details when none are given', () => {
    expect(new SwitchyardError('internal', 'boom').details).toBeUndefined();
  });

  it('toJSON without details is {error:{code,message}} with no details key', () => {
    const json = new SwitchyardError('not_found', 'job 1 does not exist').toJSON();
    expect(json).toEqual({ error: { code: 'not_found', message: 'job 1 does not exist' } });
    expect(Object.keys(json.error)).toEqual(['code', 'message']);
  });

  it('toJSON with details is {error:{code,message,details}}', () => {
    const json = new SwitchyardError('invalid_request', 'bad', { field: 'priority' }).toJSON();
    expect(json).toStrictEqual({
      error: { code: 'invalid_request', message: 'bad', details: { field: 'priority' } },
    });
  });

  it.each([null, 0, '', false])('toJSON keeps falsy details %j', (details) => {
    expect(new SwitchyardError('internal', 'x', details).toJSON().error).toHaveProperty(
      'details',
      details,
    );
  });

  it('JSON.stringify produces the API error shape', () => {
    expect(
      JSON.parse(JSON.stringify(new SwitchyardError('frozen', 'The broker is frozen.'))),
    ).toEqual({
      error: { code: 'frozen', message: 'The broker is frozen.' },
    });
  });
});

describe('isErrorCode', () => {
  it.each(Object.keys(statuses))('accepts %s', (code) => {
    expect(isErrorCode(code)).toBe(true);
  });

  it.each(['nope', 'NOT_FOUND', '', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])(
    'refuses the string %j',
    (value) => {
      expect(isErrorCode(value)).toBe(false);
    },
  );

  it.each([404, null, undefined, {}, ['not_found'], true])('refuses the non-string %j', (value) => {
    expect(isErrorCode(value)).toBe(false);
  });
});

describe('error helpers', () => {
  it('invalid makes a 400 invalid_request with the message and details', () => {
    const err = invalid('priority: must be an integer', { field: 'priority' });
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(err.code).toBe('invalid_request');
    expect(err.status).toBe(400);
    expect(err.message).toBe('priority: must be an integer');
    expect(err.details).toEqual({ field: 'priority' });
  });

  it('invalid without details has none in its JSON', () => {
    expect(invalid('bad').toJSON()).toEqual({ error: { code: 'invalid_request', message: 'bad' } });
  });

  it('notFound makes a 404 naming what and which', () => {
    const err = notFound('job', '42');
    expect(err.code).toBe('not_found');
    expect(err.status).toBe(404);
    expect(err.message).toBe('job 42 does not exist');
    expect(err.details).toBeUndefined();
  });
});
