/**
 * One query layer over all tiers. It picks the coarsest tier that answers the requested
 * resolution, and completes it with finer tiers past that tier's rollup watermark (the
 * hour still being filled comes from 1m rows, the minutes after that from raw samples), so
 * a range that reaches "now", or lies before the first rollup, is still answered whole.
 */
import { metricDef } from '../analyze/catalog.js';
import { QuantileSketch } from '../analyze/sketch.js';
import { quantileSorted } from '../analyze/stats.js';
import { InputError } from '../errors.js';
import type { MachineInfo } from '../types.js';
import { HOUR_MS, MINUTE_MS, TIER_MS, TIER_TABLE, floorTo, type Tier } from './bucket.js';
import { getMeta } from './db.js';
import { RawSystemCache, rawPoints } from './history-raw.js';
import type { Store } from './index.js';
import { MACHINE_META, ROLLUP_1H_UNTIL, ROLLUP_1M_UNTIL } from './rollup.js';
import { SeriesIds, parseEntity } from './series.js';
import { DEFAULT_MINUTE_RETENTION_MS } from './tiers.js';

export type HistoryTier = 'raw' | Tier;

export interface HistoryQuery {
  metric: string;
  entity: string;
  /** Epoch ms, inclusive. Rolled-up rows that overlap [from, to] count whole. */
  from: number;
  to: number;
  /** Width of each returned point; default: about 720 points over the range. */
  stepMs?: number;
  /** For the retention windows that decide the tier (default Date.now()). */
  now?: number;
  /** Retention per tier as configured for the recorder (defaults 48 h, 30 d, 2 y). */
  retentionMs?: Partial<Record<HistoryTier, number>>;
  /** For raw process metrics; default: what the recorder stored, else Linux's usual. */
  machine?: MachineInfo;
}

export interface HistoryPoint {
  /** Start of the step (a multiple of stepMs since the epoch). */
  ts: number;
  count: number;
  min: number;
  max: number;
  mean: number;
  last: number;
}

export interface HistorySummary {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface HistoryResult {
  /** The coarsest tier that contributed (the chosen one when nothing did). */
  tier: HistoryTier;
  stepMs: number;
  points: HistoryPoint[];
  summary: HistorySummary;
}

const DEFAULT_POINTS = 720;
const RAW_RETENTION_MS = 48 * HOUR_MS;
const LINUX_MACHINE: MachineInfo = { clockTicks: 100, pageSize: 4096, cores: 1 };

interface Acc {
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastTs: number;
}

interface RolledRow extends Acc {
  ts: number;
  sketch: Buffer;
}

function roundUp(v: number, unit: number): number {
  return Math.max(unit, Math.ceil(v / unit) * unit);
}

function validate(q: HistoryQuery) {
  const def = metricDef(q.metric);
  if (!def) throw new InputError('metric', `unknown metric ${q.metric}; see the metric catalog`);
  const entity = parseEntity(q.entity);
  if (entity.kind !== def.entity) {
    throw new InputError('entity', `${q.metric} belongs to a ${def.entity} entity`);
  }
  if (!Number.isFinite(q.from) || !Number.isFinite(q.to) || q.from > q.to) {
    throw new InputError('from', 'from and to must be epoch milliseconds with from <= to');
  }
  if (q.stepMs !== undefined && !(q.stepMs >= 1000 && Number.isFinite(q.stepMs))) {
    throw new InputError('stepMs', 'must be at least 1000 ms');
  }
  return entity;
}

/** The tier the resolution and retention call for, and the step rounded to it. */
export function chooseTier(q: HistoryQuery): { tier: HistoryTier; stepMs: number } {
  const step = q.stepMs ?? Math.ceil((q.to - q.from) / DEFAULT_POINTS);
  const now = q.now ?? Date.now();
  const keep = (t: HistoryTier, d: number) => q.retentionMs?.[t] ?? d;
  if (step < MINUTE_MS && q.from >= now - keep('raw', RAW_RETENTION_MS)) {
    return { tier: 'raw', stepMs: roundUp(step, 1000) };
  }
  if (step < HOUR_MS && q.from >= now - keep('1m', DEFAULT_MINUTE_RETENTION_MS)) {
    return { tier: '1m', stepMs: roundUp(step, MINUTE_MS) };
  }
  return { tier: '1h', stepMs: roundUp(step, HOUR_MS) };
}

function machineOf(store: Store, given: MachineInfo | undefined): MachineInfo {
  if (given) return given;
  const stored = getMeta(store.db, MACHINE_META);
  return stored === null ? LINUX_MACHINE : (JSON.parse(stored) as MachineInfo);
}

export function queryHistory(
  store: Store,
  q: HistoryQuery,
  system: RawSystemCache = new RawSystemCache(store),
): HistoryResult {
  const entity = validate(q);
  const { tier, stepMs } = chooseTier(q);
  const buckets = new Map<number, Acc>();
  const sketch = new QuantileSketch();
  const rawValues: number[] = [];
  let coarsest: HistoryTier | null = null;
  const add = (ts: number, a: Acc) => {
    const key = floorTo(ts, stepMs);
    const b = buckets.get(key);
    if (!b) buckets.set(key, { ...a });
    else {
      b.count += a.count;
      b.sum += a.sum;
      b.min = Math.min(b.min, a.min);
      b.max = Math.max(b.max, a.max);
      if (a.lastTs > b.lastTs || (a.lastTs === b.lastTs && a.last > b.last)) {
        b.last = a.last;
        b.lastTs = a.lastTs;
      }
    }
  };

  const id = new SeriesIds(store.db).find(q.metric, q.entity);
  const mark = (db: string, fallback: number) => {
    const v = getMeta(store.db, db);
    return v === null ? fallback : Number(v);
  };
  // Each tier answers up to its watermark; the next finer one from there on.
  let from = q.from;
  const rolled: Tier[] = tier === '1h' ? ['1h', '1m'] : tier === '1m' ? ['1m'] : [];
  for (const t of rolled) {
    const until = mark(t === '1h' ? ROLLUP_1H_UNTIL : ROLLUP_1M_UNTIL, -Infinity);
    if (until <= from) continue;
    // no series yet means its rollups never saw a value: nothing to read, nothing to derive
    const rows =
      id === null
        ? []
        : (store.db
            .prepare(
              `SELECT ts, count, sum, min, max, last, last_ts AS lastTs, sketch FROM ${TIER_TABLE[t]}
         WHERE series_id = ? AND ts >= ? AND ts <= ? AND ts < ? ORDER BY ts`,
            )
            .all(id, floorTo(from, TIER_MS[t]), q.to, until) as RolledRow[]);
    for (const r of rows) {
      add(r.ts, r);
      sketch.mergeEncoded(r.sketch);
    }
    if (rows.length > 0) coarsest ??= t;
    from = Math.max(from, until);
  }
  if (from <= q.to) {
    const ctx = { machine: machineOf(store, q.machine), system };
    const points = rawPoints(store, q.metric, entity, from, q.to, ctx);
    if (id !== null) {
      points.push(
        ...(store.db
          .prepare(
            'SELECT ts, value FROM imported_point WHERE series_id = ? AND ts BETWEEN ? AND ?',
          )
          .all(id, from, q.to) as { ts: number; value: number }[]),
      );
    }
    for (const p of points) {
      add(p.ts, {
        count: 1,
        sum: p.value,
        min: p.value,
        max: p.value,
        last: p.value,
        lastTs: p.ts,
      });
      rawValues.push(p.value);
    }
    if (points.length > 0) coarsest ??= 'raw';
  }

  const keys = [...buckets.keys()].sort((a, b) => a - b);
  return {
    tier: coarsest ?? tier,
    stepMs,
    points: keys.map((ts) => {
      const b = buckets.get(ts)!;
      return { ts, count: b.count, min: b.min, max: b.max, mean: b.sum / b.count, last: b.last };
    }),
    summary: summarize(sketch, rawValues),
  };
}

/** Exact percentiles when every value is at hand, the merged sketch's otherwise. */
function summarize(sketch: QuantileSketch, raw: number[]): HistorySummary {
  if (sketch.count === 0) {
    if (raw.length === 0) {
      return { count: 0, min: null, max: null, mean: null, p50: null, p95: null, p99: null };
    }
    const sorted = raw.sort((a, b) => a - b);
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: sorted.length,
      min: sorted[0]!,
      max: sorted[sorted.length - 1]!,
      mean: sum / sorted.length,
      p50: quantileSorted(sorted, 0.5),
      p95: quantileSorted(sorted, 0.95),
      p99: quantileSorted(sorted, 0.99),
    };
  }
  for (const v of raw) sketch.add(v);
  return {
    count: sketch.count,
    min: sketch.min,
    max: sketch.max,
    mean: sketch.sum / sketch.count,
    p50: sketch.quantile(0.5),
    p95: sketch.quantile(0.95),
    p99: sketch.quantile(0.99),
  };
}

/** Summary and points of several system metrics over one window, sharing raw derivation. */
export function systemMetricsSummary(
  store: Store,
  metrics: readonly string[],
  from: number,
  to: number,
  opts: Omit<HistoryQuery, 'metric' | 'entity' | 'from' | 'to'> = {},
): Record<string, HistoryResult> {
  const system = new RawSystemCache(store);
  const out: Record<string, HistoryResult> = {};
  for (const metric of metrics) {
    out[metric] = queryHistory(store, { ...opts, metric, entity: 'system', from, to }, system);
  }
  return out;
}
