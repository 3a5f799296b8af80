import { describe, expect, it } from 'vitest';
import {
  emptyOutput,
  lastBytes,
  outputFrom,
  planOutput,
  recordStored,
  splitAtBytes,
  utf8Bytes,
  type OutputLimits,
  type OutputState,
} from '../../../src/domain/output.js';

/** A store in memory of the pieces kept, by seq, to check plans against. */
class Kept {
  readonly pieces = new Map<number, string>();
  private seq = 0;
  readonly state: OutputState = emptyOutput();
  dropped = 0;
  constructor(private readonly limits: OutputLimits) {}
  write(...datas: string[]): void {
    const plan = planOutput(
      this.state,
      datas.map((data, i) => ({ entry: i, data })),
      this.limits,
    );
    for (const seq of plan.evict) this.pieces.delete(seq);
    const seqs = plan.store.map((p) => {
      this.pieces.set(++this.seq, p.data);
      return this.seq;
    });
    recordStored(this.state, plan, seqs);
    this.dropped += plan.dropped;
  }
  text(): string {
    return [...this.pieces.values()].join('');
  }
}

describe('splitAtBytes and lastBytes', () => {
  it('cut UTF-8 at character boundaries, surrogate pairs whole', () => {
    expect(splitAtBytes('aé😀b', 1)).toEqual(['a', 'é😀b']);
    expect(splitAtBytes('aé😀b', 2)).toEqual(['a', 'é😀b']);
    expect(splitAtBytes('aé😀b', 3)).toEqual(['aé', '😀b']);
    expect(splitAtBytes('aé😀b', 6)).toEqual(['aé', '😀b']);
    expect(splitAtBytes('aé😀b', 7)).toEqual(['aé😀', 'b']);
    expect(splitAtBytes('abc', 0)).toEqual(['', 'abc']);
    expect(lastBytes('aé😀b', 5)).toEqual('😀b');
    expect(lastBytes('aé😀b', 4)).toEqual('b');
    expect(lastBytes('abc', 10)).toEqual('abc');
  });
});

describe('planOutput', () => {
  it('keeps everything while it fits in the head', () => {
    const kept = new Kept({ headBytes: 100, tailBytes: 10 });
    kept.write('hello ', 'world');
    expect(kept.text()).toBe('hello world');
    expect(kept.dropped).toBe(0);
  });

  it('keeps the first head bytes and the last tail bytes, and counts what it dropped', () => {
    const kept = new Kept({ headBytes: 10, tailBytes: 10 });
    const all: string[] = [];
    for (let i = 0; i < 100; i++) {
      const line = `line ${String(i).padStart(3, '0')}\n`;
      all.push(line);
      kept.write(line);
    }
    const text = all.join('');
    const stored = kept.text();
    expect(stored.startsWith(text.slice(0, 10))).toBe(true);
    expect(text.endsWith(stored.slice(10))).toBe(true);
    expect(utf8Bytes(stored.slice(10))).toBeLessThanOrEqual(10);
    expect(kept.dropped + utf8Bytes(stored)).toBe(utf8Bytes(text));
    expect(kept.state.dropped).toBe(kept.dropped);
  });

  it('never stores what later output of the same batch pushes out of the window', () => {
    const state = emptyOutput();
    const pieces = Array.from({ length: 1_000 }, (_, i) => ({ entry: i, data: 'x'.repeat(100) }));
    const plan = planOutput(state, pieces, { headBytes: 250, tailBytes: 1_000 });
    const stored = plan.store.reduce((n, p) => n + p.bytes, 0);
    expect(stored).toBe(1_250);
    expect(plan.store.filter((p) => p.head).map((p) => p.entry)).toEqual([0, 1, 2]);
    expect(plan.store.filter((p) => !p.head).map((p) => p.entry)).toEqual([
      990, 991, 992, 993, 994, 995, 996, 997, 998, 999,
    ]);
    expect(plan.dropped).toBe(100_000 - 1_250);
  });

  it('keeps the end of one piece larger than the whole tail', () => {
    const kept = new Kept({ headBytes: 0, tailBytes: 4 });
    kept.write('abcdefgh');
    expect(kept.text()).toBe('efgh');
    kept.write('ij');
    expect(kept.text()).toBe('ij');
    expect(kept.dropped).toBe(8);
  });

  it('with a tail of 0 keeps only the head', () => {
    const kept = new Kept({ headBytes: 3, tailBytes: 0 });
    kept.write('abcdef', 'gh');
    expect(kept.text()).toBe('abc');
    expect(kept.dropped).toBe(5);
  });

  it('sends output after the head to the tail once it went past, even if the head had room', () => {
    const kept = new Kept({ headBytes: 5, tailBytes: 100 });
    kept.write('abcdefg');
    kept.write('h');
    expect([...kept.pieces.values()]).toEqual(['abcde', 'fg', 'h']);
  });
});

describe('outputFrom', () => {
  it('rebuilds the state a series of plans left, from the stored pieces alone', () => {
    const limits = { headBytes: 7, tailBytes: 9 };
    const kept = new Kept(limits);
    for (let i = 0; i < 30; i++) kept.write(`#${i};`);
    const pieces = [...kept.pieces].map(([seq, data]) => ({ seq, bytes: utf8Bytes(data) }));
    const rebuilt = outputFrom(pieces, kept.dropped, limits);
    expect(rebuilt).toEqual(kept.state);
  });

  it('knows the head is closed when output was dropped, even if what is left would fit', () => {
    const state = outputFrom([{ seq: 1, bytes: 3 }], 10, { headBytes: 100, tailBytes: 0 });
    expect(state.headClosed).toBe(true);
  });
});
