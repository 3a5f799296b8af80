import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan, tooDeepAt } from '../../../src/protocol/depth.js';

const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);

describe('nestsDeeperThan', () => {
  it('counts arrays and objects, up to the limit and not beyond', () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(nestsDeeperThan('{"a":{"b":[1,{"c":2}]}}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a":{"b":[1,{"c":[]}]}}', 4)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ s: '[[[[[[' + '"\\[[[[' + '{{{{{' });
    expect(nestsDeeperThan(text, 1)).toBe(false);
  });

  it('reads a body of a million brackets without overflowing', () => {
    expect(nestsDeeperThan(nested(500_000))).toBe(true);
  });
});

describe('tooDeepAt', () => {
  it('names the path to the first value that is too deep', () => {
    const value = { type: 't', payload: { list: [1, [[[]]]] } };
    expect(tooDeepAt(value, 4)).toBe('.payload.list[1][0]');
    expect(tooDeepAt(value, 6)).toBeNull();
    expect(tooDeepAt({ 'odd key': [[]] }, 2)).toBe('["odd key"][0]');
  });

  it('walks a value nested 100,000 levels deep without overflowing, and shortens the path', () => {
    const deep = JSON.parse(nested(100_000)) as unknown;
    const path = tooDeepAt({ meta: deep });
    expect(path).toMatch(/^\.meta(\[0\])+\.\.\.$/);
    expect(path!.length).toBeLessThanOrEqual(80);
  });
});
