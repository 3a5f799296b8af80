/** JSON Schema as OpenAPI 3.0 Schema Objects: what 3.0 cannot say is said its way or left out. */
import { describe, expect, it } from 'vitest';
import { schemaObject30 } from '../../../src/api/openapi.js';

describe('schemaObject30', () => {
  it('drops our errorMessage keyword at every depth, and keeps properties of that name', () => {
    expect(
      schemaObject30({
        type: 'object',
        errorMessage: 'top',
        properties: {
          errorMessage: { type: 'string', errorMessage: 'a field' },
          list: { type: 'array', items: { type: 'string', errorMessage: 'an item' } },
          map: { type: 'object', additionalProperties: { type: 'string', errorMessage: 'x' } },
          either: {
            anyOf: [{ type: 'string', errorMessage: 'y' }, { not: { errorMessage: 'z' } }],
          },
        },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        errorMessage: { type: 'string' },
        list: { type: 'array', items: { type: 'string' } },
        map: { type: 'object', additionalProperties: { type: 'string' } },
        either: { anyOf: [{ type: 'string' }, { not: {} }] },
      },
    });
  });

  it('writes a numeric exclusive bound in the boolean form of 3.0', () => {
    expect(schemaObject30({ type: 'number', exclusiveMinimum: 0, maximum: 10 })).toEqual({
      type: 'number',
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 10,
    });
    expect(schemaObject30({ type: 'number', exclusiveMaximum: 1 })).toEqual({
      type: 'number',
      maximum: 1,
      exclusiveMaximum: true,
    });
  });

  it('keeps whichever of an exclusive and an inclusive bound is tighter', () => {
    expect(schemaObject30({ exclusiveMinimum: 5, minimum: 1 })).toEqual({
      minimum: 5,
      exclusiveMinimum: true,
    });
    expect(schemaObject30({ exclusiveMinimum: 1, minimum: 5 })).toEqual({ minimum: 5 });
    expect(schemaObject30({ exclusiveMaximum: 1, maximum: 5 })).toEqual({
      maximum: 1,
      exclusiveMaximum: true,
    });
    expect(schemaObject30({ exclusiveMaximum: 5, maximum: 1 })).toEqual({ maximum: 1 });
  });

  it('leaves the 3.0 boolean form and values that are not schemas as they are', () => {
    expect(schemaObject30({ minimum: 0, exclusiveMinimum: true })).toEqual({
      minimum: 0,
      exclusiveMinimum: true,
    });
    expect(schemaObject30({ enum: [{ errorMessage: 'data' }] })).toEqual({
      enum: [{ errorMessage: 'data' }],
    });
    expect(schemaObject30(true)).toBe(true);
  });
});
