/** Small statistics and number formatting. */

/** The p-th percentile (0..100) by nearest rank of already-sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? null;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds since the epoch with sub-millisecond precision; comparable across processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** A rate in jobs per second, or null if the interval is empty. */
export function rate(jobs: number, fromMs: number, toMs: number): number | null {
  const seconds = (toMs - fromMs) / 1000;
  return seconds > 0 ? jobs / seconds : null;
}

/** Formats a figure for the table: thousands grouped, precision by magnitude. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function formatRatio(value: number): string {
  return value >= 10 ? `${value.toFixed(0)}×` : `${value.toFixed(2)}×`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
