/**
 * The analysis input for ranges longer than raw samples are derived for: the rolled-up
 * tiers, read as little as the analysis needs, and raw samples where they add something.
 *
 * - Statistics over the range come from the fewest rows: day rows for the whole days the
 *   daily rollup has passed, hour rows for the whole rolled hours around them, minute rows
 *   for the rest (store/history-rolled.ts). Count, sum, min and max of every system metric
 *   are aggregated in SQL in one query per tier. A percentile merges the
 *   quantile sketches of one metric's rows, read only when asked: a rule whose lowest
 *   threshold is above the metric's maximum never asks. So percentiles are those of the
 *   samples behind the rollups (within the sketches' 1 %), whatever the tier.
 * - Samples after the minute rollup's watermark (the last minute or two while the recorder
 *   runs; everything when nothing was rolled up) are derived from raw samples and counted
 *   with the rows.
 * - Per-step means (1 minute for ranges up to two days, else 1 hour) are read per metric
 *   when a window is wanted, and for cpu_percent, which also gives the number of steps.
 * - With `detail` (short ranges that raw samples cover): processes by PID and automation
 *   runs from raw samples, as for short ranges; and per-core busy, per-interface throughput,
 *   run queue, swapping, OOM kills and disk queue, which have no rollups, from the raw
 *   snapshot that ends each step (counters over the step, gauges as sampled then).
 * - Otherwise attribution is by command name, as the rollups keep the top consumers of each
 *   minute by name; totals come from the same rows as the statistics.
 */
import { SYSTEM_METRICS } from '../catalog.js';
import { QuantileSketch } from '../sketch.js';
import { getMeta } from '../../store/db.js';
import {
  RolledSeriesReader,
  addTo,
  aggregates,
  attributionTotals,
  coverOf,
  rawCovers,
  stepEnds,
  type Buckets,
  type Cover,
  type RolledAggregate,
} from '../../store/history-rolled.js';
import type { Store } from '../../store/index.js';
import { readRawColumnsAt } from '../../store/raw-columns.js';
import { ROLLUP_1D_UNTIL, ROLLUP_1H_UNTIL, ROLLUP_1M_UNTIL } from '../../store/rollup.js';
import type { MachineInfo } from '../../types.js';
import { DERIVE_FIELDS, deriveWindow, type DerivedWindow } from '../derive-window.js';
import { deriveRaw, rawAttribution, windowInput } from './load.js';
import { seriesStats } from './range-stats.js';
import type { AutomationShare, ProcessShare, RangeStats, Series, SystemInput } from './types.js';

const TOP = 5;
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Up to this range the 1-minute tier keeps short peaks visible; beyond, 1-hour rows. */
export const MINUTE_STEPS_UP_TO_MS = 2 * 86_400_000;

/** Statistics from rolled rows and the raw values after them. */
class RolledStats implements RangeStats {
  private sketch: QuantileSketch | null = null;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly last: number;

  constructor(
    agg: RolledAggregate | undefined,
    rolledLast: () => number,
    private readonly tail: readonly number[],
    private readonly sketchOf: () => QuantileSketch,
  ) {
    let count = agg?.count ?? 0;
    let sum = agg?.sum ?? 0;
    let min = agg?.min ?? Infinity;
    let max = agg?.max ?? -Infinity;
    for (const v of tail) {
      count++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.count = count;
    this.sum = sum;
    this.min = min;
    this.max = max;
    this.last = tail.length ? tail[tail.length - 1]! : rolledLast();
  }

  quantile(q: number): number {
    if (!this.sketch) {
      this.sketch = this.sketchOf();
      for (const v of this.tail) this.sketch.add(v);
    }
    return this.sketch.quantile(q) ?? this.max;
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

/** Per-step means; each point's ts is the end of its step. */
function toSeries(buckets: Buckets, step: number): Series {
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  return {
    ts: keys.map((t) => t + step),
    values: keys.map((t) => {
      const b = buckets.get(t)!;
      return b.sum / b.count;
    }),
  };
}

/** Metrics of the detail read from raw step boundaries; none of them is rolled up. */
const DETAIL_METRICS = [
  'run_queue_per_core',
  'swap_pages_per_second',
  'oom_kills',
  'disk_queue_depth',
] as const;

export interface RolledOptions {
  /** Attribution by PID and per-core, per-link and saturation series from raw samples. */
  detail: boolean;
  sysRoot?: string;
}

/** The input from rolled-up tiers, or null when nothing in the range was rolled up. */
export function loadRolledInput(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
  opts: RolledOptions = { detail: false },
): (SystemInput & { samples: number }) | null {
  const step = to - from > MINUTE_STEPS_UP_TO_MS ? HOUR : MINUTE;
  const meta = (key: string) => {
    const v = getMeta(store.db, key);
    return v === null ? null : Number(v);
  };
  // Statistics and totals from the coarsest rows; per-step means from hours at most.
  const cover = coverOf(from, to, meta(ROLLUP_1H_UNTIL), meta(ROLLUP_1D_UNTIL));
  const reader = new RolledSeriesReader(
    store,
    cover,
    coverOf(from, to, meta(ROLLUP_1H_UNTIL)),
    from,
    to,
  );

  const known = new Set<string>(SYSTEM_METRICS.map((m) => m.name));
  const ids = new Map<string, number>();
  for (const [id, metric] of store.db
    .prepare("SELECT id, metric FROM series WHERE entity = 'system'")
    .raw()
    .iterate() as Iterable<[number, string]>) {
    if (known.has(metric)) ids.set(metric, id);
  }
  const agg = aggregates(store, [...ids.values()], cover);
  if (agg.size === 0) return null;
  // Raw samples not rolled up yet (those at or after the minute watermark) count as well.
  const minuteUntil = meta(ROLLUP_1M_UNTIL);
  const tailFrom = minuteUntil === null ? from : Math.max(from, minuteUntil - 1);
  const tail: DerivedWindow | null = tailFrom < to ? deriveRaw(store, machine, tailFrom, to) : null;
  /**
   * A sample belongs to the minute it falls in, as in the rollups: one at a minute's start
   * opens that minute, so at the range's end it is not in the range.
   */
  const tailPoints = (metric: string): { ts: number; value: number }[] => {
    const out: { ts: number; value: number }[] = [];
    tail?.metrics[metric]?.forEach((v, i) => {
      const ts = tail.ts[i]!;
      if (v !== null && Number.isFinite(v) && Math.floor(ts / MINUTE) * MINUTE < to)
        out.push({ ts, value: v });
    });
    return out;
  };
  const detail = opts.detail && rawCovers(store, from, to, ids.get('cpu_percent'));
  const steps: DerivedWindow | null = detail
    ? deriveWindow(
        readRawColumnsAt(store.db, stepEnds(store, from, to, step), {
          fields: DERIVE_FIELDS,
          cores: true,
        }),
        from,
        machine.cores,
      )
    : null;
  const fromSteps = steps ? windowInput(steps, opts.sysRoot ?? '/sys') : null;

  const metrics: Record<string, Series> = {};
  for (const name of DETAIL_METRICS) {
    const s = fromSteps?.metrics[name];
    if (s) metrics[name] = s;
  }
  const statsCache = new Map<string, RangeStats | null>();
  const stats = (metric: string): RangeStats | null => {
    if (!known.has(metric)) return metrics[metric] ? seriesStats(metrics[metric]) : null;
    let s = statsCache.get(metric);
    if (s !== undefined) return s;
    const id = ids.get(metric);
    const a = id === undefined ? undefined : agg.get(id);
    const values = tailPoints(metric).map((p) => p.value);
    s =
      (a === undefined || a.count === 0) && values.length === 0
        ? null
        : new RolledStats(
            a,
            () => (id === undefined ? 0 : reader.last(id)),
            values,
            () => (id === undefined || a === undefined ? new QuantileSketch() : reader.sketch(id)),
          );
    statsCache.set(metric, s);
    return s;
  };
  const series = (metric: string): Series | undefined => {
    if (metric in metrics) return metrics[metric];
    if (!known.has(metric)) return undefined;
    const id = ids.get(metric);
    const buckets = reader.buckets(id !== undefined && agg.has(id) ? id : undefined, step);
    for (const p of tailPoints(metric)) addTo(buckets, step, p.ts, 1, p.value);
    if (buckets.size === 0) return undefined;
    return (metrics[metric] = toSeries(buckets, step));
  };

  const cpu = series('cpu_percent');
  const busyCpuSeconds =
    (reader.meanSeconds(ids.get('cpu_percent')) / 100) * machine.cores +
    (tail?.busyCpuSeconds ?? 0);
  const mem = stats('memory_used_bytes');
  const memUsed = mem ? mem.sum / mem.count : 0;
  const attribution = detail
    ? rawAttribution(store, machine, from, to, busyCpuSeconds, memUsed)
    : rolledAttribution(store, cover, busyCpuSeconds, memUsed);
  return {
    from,
    to,
    cores: machine.cores,
    resolutionMs: step,
    metrics,
    perCore: fromSteps?.perCore ?? [],
    links: fromSteps?.links ?? [],
    ...attribution,
    samples: cpu?.ts.length ?? 0,
    rolled: { stats, series },
  };
}

/** Processes and automations by name, from the rolled rows of the cover. */
function rolledAttribution(
  store: Store,
  cover: Cover,
  busyCpuSeconds: number,
  memUsed: number,
): Pick<SystemInput, 'processes' | 'automations'> {
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
    processes: { cpu: top(cpuShares), memory: top(memShares), io: [] },
    automations: top(automations),
  };
}
