/**
 * Raw samples → 1-minute rows → 1-hour rows. Each bucket's work and the watermark that
 * says it is done commit in ONE immediate transaction, so a crash leaves either all of a
 * bucket or none of it: no gap, no double counting, and the next call resumes.
 */
import type { Statement } from 'better-sqlite3';
import { DERIVE_FIELDS, deriveWindow } from '../analyze/derive-window.js';
import { QuantileSketch } from '../analyze/sketch.js';
import type { MachineInfo } from '../types.js';
import {
  BucketWriter,
  RollupError,
  MINUTE_MS,
  TIER_MS,
  TIER_TABLE,
  floorTo,
  mergeAggregates,
  type Aggregate,
  type Tier,
} from './bucket.js';
import { MetaTable, type Db } from './db.js';
import { RawColumnReader, type RawColumnOptions } from './raw-columns.js';
import {
  automationPoints,
  minuteSources,
  processPoints,
  systemAggregates,
  type MinuteSources,
  type SeriesPoints,
} from './rollup-sources.js';
import { SeriesIds } from './series.js';

export { BucketWriter, mergeIntoBucket, RollupError, type Point, type Tier } from './bucket.js';

export const ROLLUP_1M_UNTIL = 'rollup_1m_until';
export const ROLLUP_1H_UNTIL = 'rollup_1h_until';
export const ROLLUP_1D_UNTIL = 'rollup_1d_until';
/** MachineInfo of the recording machine, for readers that derive raw process metrics. */
export const MACHINE_META = 'machine';

export interface RollupResult {
  /** Buckets (minutes or hours) rolled up by this call. */
  buckets: number;
  /** Every bucket starting before this is done (null: nothing to roll up yet). */
  until: number | null;
  /** true when the call stopped at its limit with complete buckets still waiting. */
  more: boolean;
}

export interface RollupMinutesOptions {
  now: number;
  machine: MachineInfo;
  /** At most this many minutes per call, so one call never stalls a tick (default 30). */
  maxMinutes?: number;
  /** A minute is complete once `now` is this far past its end (default 5 s). */
  lagMs?: number;
}

function watermark(db: Db, key: string): number | null {
  const v = contextFor(db).meta.get(key);
  return v === null ? null : Number(v);
}

/**
 * Runs `work` and sets the watermark in one BEGIN IMMEDIATE transaction. Series ids made
 * inside a transaction that rolls back must not stay cached.
 */
function commit(db: Db, series: SeriesIds, key: string, until: number, work: () => void): void {
  const { meta } = contextFor(db);
  try {
    db.transaction(() => {
      work();
      meta.set(key, String(until));
    }).immediate();
  } catch (err) {
    series.forget();
    throw err;
  }
}

/**
 * What the rollups of one database prepare once: the recorder rolls up every minute, and
 * preparing a dozen statements each time cost more than some of the minutes' work.
 */
interface RollupContext {
  meta: MetaTable;
  sources: MinuteSources;
  rawColumns: RawColumnReader;
  series: SeriesIds;
  writer: BucketWriter;
  prevTs: Statement;
  nextRaw: Statement;
  nextRun: Statement;
  /** Per finer tier: the first row at or after a time, and a bucket's rows by series. */
  coarser: Record<'1m' | '1h', { firstAtOrAfter: Statement; bucketRows: Statement }>;
}

const contexts = new WeakMap<Db, RollupContext>();

function contextFor(db: Db): RollupContext {
  let ctx = contexts.get(db);
  if (ctx) return ctx;
  ctx = {
    meta: new MetaTable(db),
    sources: minuteSources(db),
    rawColumns: new RawColumnReader(db),
    series: new SeriesIds(db),
    writer: new BucketWriter(db),
    prevTs: db.prepare('SELECT max(ts) FROM system_raw WHERE ts < ?').pluck(),
    nextRaw: db.prepare('SELECT min(ts) FROM system_raw WHERE ts >= ?').pluck(),
    nextRun: db
      .prepare('SELECT min(ended_at) FROM automation_run WHERE ended_at >= ? AND ended_at < ?')
      .pluck(),
    coarser: { '1m': coarserStatements(db, '1m'), '1h': coarserStatements(db, '1h') },
  };
  contexts.set(db, ctx);
  return ctx;
}

function coarserStatements(db: Db, fine: '1m' | '1h') {
  const table = TIER_TABLE[fine];
  return {
    // Per-series index seeks: the rollup tables are keyed by (series_id, ts), no ts index.
    firstAtOrAfter: db
      .prepare(
        `SELECT min((SELECT ts FROM ${table} r WHERE r.series_id = s.id AND r.ts >= ?
           ORDER BY r.ts LIMIT 1)) FROM series s`,
      )
      .pluck(),
    bucketRows: db.prepare(
      `SELECT r.series_id, r.last, r.last_ts, r.sketch FROM series s CROSS JOIN ${table} r
       ON r.series_id = s.id AND r.ts >= ? AND r.ts < ? ORDER BY r.series_id`,
    ),
  };
}

/** The counters a minute's system metrics derive from, and boot_time for its processes. */
const RAW_COLUMNS: RawColumnOptions = { fields: [...DERIVE_FIELDS, 'boot_time'], cores: false };

export function rollupMinutes(db: Db, opts: RollupMinutesOptions): RollupResult {
  const maxMinutes = opts.maxMinutes ?? 30;
  const limit = floorTo(opts.now - (opts.lagMs ?? 5_000), MINUTE_MS);
  const { meta, sources, rawColumns, series, writer, prevTs, nextRaw, nextRun } = contextFor(db);
  /** Start of the first minute at or after `from` that has anything to roll up. */
  const nextMinute = (from: number): number | null => {
    const raw = nextRaw.get(from) as number | null;
    if (raw !== null && raw < from + MINUTE_MS) return from;
    const run = nextRun.get(from, raw ?? Number.MAX_SAFE_INTEGER) as number | null;
    const t = run ?? raw;
    return t === null ? null : floorTo(t, MINUTE_MS);
  };
  const machineJson = JSON.stringify(opts.machine);
  if (meta.get(MACHINE_META) !== machineJson) meta.set(MACHINE_META, machineJson);

  let until = watermark(db, ROLLUP_1M_UNTIL);
  if (until === null) {
    const first = nextMinute(Number.MIN_SAFE_INTEGER);
    if (first === null) return { buckets: 0, until: null, more: false };
    until = first;
  }
  let buckets = 0;
  while (buckets < maxMinutes) {
    // Minutes with no data are skipped in the same step that rolls up the next one.
    const minute = nextMinute(until);
    if (minute === null || minute >= limit) {
      if (until < limit) {
        commit(db, series, ROLLUP_1M_UNTIL, limit, () => {});
        until = limit;
      }
      return { buckets, until, more: false };
    }
    commit(db, series, ROLLUP_1M_UNTIL, minute + MINUTE_MS, () => {
      // From the last sample before the minute: the minute's first interval ends in it.
      const from = (prevTs.get(minute) as number | null) ?? minute;
      const columns = rawColumns.read(from, minute + MINUTE_MS - 1, RAW_COLUMNS);
      const window = deriveWindow(columns, from, opts.machine.cores);
      for (const s of systemAggregates(window, minute, minute + MINUTE_MS)) {
        writer.mergeAggregate('1m', series.id(s.metric, s.entity), minute, s.aggregate);
      }
      const all: SeriesPoints[] = [];
      const { ts } = columns;
      const last = ts.length - 1;
      if (last > 0 && ts[last]! >= minute) {
        const bootTime = columns.system.boot_time![last]!;
        const span = {
          tStart: ts[0]!,
          tEnd: ts[last]!,
          bootTime: Number.isNaN(bootTime) ? null : bootTime,
        };
        all.push(...processPoints(sources, span, opts.machine));
      }
      all.push(...automationPoints(sources, minute, minute + MINUTE_MS));
      for (const s of all) writer.merge('1m', series.id(s.metric, s.entity), minute, s.points);
    });
    until = minute + MINUTE_MS;
    buckets++;
  }
  const pending = nextMinute(until);
  return { buckets, until, more: pending !== null && pending < limit };
}

function decodeRow(r: FinerRow, tier: Tier, bucket: number): QuantileSketch {
  try {
    return QuantileSketch.decode(r.sketch);
  } catch (err) {
    const unit = tier === '1m' ? 'hour' : 'day';
    throw new RollupError(
      `a ${tier} row of series ${r.series_id} in ${unit} ${bucket} is corrupt`,
      {
        cause: err,
      },
    );
  }
}

interface FinerRow {
  series_id: number;
  last: number;
  last_ts: number;
  sketch: Buffer;
}

/**
 * Merges each complete hour's 1-minute rows into rollup_1h, for hours after the watermark
 * only: points imported into hours already rolled up go to both tiers directly (see
 * importPoints), so re-deriving an hour would count them twice.
 */
export function rollupHours(db: Db, opts: { now: number; maxHours?: number }): RollupResult {
  return rollupCoarser(db, '1m', '1h', opts.now, opts.maxHours ?? 24);
}

/** Merges each complete UTC day's hour rows into rollup_1d, as rollupHours does hours. */
export function rollupDays(db: Db, opts: { now: number; maxDays?: number }): RollupResult {
  return rollupCoarser(db, '1h', '1d', opts.now, opts.maxDays ?? 7);
}

const UNTIL: Readonly<Record<Tier, string>> = {
  '1m': ROLLUP_1M_UNTIL,
  '1h': ROLLUP_1H_UNTIL,
  '1d': ROLLUP_1D_UNTIL,
};

/** Buckets of `coarse` merged from the `fine` rows its watermark has passed, one per transaction. */
function rollupCoarser(
  db: Db,
  fine: '1m' | '1h',
  coarse: Tier,
  now: number,
  maxBuckets: number,
): RollupResult {
  const fineUntil = watermark(db, UNTIL[fine]);
  if (fineUntil === null) return { buckets: 0, until: null, more: false };
  const size = TIER_MS[coarse];
  const limit = floorTo(Math.min(fineUntil, now), size);
  const { series, writer, coarser } = contextFor(db);
  const { firstAtOrAfter, bucketRows } = coarser[fine];
  const nextBucket = (from: number): number | null => {
    const t = firstAtOrAfter.get(from) as number | null;
    return t === null ? null : floorTo(t, size);
  };
  let until = watermark(db, UNTIL[coarse]);
  // Most calls come within a bucket: nothing complete yet, and no query needed to know it.
  if (until !== null && until >= limit) return { buckets: 0, until, more: false };
  if (until === null) {
    const first = nextBucket(Number.MIN_SAFE_INTEGER);
    if (first === null) return { buckets: 0, until: null, more: false };
    until = first;
  }
  let buckets = 0;
  while (buckets < maxBuckets) {
    const bucket = nextBucket(until);
    if (bucket === null || bucket >= limit) {
      if (until < limit) {
        commit(db, series, UNTIL[coarse], limit, () => {});
        until = limit;
      }
      return { buckets, until, more: false };
    }
    commit(db, series, UNTIL[coarse], bucket + size, () => {
      let id: number | null = null;
      let acc: Aggregate | null = null;
      const flush = () => {
        if (id !== null && acc !== null) writer.mergeAggregate(coarse, id, bucket, acc);
      };
      // .all(), not .iterate(): the connection cannot write while a statement iterates
      for (const r of bucketRows.all(bucket, bucket + size) as FinerRow[]) {
        const agg = { sketch: decodeRow(r, fine, bucket), last: r.last, lastTs: r.last_ts };
        if (r.series_id !== id) {
          flush();
          id = r.series_id;
          acc = agg;
        } else acc = mergeAggregates(acc!, agg);
      }
      flush();
    });
    until = bucket + size;
    buckets++;
  }
  const pending = nextBucket(until);
  return { buckets, until, more: pending !== null && pending < limit };
}
