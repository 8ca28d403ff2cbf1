/**
 * The analysis input for ranges longer than raw samples are derived for: the rolled-up
 * tiers, read as little as the analysis needs.
 *
 * - Statistics over the range come from the fewest rows: hour rows for the whole hours the
 *   hourly rollup has passed, minute rows for the rest. Count, sum, min and max of every
 *   system metric are aggregated in SQL in one query per tier. A percentile merges the
 *   quantile sketches of one metric's rows, read only when asked: a rule whose lowest
 *   threshold is above the metric's maximum never asks. So percentiles are those of the
 *   samples behind the rollups (within the sketches' 1 %), whatever the tier.
 * - Per-step means (1 minute for ranges up to two days, else 1 hour) are read per metric
 *   when a window is wanted, and for cpu_percent, which also gives the busy CPU time.
 * - Attribution is by command name, as the rollups keep the top consumers of each minute
 *   by name; totals come from the same hour and minute rows as the statistics.
 */
import { SYSTEM_METRICS } from '../catalog.js';
import { QuantileSketch } from '../sketch.js';
import { getMeta } from '../../store/db.js';
import type { Store } from '../../store/index.js';
import { ROLLUP_1H_UNTIL } from '../../store/rollup.js';
import type { MachineInfo } from '../../types.js';
import type { AutomationShare, ProcessShare, RangeStats, Series, SystemInput } from './types.js';

const TOP = 5;
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Up to this range the 1-minute tier keeps short peaks visible; beyond, 1-hour rows. */
export const MINUTE_STEPS_UP_TO_MS = 2 * 86_400_000;

/** Row ranges [from, to) of each tier that cover the analysed range once. */
interface Cover {
  /** Whole hours the hourly rollup has passed: [from, to), empty when from >= to. */
  hours: [number, number];
  /** Minute rows outside those hours. */
  minutes: [number, number][];
}

/**
 * Rows are keyed by the start of their bucket; a bucket starting in [from, to) counts. Hour
 * rows are used for the whole hours in the range that the hourly rollup has passed, minute
 * rows before and after them, so no sample counts twice.
 */
export function coverOf(from: number, to: number, hourUntil: number | null): Cover {
  const hStart = Math.ceil(from / HOUR) * HOUR;
  const hEnd = hourUntil === null ? hStart : Math.min(hourUntil, Math.floor(to / HOUR) * HOUR);
  if (hEnd <= hStart) return { hours: [0, 0], minutes: [[from, to]] };
  const minutes: [number, number][] = [];
  if (from < hStart) minutes.push([from, hStart]);
  if (hEnd < to) minutes.push([hEnd, to]);
  return { hours: [hStart, hEnd], minutes };
}

/** [table, from, to) pairs for a cover, hour part first. */
function parts(c: Cover): [string, number, number][] {
  const out: [string, number, number][] = [];
  if (c.hours[0] < c.hours[1]) out.push(['rollup_1h', c.hours[0], c.hours[1]]);
  for (const [a, b] of c.minutes) out.push(['rollup_1m', a, b]);
  return out;
}

interface Aggregate {
  rows: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

class RolledStats implements RangeStats {
  private sketch: QuantileSketch | null = null;

  constructor(
    private readonly agg: Aggregate,
    readonly last: number,
    private readonly sketchOf: () => QuantileSketch,
  ) {}

  get count(): number {
    return this.agg.count;
  }
  get sum(): number {
    return this.agg.sum;
  }
  get min(): number {
    return this.agg.min;
  }
  get max(): number {
    return this.agg.max;
  }

  quantile(q: number): number {
    this.sketch ??= this.sketchOf();
    return this.sketch.quantile(q) ?? this.agg.max;
  }
}

function share(command: string, amount: number, total: number, unit: string): ProcessShare {
  return {
    pid: 0,
    command,
    cmdline: '',
    start_ticks: 0,
    share: total > 0 ? Math.min(1, amount / total) : 0,
    amount: Math.round(amount * 1000) / 1000,
    unit,
  };
}

const top = <T extends { amount: number }>(xs: T[]) =>
  xs.sort((a, b) => b.amount - a.amount).slice(0, TOP);

/** Reads one system series' rows over a cover: aggregates, sketches and per-step means. */
class SeriesReader {
  constructor(
    private readonly store: Store,
    private readonly cover: Cover,
    private readonly from: number,
    private readonly to: number,
  ) {}

  private each(sql: (table: string) => string, id: number, fn: (row: unknown[]) => void): void {
    for (const [table, a, b] of parts(this.cover)) {
      for (const row of this.store.db.prepare(sql(table)).raw().iterate(id, a, b) as Iterable<
        unknown[]
      >) {
        fn(row);
      }
    }
  }

  sketch(id: number): QuantileSketch {
    const s = new QuantileSketch();
    this.each(
      (t) => `SELECT sketch FROM ${t} WHERE series_id = ? AND ts >= ? AND ts < ?`,
      id,
      (row) => s.mergeEncoded(row[0] as Buffer),
    );
    return s;
  }

  /** The value of the latest row (by the time of its last sample). */
  last(id: number): number {
    let last = 0;
    let lastTs = Number.NEGATIVE_INFINITY;
    for (const [table, a, b] of parts(this.cover)) {
      const row = this.store.db
        .prepare(
          `SELECT last, last_ts FROM ${table} WHERE series_id = ? AND ts >= ? AND ts < ?
           ORDER BY ts DESC LIMIT 1`,
        )
        .raw()
        .get(id, a, b) as [number, number] | undefined;
      if (row && row[1] > lastTs) [last, lastTs] = row;
    }
    return last;
  }

  /** Per-step means; each point's ts is the end of its step. */
  series(id: number, step: number): Series {
    const buckets = new Map<number, { count: number; sum: number }>();
    const add = (ts: number, count: number, sum: number) => {
      const key = Math.floor(ts / step) * step;
      const b = buckets.get(key);
      if (b) {
        b.count += count;
        b.sum += sum;
      } else buckets.set(key, { count, sum });
    };
    if (step >= HOUR) {
      this.each(
        (t) => `SELECT ts, count, sum FROM ${t} WHERE series_id = ? AND ts >= ? AND ts < ?`,
        id,
        (r) => add(r[0] as number, r[1] as number, r[2] as number),
      );
    } else {
      // Minute steps read minute rows only: hour rows cannot be split into minutes.
      for (const r of this.store.db
        .prepare('SELECT ts, count, sum FROM rollup_1m WHERE series_id = ? AND ts >= ? AND ts < ?')
        .raw()
        .iterate(id, this.from, this.to) as Iterable<[number, number, number]>) {
        add(r[0], r[1], r[2]);
      }
    }
    const keys = [...buckets.keys()].sort((a, b) => a - b);
    return {
      ts: keys.map((t) => t + step),
      values: keys.map((t) => {
        const b = buckets.get(t)!;
        return b.sum / b.count;
      }),
    };
  }
}

/** Count, sum, min and max per series id over a cover, one grouped query per tier. */
function aggregates(store: Store, ids: readonly number[], c: Cover): Map<number, Aggregate> {
  const out = new Map<number, Aggregate>();
  if (ids.length === 0) return out;
  const list = ids.join(', ');
  for (const [table, a, b] of parts(c)) {
    const rows = store.db
      .prepare(
        `SELECT series_id, count(*), sum(count), sum(sum), min(min), max(max) FROM ${table}
         WHERE series_id IN (${list}) AND ts >= ? AND ts < ? GROUP BY series_id`,
      )
      .raw()
      .all(a, b) as [number, number, number, number, number, number][];
    for (const [id, rowCount, count, sum, min, max] of rows) {
      const e = out.get(id);
      if (!e) out.set(id, { rows: rowCount, count, sum, min, max });
      else {
        e.rows += rowCount;
        e.count += count;
        e.sum += sum;
        e.min = Math.min(e.min, min);
        e.max = Math.max(e.max, max);
      }
    }
  }
  return out;
}

interface Total {
  metric: string;
  name: string;
  count: number;
  sum: number;
  max: number;
}

/**
 * Totals per process and automation series over a cover. Grouping by (metric, entity)
 * follows the series index the join walks, so SQLite aggregates as it goes instead of
 * sorting every row first.
 */
function attributionTotals(store: Store, c: Cover): Total[] {
  const by = new Map<string, Total>();
  for (const [table, a, b] of parts(c)) {
    const rows = store.db
      .prepare(
        `SELECT s.metric, s.entity, sum(r.count), sum(r.sum), max(r.max)
         FROM series s JOIN ${table} r ON r.series_id = s.id
         WHERE s.metric IN ('process_cpu_percent', 'process_rss_bytes', 'execution_cpu_ms')
           AND r.ts >= ? AND r.ts < ?
         GROUP BY s.metric, s.entity`,
      )
      .raw()
      .all(a, b) as [string, string, number, number, number][];
    for (const [metric, entity, count, sum, max] of rows) {
      const key = `${metric}\u0000${entity}`;
      const e = by.get(key);
      if (!e) {
        by.set(key, { metric, name: entity.slice(entity.indexOf(':') + 1), count, sum, max });
      } else {
        e.count += count;
        e.sum += sum;
        e.max = Math.max(e.max, max);
      }
    }
  }
  return [...by.values()];
}

export function loadRolledInput(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
): SystemInput & { samples: number } {
  const step = to - from > MINUTE_STEPS_UP_TO_MS ? HOUR : MINUTE;
  const hourUntil = getMeta(store.db, ROLLUP_1H_UNTIL);
  const cover = coverOf(from, to, hourUntil === null ? null : Number(hourUntil));
  const reader = new SeriesReader(store, cover, from, to);

  const known = new Set<string>(SYSTEM_METRICS.map((m) => m.name));
  const ids = new Map<string, number>();
  for (const [id, metric] of store.db
    .prepare("SELECT id, metric FROM series WHERE entity = 'system'")
    .raw()
    .iterate() as Iterable<[number, string]>) {
    if (known.has(metric)) ids.set(metric, id);
  }
  const agg = aggregates(store, [...ids.values()], cover);
  const statsCache = new Map<string, RangeStats | null>();
  const metrics: Record<string, Series> = {};
  const stats = (metric: string): RangeStats | null => {
    let s = statsCache.get(metric);
    if (s !== undefined) return s;
    const id = ids.get(metric);
    const a = id === undefined ? undefined : agg.get(id);
    s =
      id === undefined || a === undefined || a.count === 0
        ? null
        : new RolledStats(a, reader.last(id), () => reader.sketch(id));
    statsCache.set(metric, s);
    return s;
  };
  const series = (metric: string): Series | undefined => {
    if (metric in metrics) return metrics[metric];
    const id = ids.get(metric);
    if (id === undefined || !agg.has(id)) return undefined;
    return (metrics[metric] = reader.series(id, step));
  };

  const cpu = series('cpu_percent');
  const busyCpuSeconds = (cpu?.values ?? []).reduce<number>(
    (n, v) => n + ((v ?? 0) / 100) * machine.cores * (step / 1000),
    0,
  );
  const mem = stats('memory_used_bytes');
  const memUsed = mem ? mem.sum / mem.count : 0;

  const cpuShares: ProcessShare[] = [];
  const memShares: ProcessShare[] = [];
  const automations: AutomationShare[] = [];
  for (const t of attributionTotals(store, cover)) {
    if (t.metric === 'process_cpu_percent') {
      // Each rolled process value is one minute at that CPU %: seconds = sum % × 60 / 100.
      cpuShares.push(share(t.name, (t.sum * 60) / 100, busyCpuSeconds, 'cpu_seconds'));
    } else if (t.metric === 'process_rss_bytes') {
      memShares.push(share(t.name, t.max, memUsed, 'bytes'));
    } else {
      const cpuSeconds = t.sum / 1000;
      automations.push({
        automation: t.name,
        runs: t.count,
        share: busyCpuSeconds > 0 ? Math.min(1, cpuSeconds / busyCpuSeconds) : 0,
        amount: Math.round(cpuSeconds * 1000) / 1000,
        unit: 'cpu_seconds',
      });
    }
  }
  return {
    from,
    to,
    cores: machine.cores,
    resolutionMs: step,
    metrics,
    perCore: [],
    links: [],
    processes: { cpu: top(cpuShares), memory: top(memShares), io: [] },
    automations: top(automations),
    samples: cpu?.ts.length ?? 0,
    rolled: { stats, series },
  };
}
