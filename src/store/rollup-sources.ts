/**
 * What one minute contributes, as points per (metric, entity): the system metrics of its
 * intervals, the processes that matter (by command name) and finished automation runs.
 */
import type { Statement } from 'better-sqlite3';
import { SYSTEM_METRICS } from '../analyze/catalog.js';
import type { DerivedWindow } from '../analyze/derive-window.js';
import { processKey } from '../analyze/derive.js';
import type { MachineInfo } from '../types.js';
import { QuantileSketch } from '../analyze/sketch.js';
import { RollupError, type Aggregate, type Point } from './bucket.js';
import type { Db } from './db.js';
import { SYSTEM_ENTITY, automationEntityLenient, processEntityLenient } from './series.js';

export const TOP_PROCESSES = 10;

export interface SeriesPoints {
  metric: string;
  entity: string;
  points: Point[];
}

interface Exited {
  pid: number;
  start_ticks: number;
  comm: string;
  ticks: number | null;
}

/** One series' aggregate for a bucket. */
export interface SeriesAggregate {
  metric: string;
  entity: string;
  aggregate: Aggregate;
}

/**
 * Every system catalog metric of each interval (as deriveSystem gives it for each pair of
 * consecutive snapshots), at the interval's end, in catalog order, aggregated straight from
 * the window's columns (the same as `aggregate` of the points, without a point per value);
 * series without a finite value are left out. Every interval must end in [from, to).
 */
export function systemAggregates(w: DerivedWindow, from: number, to: number): SeriesAggregate[] {
  const { ts } = w;
  for (const t of ts) {
    if (t < from || t >= to)
      throw new RollupError(`an interval ends at ${t}, outside the bucket [${from}, ${to})`);
  }
  const out: SeriesAggregate[] = [];
  for (const { name: metric } of SYSTEM_METRICS) {
    const values = w.metrics[metric];
    let sketch: QuantileSketch | null = null;
    let last = 0;
    let lastTs = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === null || !Number.isFinite(v)) continue;
      (sketch ??= new QuantileSketch()).add(v);
      // interval ends increase, so the last finite value is the bucket's last
      last = v;
      lastTs = ts[i]!;
    }
    if (sketch) out.push({ metric, entity: SYSTEM_ENTITY, aggregate: { sketch, last, lastTs } });
  }
  return out;
}

/**
 * The statements of processPoints and automationPoints, prepared once: the recorder rolls
 * up every minute (rollup.ts keeps them per database).
 */
export interface MinuteSources {
  /** Each process alive at a time, with its CPU ticks and RSS pages then. */
  alive: Statement;
  exited: Statement;
  runs: Statement;
}

/** A process as `alive` reads it. */
interface Alive {
  pid: number;
  start_ticks: number;
  comm: string;
  ticks: number;
  rss_pages: number;
}

export function minuteSources(db: Db): MinuteSources {
  return {
    // One statement for what processStatesAt gives, less the I/O counters and the identity
    // the rollup does not use: two index seeks per process, none of them from JavaScript.
    alive: db.prepare(
      `SELECT p.pid, p.start_ticks, p.comm, ifnull(r.utime, 0) + ifnull(r.stime, 0) AS ticks,
              ifnull(r.rss_pages, 0) AS rss_pages
       FROM process p CROSS JOIN process_raw r
         ON r.process_id = p.id AND r.ts = (SELECT max(ts) FROM process_raw
                                            WHERE process_id = p.id AND ts <= @at)
       WHERE p.first_seen <= @at AND (p.exited_at IS NULL OR p.exited_at >= @at)`,
    ),
    exited: db.prepare(
      `SELECT pid, start_ticks, comm, (SELECT utime + stime FROM process_raw r
         WHERE r.process_id = p.id AND r.ts <= p.exited_at ORDER BY r.ts DESC LIMIT 1) AS ticks
       FROM process p WHERE exited_at > ? AND exited_at <= ?`,
    ),
    runs: db.prepare(
      `SELECT automation, ended_at, wall_ms, cpu_ms, peak_rss_bytes, status FROM automation_run
       WHERE ended_at >= ? AND ended_at < ? AND status IN ('ok', 'failed') ORDER BY ended_at`,
    ),
  };
}

/**
 * Per command name: mean CPU (% of one core) over [tStart, tEnd] from counters at both ends,
 * and RSS at tEnd, for the top N by CPU and the top N by RSS. A process first seen within
 * the window counts all its CPU when it started inside the window (by its start time), and
 * one that exited counts up to its last stored row.
 */
export function processPoints(
  sources: MinuteSources,
  window: { tStart: number; tEnd: number; bootTime: number | null },
  machine: MachineInfo,
): SeriesPoints[] {
  const { tStart, tEnd, bootTime } = window;
  const before = new Map<string, number>();
  for (const p of sources.alive.all({ at: tStart }) as Alive[]) before.set(processKey(p), p.ticks);
  const exited = sources.exited.all(tStart, tEnd) as Exited[];
  const gone = new Set(exited.map(processKey));
  // A process without a start-of-window reading is new only if it started in the window;
  // otherwise (processes not sampled then) its lifetime CPU would read as a spike.
  const startedInWindow = (startTicks: number) =>
    bootTime !== null &&
    bootTime * 1000 + (startTicks / machine.clockTicks) * 1000 >= tStart - 1000;
  const byComm = new Map<string, { cpuTicks: number; rss: number }>();
  const entry = (comm: string) => {
    let e = byComm.get(comm);
    if (!e) byComm.set(comm, (e = { cpuTicks: 0, rss: 0 }));
    return e;
  };
  const addCpu = (key: string, startTicks: number, comm: string, ticks: number | null) => {
    const e = entry(comm);
    if (ticks === null) return;
    const start = before.get(key) ?? (startedInWindow(startTicks) ? 0 : null);
    if (start !== null && ticks >= start) e.cpuTicks += ticks - start;
  };
  for (const p of sources.alive.all({ at: tEnd }) as Alive[]) {
    const key = processKey(p);
    if (gone.has(key)) continue;
    addCpu(key, p.start_ticks, p.comm, p.ticks);
    entry(p.comm).rss += p.rss_pages * machine.pageSize;
  }
  for (const p of exited) addCpu(processKey(p), p.start_ticks, p.comm, p.ticks);

  const seconds = (tEnd - tStart) / 1000;
  const rows = [...byComm].map(([comm, e]) => ({
    comm,
    cpu: (e.cpuTicks / machine.clockTicks / seconds) * 100,
    rss: e.rss,
  }));
  const top = new Set([
    ...[...rows].sort((a, b) => b.cpu - a.cpu).slice(0, TOP_PROCESSES),
    ...[...rows].sort((a, b) => b.rss - a.rss).slice(0, TOP_PROCESSES),
  ]);
  const out: SeriesPoints[] = [];
  for (const r of top) {
    const entity = processEntityLenient(r.comm);
    out.push({ metric: 'process_cpu_percent', entity, points: [{ ts: tEnd, value: r.cpu }] });
    out.push({ metric: 'process_rss_bytes', entity, points: [{ ts: tEnd, value: r.rss }] });
  }
  return out;
}

interface RunRow {
  automation: string;
  ended_at: number;
  wall_ms: number | null;
  cpu_ms: number | null;
  peak_rss_bytes: number | null;
  status: 'ok' | 'failed';
}

/**
 * Runs that finished in [from, to): one point per run for time, CPU and peak memory, and
 * error_rate as one 0/1 point per run, so a bucket's mean IS its error rate and merging
 * minutes into hours weighs every run alike (a mean of per-minute ratios would not).
 * Interrupted runs (the recorder of the run died) have no trustworthy measurements.
 */
export function automationPoints(sources: MinuteSources, from: number, to: number): SeriesPoints[] {
  const runs = sources.runs.all(from, to) as RunRow[];
  const series = new Map<string, SeriesPoints>();
  const push = (metric: string, name: string, ts: number, value: number | null) => {
    if (value === null || !Number.isFinite(value)) return;
    const entity = automationEntityLenient(name);
    const key = `${metric}\u0000${entity}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = { metric, entity, points: [] }));
    s.points.push({ ts, value });
  };
  for (const r of runs) {
    push('execution_time_ms', r.automation, r.ended_at, r.wall_ms);
    push('execution_cpu_ms', r.automation, r.ended_at, r.cpu_ms);
    push('execution_peak_rss_bytes', r.automation, r.ended_at, r.peak_rss_bytes);
    push('error_rate', r.automation, r.ended_at, r.status === 'failed' ? 1 : 0);
  }
  return [...series.values()];
}
