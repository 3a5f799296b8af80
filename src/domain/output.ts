/**
 * How much of a job's output is kept: its first `headBytes` and its last `tailBytes` (stdout
 * and stderr together, over all its attempts); what lies between is dropped and counted, and
 * the place of the gap is remembered, so that readers can say "N bytes dropped here". A job
 * printing 300 MB keeps at most head + tail of it. Pure: the caller stores what the plan says.
 *
 * The tail is a window that slides: each new piece of output pushes the oldest tail pieces out.
 * Within one batch, output that would be pushed out by later output of the same batch is never
 * written at all, so under a flood the store writes at most head + tail per job per commit,
 * whatever the worker sends.
 */

export interface OutputLimits {
  headBytes: number;
  tailBytes: number;
}

/** A piece of output as stored: its sequence number and size. */
export interface StoredPiece {
  seq: number;
  bytes: number;
}

/** What is stored of one job's output (rebuilt from the store when not known). */
export interface OutputState {
  /** Bytes kept in the head; the head is full at `headBytes`. */
  headBytes: number;
  /** Output went past the head: everything after goes to the tail, even if the head had room. */
  headClosed: boolean;
  /** The seq of the last head piece (null while the head is empty). */
  lastHeadSeq: number | null;
  /** The tail pieces, oldest first. */
  tail: StoredPiece[];
  tailBytes: number;
  /** Bytes dropped so far. */
  dropped: number;
}

export function emptyOutput(): OutputState {
  return { headBytes: 0, headClosed: false, lastHeadSeq: null, tail: [], tailBytes: 0, dropped: 0 };
}

/** One piece of new output; `data` is what the worker sent. */
export interface NewPiece<T> {
  entry: T;
  data: string;
}

/** What to do with a batch of one job's new output. */
export interface OutputPlan<T> {
  /** New pieces to store, in order, each with the text to store (perhaps a part of it). */
  store: Array<{ entry: T; data: string; bytes: number; head: boolean }>;
  /** Stored tail pieces pushed out, to delete. */
  evict: number[];
  /** Bytes dropped by this batch (evicted, cut, or never stored). */
  dropped: number;
}

export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The UTF-8 bytes of a code point (a lone surrogate, written as U+FFFD, takes 3). */
const utf8Width = (code: number): number =>
  code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;

/** UTF-16 units of the code point at `i`. */
const units = (code: number): number => (code >= 0x10000 ? 2 : 1);

/**
 * The first part of `text` that fits in `bytes` bytes of UTF-8, and the rest; never cutting a
 * character (a surrogate pair stays whole).
 */
export function splitAtBytes(text: string, bytes: number): [string, string] {
  if (bytes <= 0) return ['', text];
  if (utf8Bytes(text) <= bytes) return [text, ''];
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i)!;
    const width = utf8Width(code);
    if (used + width > bytes) break;
    used += width;
    i += units(code);
  }
  return [text.slice(0, i), text.slice(i)];
}

/** The last part of `text` that fits in `bytes` bytes of UTF-8, never cutting a character. */
export function lastBytes(text: string, bytes: number): string {
  const total = utf8Bytes(text);
  return total <= bytes ? text : trimFront(text, total - bytes);
}

/** `text` without its first `bytes` bytes of UTF-8 (rounded up to a whole character). */
function trimFront(text: string, bytes: number): string {
  let dropped = 0;
  let i = 0;
  while (i < text.length && dropped < bytes) {
    const code = text.codePointAt(i)!;
    dropped += utf8Width(code);
    i += units(code);
  }
  return text.slice(i);
}

/**
 * Plans a batch of new output against what is stored. Updates `state` for the pieces it plans
 * to store except their seqs, which the caller records with `recordStored` once it has them.
 */
export function planOutput<T>(
  state: OutputState,
  pieces: readonly NewPiece<T>[],
  limits: OutputLimits,
): OutputPlan<T> {
  const store: OutputPlan<T>['store'] = [];
  const tailCandidates: Array<{ entry: T; data: string; bytes: number }> = [];
  let dropped = 0;
  for (const piece of pieces) {
    let data = piece.data;
    const room = limits.headBytes - state.headBytes;
    if (!state.headClosed && room > 0) {
      const [head, rest] = splitAtBytes(data, room);
      if (head.length > 0) {
        const bytes = utf8Bytes(head);
        store.push({ entry: piece.entry, data: head, bytes, head: true });
        state.headBytes += bytes;
      }
      data = rest;
      if (data.length === 0) continue;
    }
    state.headClosed = true;
    tailCandidates.push({ entry: piece.entry, data, bytes: utf8Bytes(data) });
  }
  // Of the new tail output, only what the end of the batch leaves in the window is stored.
  let kept = 0;
  let first = tailCandidates.length;
  while (first > 0 && kept + tailCandidates[first - 1]!.bytes <= limits.tailBytes) {
    first--;
    kept += tailCandidates[first]!.bytes;
  }
  for (let i = 0; i < first; i++) dropped += tailCandidates[i]!.bytes;
  if (first > 0 && kept < limits.tailBytes) {
    // The newest piece that does not fit whole gives its end to the window.
    const cut = tailCandidates[first - 1]!;
    const end = lastBytes(cut.data, limits.tailBytes - kept);
    if (end.length > 0) {
      const bytes = utf8Bytes(end);
      dropped -= bytes;
      kept += bytes;
      first--;
      tailCandidates[first] = { entry: cut.entry, data: end, bytes };
    }
  }
  const newTail = tailCandidates.slice(first);
  // Stored tail pieces the new ones push out of the window, oldest first.
  const evict: number[] = [];
  while (state.tail.length > 0 && state.tailBytes + kept > limits.tailBytes) {
    const oldest = state.tail.shift()!;
    state.tailBytes -= oldest.bytes;
    dropped += oldest.bytes;
    evict.push(oldest.seq);
  }
  for (const t of newTail)
    store.push({ entry: t.entry, data: t.data, bytes: t.bytes, head: false });
  state.dropped += dropped;
  return { store, evict, dropped };
}

/** Records the seqs the store gave the pieces a plan stored (in the plan's order). */
export function recordStored<T>(
  state: OutputState,
  plan: OutputPlan<T>,
  seqs: readonly number[],
): void {
  plan.store.forEach((piece, i) => {
    const seq = seqs[i]!;
    if (piece.head) state.lastHeadSeq = seq;
    else {
      state.tail.push({ seq, bytes: piece.bytes });
      state.tailBytes += piece.bytes;
    }
  });
}

/** Rebuilds the state of a job's output from its stored pieces (in seq order). */
export function outputFrom(
  pieces: readonly StoredPiece[],
  dropped: number,
  limits: OutputLimits,
): OutputState {
  const state = emptyOutput();
  state.dropped = dropped;
  for (const piece of pieces) {
    if (!state.headClosed && state.headBytes + piece.bytes <= limits.headBytes) {
      state.headBytes += piece.bytes;
      state.lastHeadSeq = piece.seq;
    } else {
      state.headClosed = true;
      state.tail.push(piece);
      state.tailBytes += piece.bytes;
    }
  }
  // Output that was dropped went past the head, even if what is stored would fit in it.
  if (dropped > 0) state.headClosed = true;
  return state;
}
