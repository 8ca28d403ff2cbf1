/**
 * Statistics of a metric over the analysed range, whichever tier they come from: exact over
 * the per-interval values of raw samples, or from rolled-up aggregates and merged sketches.
 */
import { quantileSorted, type Summary } from '../stats.js';
import type { Statistic } from './rules.js';
import type { RangeStats, Series, SystemInput } from './types.js';

class ValueStats implements RangeStats {
  private sorted: Float64Array | null = null;

  constructor(
    private readonly finite: Float64Array,
    readonly sum: number,
    readonly min: number,
    readonly max: number,
  ) {}

  get count(): number {
    return this.finite.length;
  }

  get last(): number {
    return this.finite[this.finite.length - 1]!;
  }

  quantile(q: number): number {
    // A typed array sorts numerically in place, without a comparator call per pair.
    this.sorted ??= Float64Array.from(this.finite).sort();
    return quantileSorted(this.sorted, q) as number;
  }
}

/** Statistics of the finite values of a series (nulls are gaps); null when there are none. */
export function valueStats(values: readonly (number | null)[]): RangeStats | null {
  let n = 0;
  for (const v of values) if (v !== null && Number.isFinite(v)) n++;
  if (n === 0) return null;
  const finite = new Float64Array(n);
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let i = 0;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    finite[i++] = v;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return new ValueStats(finite, sum, min, max);
}

const cache = new WeakMap<Series, RangeStats | null>();

/** Statistics of one metric of the input over its range; null when it has no value there. */
export function statsOf(input: SystemInput, metric: string): RangeStats | null {
  if (input.rolled) return input.rolled.stats(metric);
  const s = input.metrics[metric];
  return s ? seriesStats(s) : null;
}

/** valueStats of a series, computed once per series. */
export function seriesStats(s: Series): RangeStats | null {
  let st = cache.get(s);
  if (st === undefined) {
    st = valueStats(s.values);
    cache.set(s, st);
  }
  return st;
}

/** The per-step series of one metric (read on first use from a rolled input). */
export function seriesOf(input: SystemInput, metric: string): Series | undefined {
  return input.metrics[metric] ?? input.rolled?.series(metric);
}

export function statisticOf(s: RangeStats, stat: Statistic): number {
  switch (stat) {
    case 'p95':
      return s.quantile(0.95);
    case 'mean':
      return s.sum / s.count;
    case 'max':
      return s.max;
    case 'total':
      return s.sum;
  }
}

export function summaryOf(s: RangeStats | null): Summary {
  if (!s) return { count: 0, min: null, mean: null, p50: null, p95: null, max: null, last: null };
  return {
    count: s.count,
    min: s.min,
    mean: s.sum / s.count,
    p50: s.quantile(0.5),
    p95: s.quantile(0.95),
    max: s.max,
    last: s.last,
  };
}
