import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantileSorted } from './stats.js';
import { QuantileSketch, SketchDecodeError, SketchError } from './sketch.js';
import { BucketStore } from './sketch-store.js';

const QS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

/** |estimate − truth| ≤ α·|truth|, with room for floating-point rounding at bucket edges. */
function withinRelative(estimate: number | null, truth: number, alpha: number): boolean {
  if (estimate === null) return false;
  return Math.abs(estimate - truth) <= alpha * Math.abs(truth) * (1 + 1e-9) + 1e-9;
}

const positive = fc.double({ min: 1e-6, max: 1e12, noNaN: true, noDefaultInfinity: true });
const anyValue = fc.oneof(
  positive,
  positive.map((v) => -v),
  fc.constant(0),
);

describe('QuantileSketch', () => {
  it('keeps every quantile of positive data within α of the exact interpolated quantile', () => {
    fc.assert(
      fc.property(
        fc.array(positive, { minLength: 1, maxLength: 400 }),
        fc.constantFrom(0.01, 0.02, 0.05),
        (values, alpha) => {
          const s = QuantileSketch.of(values, alpha);
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of QS) {
            expect(withinRelative(s.quantile(q), quantileSorted(sorted, q)!, alpha)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps ranks right for mixed signs and zeros (nearest-rank quantiles within α)', () => {
    fc.assert(
      fc.property(fc.array(anyValue, { minLength: 1, maxLength: 300 }), (values) => {
        const s = QuantileSketch.of(values);
        const sorted = [...values].sort((a, b) => a - b);
        for (let i = 0; i < sorted.length; i++) {
          // at an exact rank there is nothing to interpolate
          const q = sorted.length === 1 ? 0 : i / (sorted.length - 1);
          expect(withinRelative(s.quantile(q), sorted[i]!, 0.01)).toBe(true);
        }
        expect(s.count).toBe(values.length);
        expect(s.min).toBe(sorted[0]);
        expect(s.max).toBe(sorted[sorted.length - 1]);
      }),
      { numRuns: 200 },
    );
  });

  it('merges to exactly the sketch of the concatenated data', () => {
    const ints = fc.array(fc.integer({ min: -1e6, max: 1e6 }), { maxLength: 200 });
    fc.assert(
      fc.property(ints, ints, (a, b) => {
        const merged = QuantileSketch.of(a).merge(QuantileSketch.of(b));
        const whole = QuantileSketch.of([...a, ...b]);
        // integer data keeps the sums exact, so the encodings must be identical
        expect(merged.encode().equals(whole.encode())).toBe(true);
        const viaBytes = QuantileSketch.of(a).mergeEncoded(QuantileSketch.of(b).encode());
        expect(viaBytes.encode().equals(whole.encode())).toBe(true);
        for (const q of QS) expect(merged.quantile(q)).toBe(whole.quantile(q));
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips through its encoding', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(anyValue, fc.integer({ min: 1, max: 1000 })), { maxLength: 200 }),
        (pairs) => {
          const s = new QuantileSketch();
          for (const [v, w] of pairs) s.add(v, w);
          const back = QuantileSketch.decode(s.encode());
          expect(back.count).toBe(s.count);
          expect(back.sum).toBe(s.sum);
          expect(back.min).toBe(s.min);
          expect(back.max).toBe(s.max);
          expect(back.encode().equals(s.encode())).toBe(true);
          for (const q of QS) expect(back.quantile(q)).toBe(s.quantile(q));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes a minute of CPU percentages in ~100-200 bytes and a single value in ~20', () => {
    const minute = Array.from({ length: 60 }, (_, i) => 20 + 60 * Math.abs(Math.sin(i * 1.7)));
    const bytes = QuantileSketch.of(minute).encode().length;
    expect(bytes).toBeGreaterThan(60);
    expect(bytes).toBeLessThanOrEqual(200);
    expect(QuantileSketch.of([37.5]).encode().length).toBeLessThanOrEqual(20);
    expect(QuantileSketch.of([0, 0, 0]).encode().length).toBeLessThanOrEqual(15);
  });

  it('answers the obvious for empty, constant and weighted data', () => {
    const empty = new QuantileSketch();
    expect(empty.quantile(0.5)).toBeNull();
    expect([empty.min, empty.max, empty.count, empty.sum]).toEqual([null, null, 0, 0]);
    expect(QuantileSketch.decode(empty.encode()).count).toBe(0);
    expect(empty.merge(new QuantileSketch()).count).toBe(0);
    const c = QuantileSketch.of([5, 5, 5]);
    expect(c.quantile(0.5)).toBe(5);
    const w = new QuantileSketch().add(1, 99).add(1000);
    expect(w.quantile(0.5)).toBeCloseTo(1, 1);
    expect(w.quantile(1)).toBe(1000);
    expect(w.count).toBe(100);
    // tiny magnitudes count as zero but min/max stay exact
    const tiny = QuantileSketch.of([1e-12, -1e-12]);
    expect(tiny.quantile(0.5)).toBe(0);
    expect(tiny.min).toBe(-1e-12);
  });

  it('rejects bad input with SketchError', () => {
    const s = new QuantileSketch();
    expect(() => s.add(NaN)).toThrow(SketchError);
    expect(() => s.add(Infinity)).toThrow(/finite/);
    expect(() => s.add(1, 0)).toThrow(/positive integer/);
    expect(() => s.add(1, 1.5)).toThrow(/positive integer/);
    expect(() => s.quantile(1.5)).toThrow(/quantile/);
    expect(() => s.quantile(NaN)).toThrow(/quantile/);
    expect(() => new QuantileSketch(0)).toThrow(/relative accuracy/);
    expect(() => new QuantileSketch(0.9)).toThrow(/relative accuracy/);
    expect(() => s.merge(new QuantileSketch(0.02))).toThrow(/cannot merge/);
    expect(() => s.mergeEncoded(new QuantileSketch(0.02).encode())).toThrow(/cannot merge/);
  });
});

describe('QuantileSketch.decode', () => {
  const good = QuantileSketch.of([1, 2, 3, -4, 0, 100]).encode();

  it('turns every truncation and single-byte corruption into SketchDecodeError or a valid sketch', () => {
    for (let len = 0; len < good.length; len++) {
      expect(() => QuantileSketch.decode(good.subarray(0, len))).toThrow(SketchDecodeError);
    }
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const bad = Buffer.from(good);
        bad[at] = byte;
        try {
          const s = QuantileSketch.decode(bad);
          // a corruption that still parses must still be a coherent sketch
          expect(s.count).toBeGreaterThan(0);
          expect(s.min!).toBeLessThanOrEqual(s.max!);
        } catch (err) {
          expect(err).toBeInstanceOf(SketchDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('names what is wrong', () => {
    const cases: [number[], RegExp][] = [
      [[2], /unknown version 2/],
      [[1, 0], /ppm out of range/],
      [[1, 100, 4], /unknown flags/],
      [[1, 100, 0, 0, 0, 0, 7], /trailing bytes/],
      [[1, 100, 1, 0, 0, 0], /empty sketch flagged/],
      [[1, 100, 0, 0, 2, 2, 1, 0, 1], /not ascending/],
      [[1, 100, 0, 0, 1, 2, 0], /count 0/],
      [[1, 100, 0, 0, 1, 0xfe, 0xff, 0xff, 0x7f, 1], /out of range/],
      [[1, 100, 0, 0, 0xff, 0xff, 0x7f], /claims/],
      [[1, 100, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /varint too large/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => QuantileSketch.decode(Buffer.from(bytes))).toThrow(message);
    }
    const minAboveMax = Buffer.concat([Buffer.from([1, 100, 0, 2, 0, 0]), f64(5), f64(1), f64(6)]);
    expect(() => QuantileSketch.decode(minAboveMax)).toThrow(/above max/);
    const nan = Buffer.concat([Buffer.from([1, 100, 0, 1, 0, 0]), f64(0), f64(NaN), f64(0)]);
    expect(() => QuantileSketch.decode(nan)).toThrow(/non-finite/);
    const huge = Buffer.from([1, 100, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0]);
    expect(() => QuantileSketch.decode(huge)).toThrow(/overflows|varint/);
  });
});

function f64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b;
}

describe('BucketStore', () => {
  it('grows on both ends and refuses a rank it does not hold', () => {
    const s = new BucketStore();
    s.add(10, 1);
    s.add(-50, 2);
    s.add(400, 3);
    expect([...s.entries()]).toEqual([
      [-50, 2],
      [10, 1],
      [400, 3],
    ]);
    expect(s.indexAtRank(5, false)).toBe(400);
    expect(s.indexAtRank(0, true)).toBe(400);
    expect(() => s.indexAtRank(6, false)).toThrow(RangeError);
    expect(() => s.indexAtRank(6, true)).toThrow(RangeError);
  });
});
