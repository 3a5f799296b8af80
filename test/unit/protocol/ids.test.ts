import { describe, expect, it } from 'vitest';
import { ID_PATTERN, SEQ_PATTERN } from '../../../src/protocol/ids.js';

const id = new RegExp(ID_PATTERN);
const seq = new RegExp(SEQ_PATTERN);
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

describe('id patterns', () => {
  it.each(['1', '9', '10', '999999999999999', '8999999999999999', '9006999999999999'])(
    'accept %s',
    (text) => {
      expect(id.test(text)).toBe(true);
      expect(seq.test(text)).toBe(true);
    },
  );

  it('accept exactly up to Number.MAX_SAFE_INTEGER', () => {
    expect(id.test('9007199254740991')).toBe(true);
    expect(id.test('9007199254740990')).toBe(true);
    expect(id.test('9007199254740992')).toBe(false);
  });

  it.each([
    '0',
    '01',
    '9007199254740992',
    '9007199254741000',
    '9999999999999999',
    '10000000000000000',
    '999999999999999999',
    '',
    'abc',
    '-1',
    '1.0',
    ' 1',
    '1e3',
  ])('refuse %j as an id', (text) => {
    expect(id.test(text)).toBe(false);
  });

  it('let a sequence number be 0, but not 00', () => {
    expect(seq.test('0')).toBe(true);
    expect(seq.test('00')).toBe(false);
  });

  it('agree with exact arithmetic on numbers around the limit', () => {
    const samples: bigint[] = [];
    for (let k = 0n; k < 2_000n; k++) samples.push(MAX - 1_000n + k);
    let x = 12345n;
    for (let i = 0; i < 2_000; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) % (1n << 60n);
      samples.push(x % (1n << BigInt(1 + (i % 58))));
    }
    for (const n of samples) {
      expect(id.test(n.toString()), n.toString()).toBe(n >= 1n && n <= MAX);
      expect(seq.test(n.toString()), n.toString()).toBe(n >= 0n && n <= MAX);
    }
  });
});
