import { describe, expect, it } from 'vitest';
import { quantileSorted, round, summarize } from './stats.js';

describe('summarize', () => {
  it('summarises finite values and skips gaps', () => {
    const s = summarize([3, null, 1, 2, Number.NaN, 4]);
    expect(s).toMatchObject({ count: 4, min: 1, mean: 2.5, p50: 2.5, max: 4, last: 4 });
    expect(s.p95).toBeCloseTo(3.85);
  });
  it('handles empty and constant input', () => {
    expect(summarize([]).count).toBe(0);
    expect(summarize([null]).mean).toBeNull();
    expect(summarize([7, 7, 7])).toMatchObject({ min: 7, p50: 7, p95: 7, max: 7 });
  });
  it('interpolates quantiles and clamps q', () => {
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileSorted([0, 10], 2)).toBe(10);
    expect(quantileSorted([], 0.5)).toBeNull();
    expect(round(1.23456, 2)).toBe(1.23);
  });
});
