/**
 * The raw tier of history: catalog values derived from stored counters, the same way the
 * rollups derive them, plus points imported for the series.
 */
import type { SystemMetric } from '../analyze/catalog.js';
import { deriveSystem, type SystemValues } from '../analyze/derive.js';
import type { MachineInfo } from '../types.js';
import { CounterBlobReader } from './counter-blob-reader.js';
import type { Point } from './bucket.js';
import type { Store } from './index.js';
import type { Entity } from './series.js';
import { SystemRows } from './system-rows.js';

interface DerivedAt {
  ts: number;
  values: SystemValues;
}

/**
 * Derived system values for a window, computed once for every metric asked of it (the
 * analyzer asks for many metrics of the same window).
 */
export class RawSystemCache {
  private key = '';
  private cached: DerivedAt[] = [];

  constructor(private readonly store: Store) {}

  values(from: number, to: number): DerivedAt[] {
    const key = `${from}:${to}`;
    if (key === this.key) return this.cached;
    const prev = this.store.db
      .prepare('SELECT max(ts) FROM system_raw WHERE ts < ?')
      .pluck()
      .get(from) as number | null;
    const snaps = this.store.query.systemSnapshots(prev ?? from, to);
    const out: DerivedAt[] = [];
    for (let i = 1; i < snaps.length; i++) {
      const cur = snaps[i]!;
      out.push({ ts: cur.ts, values: deriveSystem(snaps[i - 1]!, cur) });
    }
    this.key = key;
    this.cached = out;
    return out;
  }
}

interface ProcRow {
  id: number;
  start_ticks: number;
  first_seen: number;
  exited_at: number | null;
}

interface StateRow {
  ts: number;
  ticks: number;
  rss_pages: number;
}

/** The last row at or before t, advancing a cursor over rows sorted by ts. */
function stateAt(rows: readonly StateRow[], cursor: { i: number }, t: number): StateRow | null {
  while (cursor.i + 1 < rows.length && rows[cursor.i + 1]!.ts <= t) cursor.i++;
  const r = rows[cursor.i];
  return r !== undefined && r.ts <= t ? r : null;
}

/**
 * process_cpu_percent or process_rss_bytes of every process named `comm`, summed, at each
 * snapshot in [from, to]: CPU over the interval since the previous snapshot, RSS at it.
 */
function processValues(
  store: Store,
  metric: string,
  comm: string,
  from: number,
  to: number,
  machine: MachineInfo,
): Point[] {
  const db = store.db;
  const counters = new CounterBlobReader();
  // The snapshots in [from, to] and the one before, read from its keyframe on.
  const before = db.prepare('SELECT max(ts) FROM system_raw WHERE ts < ?').pluck().get(from) as
    number | null;
  const start = before ?? from;
  const snaps: { ts: number; boot_time: number | null }[] = [];
  for (const [ts, blob] of new SystemRows(db).range(start, to)) {
    counters.read(blob, false, ts);
    if (ts >= start) snaps.push({ ts, boot_time: counters.field('boot_time') });
  }
  const procs = db
    .prepare(
      `SELECT id, start_ticks, first_seen, exited_at FROM process
       WHERE comm = ? AND first_seen <= ? AND (exited_at IS NULL OR exited_at >= ?)`,
    )
    .all(comm, to, snaps[0]?.ts ?? from) as ProcRow[];
  const rowsOf = db.prepare(
    `SELECT ts, utime + stime AS ticks, rss_pages FROM process_raw WHERE process_id = ?
     AND ts >= coalesce((SELECT max(ts) FROM process_raw WHERE process_id = ? AND ts <= ?), ?)
     AND ts <= ? ORDER BY ts`,
  );
  const tracks = procs.map((p) => ({
    p,
    rows: rowsOf.all(p.id, p.id, snaps[0]?.ts ?? from, Number.MIN_SAFE_INTEGER, to) as StateRow[],
    atA: { i: 0 },
    atB: { i: 0 },
  }));
  const out: Point[] = [];
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1]!;
    const b = snaps[i]!;
    let cpuTicks = 0;
    let rss = 0;
    let alive = 0;
    for (const t of tracks) {
      if (t.p.first_seen > b.ts || (t.p.exited_at !== null && t.p.exited_at <= b.ts)) continue;
      const atB = stateAt(t.rows, t.atB, b.ts);
      if (!atB) continue;
      alive++;
      rss += atB.rss_pages * machine.pageSize;
      const atA = t.p.first_seen <= a.ts ? stateAt(t.rows, t.atA, a.ts) : null;
      const started =
        b.boot_time !== null &&
        b.boot_time * 1000 + (t.p.start_ticks / machine.clockTicks) * 1000 >= a.ts - 1000;
      const base = atA ? atA.ticks : started ? 0 : null;
      if (base !== null && atB.ticks >= base) cpuTicks += atB.ticks - base;
    }
    if (alive === 0) continue;
    const value =
      metric === 'process_rss_bytes'
        ? rss
        : (cpuTicks / machine.clockTicks / ((b.ts - a.ts) / 1000)) * 100;
    out.push({ ts: b.ts, value });
  }
  return out;
}

const RUN_COLUMN: Readonly<Record<string, string>> = {
  execution_time_ms: 'wall_ms',
  execution_cpu_ms: 'cpu_ms',
  execution_peak_rss_bytes: 'peak_rss_bytes',
  error_rate: "CASE status WHEN 'failed' THEN 1 ELSE 0 END",
};

/** Derived points of one series in [from, to] (catalog metric, validated entity). */
export function rawPoints(
  store: Store,
  metric: string,
  entity: Entity,
  from: number,
  to: number,
  ctx: { machine: MachineInfo; system: RawSystemCache },
): Point[] {
  if (entity.kind === 'system') {
    const out: Point[] = [];
    for (const d of ctx.system.values(from, to)) {
      const v = d.values[metric as SystemMetric];
      if (v !== null && v !== undefined && Number.isFinite(v)) out.push({ ts: d.ts, value: v });
    }
    return out;
  }
  if (entity.kind === 'process') {
    if (metric !== 'process_cpu_percent' && metric !== 'process_rss_bytes') return [];
    return processValues(store, metric, entity.name, from, to, ctx.machine);
  }
  const column = RUN_COLUMN[metric];
  if (column === undefined) return [];
  return store.db
    .prepare(
      `SELECT ended_at AS ts, ${column} AS value FROM automation_run WHERE automation = ?
       AND ended_at BETWEEN ? AND ? AND status IN ('ok', 'failed') AND ${column} IS NOT NULL
       ORDER BY ended_at`,
    )
    .all(entity.name, from, to) as Point[];
}
