/** Pure statistics over arrays; robust to empty input and constant data. */

export interface Summary {
  count: number;
  min: number | null;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
  last: number | null;
}

/** Percentile by linear interpolation between closest ranks (q in [0, 1]) of sorted data. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** Summary of the finite values of a series, in series order (nulls are gaps, skipped). */
export function summarize(values: readonly (number | null)[]): Summary {
  const finite: number[] = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) finite.push(v);
  if (finite.length === 0) {
    return { count: 0, min: null, mean: null, p50: null, p95: null, max: null, last: null };
  }
  const last = finite[finite.length - 1] as number;
  let sum = 0;
  for (const v of finite) sum += v;
  const sorted = finite.sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] as number,
    mean: sum / sorted.length,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    max: sorted[sorted.length - 1] as number,
    last,
  };
}

/** Rounds for display without turning small rates into zero. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
