/**
 * A mergeable quantile sketch in the style of DDSketch (Masson, Rim & Lee, VLDB 2019).
 * A positive value x falls in bucket i = ceil(log(x) / log(γ)) with γ = (1 + α) / (1 − α);
 * every value of a bucket is within relative error α of the bucket's estimate
 * 2γ^i / (γ + 1), so any quantile is too. Negative values use a mirrored store, values of
 * magnitude below MIN_INDEXABLE count as zero. Merging adds bucket counts, so a sketch of
 * merged sketches is exactly the sketch of the concatenated data.
 *
 * Why not @datadog/sketches-js: its protobuf encoding writes a contiguous range of float64
 * counts, about 4 KB for one minute of 0–100 % values, and the rollup tables hold one sketch
 * per series per minute. Here the encoding is sparse: each non-empty bucket is a zig-zag
 * varint index delta plus a varint count, so a minute of 60 values takes ~100–200 bytes and
 * a single value ~20.
 *
 * Encoding, version 1:
 *   u8 version, varint α in parts per million, u8 flags (bit 0: all values equal),
 *   varint zero count, positive store, negative store (each: varint n, then n pairs of
 *   zig-zag varint index delta and varint count, indices strictly ascending),
 *   then if count > 0: f64 min, and unless all values are equal, f64 max and f64 sum.
 */
import {
  ByteReader,
  ByteWriter,
  SketchDecodeError,
  SketchError,
  unzigzag,
  zigzag,
} from './sketch-codec.js';
import { BucketStore } from './sketch-store.js';

export { SketchDecodeError, SketchError } from './sketch-codec.js';

export const DEFAULT_ALPHA = 0.01;
const VERSION = 1;
/** Log buckets never reach 0; nothing measured here is meaningfully smaller than this. */
const MIN_INDEXABLE = 1e-9;
const FLAG_UNIFORM = 1;
/** Far more than any real sketch holds (α = 1 % spans 1e-9..1e308 in ~45k buckets). */
const MAX_ENCODED_BUCKETS = 100_000;

interface Parsed {
  alphaPpm: number;
  zero: number;
  pos: Float64Array;
  neg: Float64Array;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class QuantileSketch {
  readonly alpha: number;
  private readonly alphaPpm: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly pos = new BucketStore();
  private readonly neg = new BucketStore();
  private zero = 0;
  private n = 0;
  private total = 0;
  private lo = Infinity;
  private hi = -Infinity;

  /** α is kept to parts per million so an encoded sketch names it exactly. */
  constructor(alpha = DEFAULT_ALPHA) {
    const ppm = Math.round(alpha * 1e6);
    if (!(ppm >= 1 && ppm <= 500_000)) {
      throw new SketchError(`relative accuracy must be in [0.000001, 0.5], got ${alpha}`);
    }
    this.alphaPpm = ppm;
    this.alpha = ppm / 1e6;
    this.gamma = (1 + this.alpha) / (1 - this.alpha);
    this.logGamma = Math.log(this.gamma);
  }

  static of(values: Iterable<number>, alpha = DEFAULT_ALPHA): QuantileSketch {
    const s = new QuantileSketch(alpha);
    for (const v of values) s.add(v);
    return s;
  }

  get count(): number {
    return this.n;
  }
  get sum(): number {
    return this.total;
  }
  get min(): number | null {
    return this.n > 0 ? this.lo : null;
  }
  get max(): number | null {
    return this.n > 0 ? this.hi : null;
  }

  /** Weights are whole counts so the encoding can stay varints. */
  add(value: number, weight = 1): this {
    if (!Number.isFinite(value)) throw new SketchError(`value must be finite, got ${value}`);
    if (!Number.isSafeInteger(weight) || weight <= 0) {
      throw new SketchError(`weight must be a positive integer, got ${weight}`);
    }
    if (value > MIN_INDEXABLE) this.pos.add(this.index(value), weight);
    else if (value < -MIN_INDEXABLE) this.neg.add(this.index(-value), weight);
    else this.zero += weight;
    this.n += weight;
    this.total += value * weight;
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
    return this;
  }

  merge(other: QuantileSketch): this {
    if (other.alphaPpm !== this.alphaPpm) {
      throw new SketchError(`cannot merge sketches of α ${other.alpha} into α ${this.alpha}`);
    }
    if (other.n === 0) return this;
    this.pos.merge(other.pos);
    this.neg.merge(other.neg);
    this.zero += other.zero;
    this.n += other.n;
    this.total += other.total;
    this.lo = Math.min(this.lo, other.lo);
    this.hi = Math.max(this.hi, other.hi);
    return this;
  }

  /** Merges an encoded sketch without keeping it; validates it fully before changing this. */
  mergeEncoded(buf: Uint8Array): this {
    const p = parse(buf);
    if (p.alphaPpm !== this.alphaPpm) {
      throw new SketchError(`cannot merge sketches of α ${p.alphaPpm / 1e6} into α ${this.alpha}`);
    }
    this.apply(p);
    return this;
  }

  /**
   * Quantile q in [0, 1] by linear interpolation between the two closest ranks, like
   * quantileSorted in stats.ts, so rolled-up and raw percentiles mean the same thing.
   * Exact at q = 0 and 1; null when empty.
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new SketchError(`quantile must be in [0, 1], got ${q}`);
    if (this.n === 0) return null;
    const rank = q * (this.n - 1);
    const lo = Math.floor(rank);
    const hi = Math.ceil(rank);
    const a = lo === 0 ? this.lo : this.valueAtRank(lo);
    const b = hi === this.n - 1 ? this.hi : hi === lo ? a : this.valueAtRank(hi);
    const v = a + (b - a) * (rank - lo);
    return Math.min(this.hi, Math.max(this.lo, v));
  }

  encode(): Buffer {
    const w = new ByteWriter();
    w.u8(VERSION);
    w.varint(this.alphaPpm);
    const uniform = this.n > 0 && this.lo === this.hi && this.total === this.lo * this.n;
    w.u8(uniform ? FLAG_UNIFORM : 0);
    w.varint(this.zero);
    writeStore(w, this.pos);
    writeStore(w, this.neg);
    if (this.n > 0) {
      w.f64(this.lo);
      if (!uniform) {
        w.f64(this.hi);
        w.f64(this.total);
      }
    }
    return w.bytes();
  }

  static decode(buf: Uint8Array): QuantileSketch {
    const p = parse(buf);
    const s = new QuantileSketch(p.alphaPpm / 1e6);
    s.apply(p);
    return s;
  }

  private apply(p: Parsed): void {
    addPairs(this.pos, p.pos);
    addPairs(this.neg, p.neg);
    this.zero += p.zero;
    if (p.count === 0) return;
    this.n += p.count;
    this.total += p.sum;
    this.lo = Math.min(this.lo, p.min);
    this.hi = Math.max(this.hi, p.max);
  }

  private index(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.logGamma);
  }

  private bucketValue(index: number): number {
    return (2 * Math.exp(index * this.logGamma)) / (this.gamma + 1);
  }

  /** Estimate of the value of 0-based rank r in sorted order: negatives, zeros, positives. */
  private valueAtRank(r: number): number {
    if (r < this.neg.total) return -this.bucketValue(this.neg.indexAtRank(r, true));
    r -= this.neg.total;
    if (r < this.zero) return 0;
    return this.bucketValue(this.pos.indexAtRank(r - this.zero, false));
  }
}

/** Adds (index, count) pairs with ascending indices, making room for all of them at once. */
function addPairs(store: BucketStore, pairs: Float64Array): void {
  const n = pairs.length;
  if (n === 0) return;
  store.cover(pairs[0]!, pairs[n - 2]!);
  const counts = store.counts;
  const offset = store.offset;
  let total = 0;
  for (let i = 0; i < n; i += 2) {
    counts[pairs[i]! - offset]! += pairs[i + 1]!;
    total += pairs[i + 1]!;
  }
  store.total += total;
}

function writeStore(w: ByteWriter, store: BucketStore): void {
  let n = 0;
  for (const c of store.counts) if (c > 0) n++;
  w.varint(n);
  let prev = 0;
  for (const [index, count] of store.entries()) {
    w.varint(zigzag(index - prev));
    w.varint(count);
    prev = index;
  }
}

/** Index bounds any finite value maps to for this α, so a corrupt index cannot allocate GBs. */
function indexBounds(alphaPpm: number): [number, number] {
  if (alphaPpm === DEFAULT_BOUNDS.alphaPpm) return DEFAULT_BOUNDS.bounds;
  return computeBounds(alphaPpm);
}

function computeBounds(alphaPpm: number): [number, number] {
  const alpha = alphaPpm / 1e6;
  const logGamma = Math.log((1 + alpha) / (1 - alpha));
  return [
    Math.floor(Math.log(MIN_INDEXABLE) / logGamma) - 1,
    Math.ceil(Math.log(Number.MAX_VALUE) / logGamma) + 1,
  ];
}

/** Bounds of the default α, computed once: every stored sketch has it. */
const DEFAULT_BOUNDS = {
  alphaPpm: Math.round(DEFAULT_ALPHA * 1e6),
  bounds: computeBounds(Math.round(DEFAULT_ALPHA * 1e6)),
} as const;

function readStore(r: ByteReader, bounds: [number, number], name: string): Float64Array {
  const n = r.varint();
  if (n > MAX_ENCODED_BUCKETS) throw new SketchDecodeError(`${name} store claims ${n} buckets`);
  // (index, count) pairs in a typed array: no boxed numbers for a sketch of hundreds of buckets
  const out = new Float64Array(2 * n);
  const [lo, hi] = bounds;
  let index = 0;
  for (let i = 0; i < n; i++) {
    const delta = unzigzag(r.varint());
    if (i > 0 && delta <= 0) throw new SketchDecodeError(`${name} bucket indices not ascending`);
    index += delta;
    if (index < lo || index > hi) {
      throw new SketchDecodeError(`${name} bucket index ${index} out of range`);
    }
    const count = r.varint();
    if (count === 0) throw new SketchDecodeError(`${name} bucket ${index} has count 0`);
    out[2 * i] = index;
    out[2 * i + 1] = count;
  }
  return out;
}

function storeTotal(pairs: Float64Array): number {
  let t = 0;
  for (let i = 1; i < pairs.length; i += 2) t += pairs[i]!;
  return t;
}

function parse(buf: Uint8Array): Parsed {
  const r = new ByteReader(buf);
  const version = r.u8();
  if (version !== VERSION) throw new SketchDecodeError(`unknown version ${version}`);
  const alphaPpm = r.varint();
  if (alphaPpm < 1 || alphaPpm > 500_000) {
    throw new SketchDecodeError(`relative accuracy ${alphaPpm} ppm out of range`);
  }
  const flags = r.u8();
  if ((flags & ~FLAG_UNIFORM) !== 0) throw new SketchDecodeError(`unknown flags ${flags}`);
  const zero = r.varint();
  const bounds = indexBounds(alphaPpm);
  const pos = readStore(r, bounds, 'positive');
  const neg = readStore(r, bounds, 'negative');
  const count = zero + storeTotal(pos) + storeTotal(neg);
  if (!Number.isSafeInteger(count)) throw new SketchDecodeError('count overflows');
  const p: Parsed = { alphaPpm, zero, pos, neg, count, sum: 0, min: Infinity, max: -Infinity };
  if (count === 0) {
    if (flags !== 0) throw new SketchDecodeError('empty sketch flagged as uniform');
  } else {
    p.min = r.f64();
    const uniform = flags === FLAG_UNIFORM;
    p.max = uniform ? p.min : r.f64();
    p.sum = uniform ? p.min * count : r.f64();
    if (!Number.isFinite(p.min) || !Number.isFinite(p.max) || !Number.isFinite(p.sum)) {
      throw new SketchDecodeError('non-finite min, max or sum');
    }
    if (p.min > p.max) throw new SketchDecodeError(`min ${p.min} above max ${p.max}`);
  }
  if (!r.done) throw new SketchDecodeError(`${buf.length - r.pos} trailing bytes`);
  return p;
}
