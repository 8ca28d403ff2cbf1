/**
 * Rolled-up rows: one per series and bucket (1 minute or 1 hour) with count, sum, min, max,
 * last and a quantile sketch. Every write MERGES into the row already there, so the
 * recorder's rollup and `kmpm import` can fill the same bucket in either order.
 */
import type { Statement } from 'better-sqlite3';
import { QuantileSketch } from '../analyze/sketch.js';
import type { Db } from './db.js';

export type Tier = '1m' | '1h' | '1d';
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** Days are UTC days. */
export const DAY_MS = 86_400_000;
export const TIER_MS: Readonly<Record<Tier, number>> = {
  '1m': MINUTE_MS,
  '1h': HOUR_MS,
  '1d': DAY_MS,
};
export const TIER_TABLE: Readonly<Record<Tier, string>> = {
  '1m': 'rollup_1m',
  '1h': 'rollup_1h',
  '1d': 'rollup_1d',
};

export interface Point {
  ts: number;
  value: number;
}

/** What a bucket holds; count, sum, min and max are the sketch's own. */
export interface Aggregate {
  sketch: QuantileSketch;
  last: number;
  lastTs: number;
}

interface Row {
  last: number;
  last_ts: number;
  sketch: Buffer;
}

export class RollupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RollupError';
  }
}

export function floorTo(ts: number, stepMs: number): number {
  return Math.floor(ts / stepMs) * stepMs;
}

/**
 * Whether (bTs, b) replaces (aTs, a) as the last value. A tie on time goes to the larger
 * value so the outcome never depends on which write came first.
 */
function supersedes(aTs: number, a: number, bTs: number, b: number): boolean {
  return bTs > aTs || (bTs === aTs && b > a);
}

/** The aggregate of some points, or null for none. */
export function aggregate(points: readonly Point[]): Aggregate | null {
  const first = points[0];
  if (first === undefined) return null;
  const sketch = new QuantileSketch();
  let last = first.value;
  let lastTs = first.ts;
  for (const p of points) {
    sketch.add(p.value);
    if (supersedes(lastTs, last, p.ts, p.value)) {
      last = p.value;
      lastTs = p.ts;
    }
  }
  return { sketch, last, lastTs };
}

/** Folds `b` into `a` (a is changed and returned). */
export function mergeAggregates(a: Aggregate, b: Aggregate): Aggregate {
  a.sketch.merge(b.sketch);
  if (supersedes(a.lastTs, a.last, b.lastTs, b.last)) {
    a.last = b.last;
    a.lastTs = b.lastTs;
  }
  return a;
}

/** Prepared statements for merging into both tiers; create one per batch of work. */
export class BucketWriter {
  private readonly select: Record<Tier, Statement>;
  private readonly insert: Record<Tier, Statement>;
  private readonly upsert: Record<Tier, Statement>;

  constructor(db: Db) {
    const sel = (t: string) =>
      db.prepare(`SELECT last, last_ts, sketch FROM ${t} WHERE series_id = ? AND ts = ?`);
    const ins = (t: string) =>
      db.prepare(`INSERT INTO ${t} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    const ups = (t: string) =>
      db.prepare(`INSERT OR REPLACE INTO ${t} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.select = { '1m': sel('rollup_1m'), '1h': sel('rollup_1h'), '1d': sel('rollup_1d') };
    this.insert = { '1m': ins('rollup_1m'), '1h': ins('rollup_1h'), '1d': ins('rollup_1d') };
    this.upsert = { '1m': ups('rollup_1m'), '1h': ups('rollup_1h'), '1d': ups('rollup_1d') };
  }

  /** Merges points (all inside the bucket) into the bucket's row. */
  merge(tier: Tier, seriesId: number, bucketTs: number, points: readonly Point[]): void {
    const size = TIER_MS[tier];
    if (bucketTs % size !== 0) {
      throw new RollupError(`bucket ${bucketTs} is not aligned to ${tier}`);
    }
    for (const p of points) {
      if (p.ts < bucketTs || p.ts >= bucketTs + size) {
        throw new RollupError(`point at ${p.ts} lies outside the ${tier} bucket ${bucketTs}`);
      }
      if (!Number.isFinite(p.value)) {
        throw new RollupError(`point at ${p.ts} has a non-finite value ${p.value}`);
      }
    }
    const agg = aggregate(points);
    if (agg) this.mergeAggregate(tier, seriesId, bucketTs, agg);
  }

  mergeAggregate(tier: Tier, seriesId: number, bucketTs: number, agg: Aggregate): void {
    // A rollup writes each bucket once: try the new row first, merge only into one there.
    if (this.write(this.insert[tier], seriesId, bucketTs, agg) > 0) return;
    const row = this.select[tier].get(seriesId, bucketTs) as Row;
    let old: QuantileSketch;
    try {
      old = QuantileSketch.decode(row.sketch);
    } catch (err) {
      throw new RollupError(`${tier} row of series ${seriesId} at ${bucketTs} is corrupt`, {
        cause: err,
      });
    }
    const merged = mergeAggregates({ sketch: old, last: row.last, lastTs: row.last_ts }, agg);
    this.write(this.upsert[tier], seriesId, bucketTs, merged);
  }

  private write(stmt: Statement, seriesId: number, bucketTs: number, agg: Aggregate): number {
    const s = agg.sketch;
    return stmt.run(
      seriesId,
      bucketTs,
      s.count,
      s.sum,
      s.min,
      s.max,
      agg.last,
      agg.lastTs,
      s.encode(),
    ).changes;
  }
}

/** One-off merge; for many buckets, keep a BucketWriter. */
export function mergeIntoBucket(
  db: Db,
  tier: Tier,
  seriesId: number,
  bucketTs: number,
  points: readonly Point[],
): void {
  new BucketWriter(db).merge(tier, seriesId, bucketTs, points);
}
