import { describe, expect, it } from 'vitest';
import { sprintf, unescapeFormat } from '../../../src/cli/printf.js';

describe('sprintf', () => {
  // Expected values are those of C's printf (checked with Python's % operator).
  it.each([
    ['%s', 'abc', 'abc'],
    ['%5d', 42, '   42'],
    ['%-5d', 42, '42   '],
    ['%05d', 42, '00042'],
    ['%+d', 42, '+42'],
    ['% d', 42, ' 42'],
    ['%05d', -42, '-0042'],
    ['%d', -7.9, '-7'],
    ['%d', -0.5, '0'],
    ['%i', 12, '12'],
    ['%u', 12, '12'],
    ['%.2f', 3.14159, '3.14'],
    ['%8.3f', -3.14159, '  -3.142'],
    ['%f', 1.5, '1.500000'],
    ['%-8.2f|', 3.14159, '3.14    |'],
    ['%+.1f', -0.04, '-0.0'],
    ['%5.1f', 0.05, '  0.1'],
    ['%e', 12345.678, '1.234568e+04'],
    ['%.2E', 0.000123, '1.23E-04'],
    ['%.0e', 12345, '1e+04'],
    ['%g', 0.0001, '0.0001'],
    ['%g', 123456, '123456'],
    ['%g', 1234567, '1.23457e+06'],
    ['%g', 100, '100'],
    ['%g', 0, '0'],
    ['%g', -0.5, '-0.5'],
    ['%g', 1e100, '1e+100'],
    ['%g', 0.00001234, '1.234e-05'],
    ['%.3g', 3.14159, '3.14'],
    ['%.3g', 9.9999, '10'],
    ['%.10g', 1 / 3, '0.3333333333'],
    ['%G', 1e-10, '1E-10'],
    ['%x', 255, 'ff'],
    ['%X', 255, 'FF'],
    ['%o', 8, '10'],
    ['%-10s', 'abc', 'abc       '],
    ['%10s', 'abc', '       abc'],
    ['%.2s', 'abcdef', 'ab'],
    ['%c', 'hello', 'h'],
    ['%c', 65, 'A'],
    ['100%%', 1, '100%'],
  ] as const)('%s of %s is %s', (format, value, expected) => {
    expect(sprintf(format, value)).toBe(expected);
  });

  it('formats a numeric string as a number', () => {
    expect(sprintf('%5d', '42')).toBe('   42');
    expect(sprintf('%.1f', '2.25')).toBe('2.3');
  });

  it('prints a non-number under a numeric conversion as a string, with the width', () => {
    expect(sprintf('%5d|', 'abc')).toBe('  abc|');
    expect(sprintf('%05d|', 'abc')).toBe('  abc|');
    expect(sprintf('%-5f|', 'x')).toBe('x    |');
  });

  it('treats booleans as 1 and 0 for numbers, and words for strings', () => {
    expect(sprintf('%d %s', true)).toBe('1 true');
    expect(sprintf('%d', false)).toBe('0');
  });

  it('prints objects as JSON and null as nothing', () => {
    expect(sprintf('%s', { a: 1 })).toBe('{"a":1}');
    expect(sprintf('[%s]', null)).toBe('[]');
  });

  it('uses the one value for every conversion and keeps other text', () => {
    expect(sprintf('id=%s (%5d) done', 7)).toBe('id=7 (    7) done');
  });

  it('leaves unknown conversions and a lone % as they are', () => {
    expect(sprintf('%q %', 1)).toBe('%q %');
  });

  it('counts characters, not UTF-16 units, for widths and precision', () => {
    expect(sprintf('%-4s|', 'é😀')).toBe('é😀  |');
    expect(sprintf('%.1s', '😀x')).toBe('😀');
  });
});

describe('unescapeFormat', () => {
  it('interprets \\n, \\t and the other C escapes', () => {
    expect(unescapeFormat('a\\tb\\n')).toBe('a\tb\n');
    expect(unescapeFormat('\\\\n')).toBe('\\n');
    expect(unescapeFormat('\\"q\\"\\r')).toBe('"q"\r');
  });

  it('keeps unknown escapes as written', () => {
    expect(unescapeFormat('\\q\\')).toBe('\\q\\');
  });
});
