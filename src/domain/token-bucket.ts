/**
 * Token buckets, for rate limits (Desaster's HTB): a bucket holds up to `burst` tokens and
 * gains `rate` per second; starting a job takes one. Pure, on times given by the caller (the
 * injected clock), so that the limit is exact on a clock moved by hand. The state is kept in
 * the store by the dispatcher, so that one bucket serves every node.
 */

export interface Bucket {
  tokens: number;
  /** When `tokens` was true (ms). */
  at: number;
}

/** The bucket as it is at `now`: full when never used, otherwise refilled since `at`. */
export function refill(
  bucket: Bucket | undefined,
  rate: number,
  burst: number,
  now: number,
): Bucket {
  if (bucket === undefined) return { tokens: burst, at: now };
  const elapsed = Math.max(0, now - bucket.at);
  return {
    tokens: Math.min(burst, bucket.tokens + (elapsed * rate) / 1_000),
    at: Math.max(now, bucket.at),
  };
}

/** Whole tokens available now. */
export function available(bucket: Bucket): number {
  // A hair of slack: 0.1 + 0.2 tokens must make a whole one when added up to 1.
  return Math.floor(bucket.tokens + 1e-9);
}

/** Milliseconds from the bucket's time until it holds a whole token (0: it does). */
export function untilNextToken(bucket: Bucket, rate: number): number {
  if (available(bucket) >= 1) return 0;
  return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1_000) / rate));
}
