/**
 * Raw samples of a window read as columns: one typed array per counter, NaN where NULL.
 * Reading a value out of SQLite costs about as much as deriving it, and building a
 * Snapshot object per sample costs more (and garbage), so the analysis of a long raw
 * window reads only the counters it derives from, straight into arrays.
 */
import { DEVICE_KEYFRAME_MS, DISK_COUNTERS, NET_COUNTERS, type DeviceKind } from './device-rows.js';
import { HUNDREDTHS_FIELDS, type SystemField } from '../types.js';
import type { Db } from './db.js';

export const CORE_MODES = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
] as const;

/** One device's counters at every snapshot of the window; NaN where it was absent. */
export interface DeviceColumns {
  name: string;
  counters: Record<string, Float64Array>;
}

export interface RawColumns {
  /** Snapshot times, oldest first. */
  ts: Float64Array;
  system: Partial<Record<SystemField, Float64Array>>;
  /** Per core, the mode counters at each snapshot (NaN where that core was not read). */
  cores: Record<(typeof CORE_MODES)[number], Float64Array>[];
  disks: DeviceColumns[];
  nets: DeviceColumns[];
}

const column = (n: number) => new Float64Array(n).fill(NaN);

export interface RawColumnOptions {
  fields: readonly SystemField[];
  cores: boolean;
}

/** Reads the snapshots with ts in [from, to]: the given system fields, cores if asked, devices. */
export function readRawColumns(
  db: Db,
  from: number,
  to: number,
  opts: RawColumnOptions,
): RawColumns {
  const ts = db
    .prepare('SELECT ts FROM system_raw WHERE ts BETWEEN ? AND ? ORDER BY ts')
    .pluck()
    .all(from, to) as number[];
  const where = { sql: 'ts BETWEEN ? AND ?', params: [from, to] };
  return {
    ...columns(db, ts, where, opts),
    disks: ts.length > 0 ? devices(db, 'disk', ts, from, to) : [],
    nets: ts.length > 0 ? devices(db, 'net', ts, from, to) : [],
  };
}

/**
 * Reads the snapshots at the given times only (ascending; times without a snapshot are
 * skipped): for counters at step boundaries, without reading the samples in between.
 */
export function readRawColumnsAt(
  db: Db,
  at: readonly number[],
  opts: RawColumnOptions,
): RawColumns {
  const where = { sql: 'ts IN (SELECT value FROM json_each(?))', params: [JSON.stringify(at)] };
  const ts = db
    .prepare(`SELECT ts FROM system_raw WHERE ${where.sql} ORDER BY ts`)
    .pluck()
    .all(...where.params) as number[];
  return {
    ...columns(db, ts, where, opts),
    disks: ts.length > 0 ? devicesAt(db, 'disk', ts) : [],
    nets: ts.length > 0 ? devicesAt(db, 'net', ts) : [],
  };
}

function columns(
  db: Db,
  tsList: number[],
  where: { sql: string; params: unknown[] },
  opts: RawColumnOptions,
): Pick<RawColumns, 'ts' | 'system' | 'cores'> {
  const n = tsList.length;
  const ts = Float64Array.from(tsList);
  const system: Partial<Record<SystemField, Float64Array>> = {};
  const cols = opts.fields.map((f) => (system[f] = column(n)));
  // Stored as integer hundredths (types.ts); read back as SampleQuery does.
  const scale = opts.fields.map((f) => (HUNDREDTHS_FIELDS.has(f) ? 100 : 1));
  if (n > 0 && cols.length > 0) {
    let i = 0;
    for (const row of db
      .prepare(`SELECT ${opts.fields.join(', ')} FROM system_raw WHERE ${where.sql} ORDER BY ts`)
      .raw()
      .iterate(...where.params) as Iterable<(number | null)[]>) {
      for (let j = 0; j < cols.length; j++) {
        const v = row[j];
        if (v !== null && v !== undefined) cols[j]![i] = scale[j] === 1 ? v : v / 100;
      }
      i++;
    }
  }
  const cores: RawColumns['cores'] = [];
  if (opts.cores && n > 0) {
    const index = new Map<number, number>();
    for (let i = 0; i < n; i++) index.set(tsList[i]!, i);
    for (const row of db
      .prepare(
        `SELECT ts, core, ${CORE_MODES.join(', ')} FROM core_raw WHERE ${where.sql}
         ORDER BY ts, core`,
      )
      .raw()
      .iterate(...where.params) as Iterable<number[]>) {
      const i = index.get(row[0]!);
      if (i === undefined) continue;
      const core = row[1]!;
      let c = cores[core];
      if (!c) {
        c = cores[core] = {} as RawColumns['cores'][number];
        for (const m of CORE_MODES) c[m] = column(n);
      }
      for (let j = 0; j < CORE_MODES.length; j++) {
        const v = row[j + 2];
        if (v !== null && v !== undefined) c[CORE_MODES[j]!][i] = v;
      }
    }
  }
  return { ts, system, cores };
}

const COUNTERS = { disk: DISK_COUNTERS, net: NET_COUNTERS } as const;
const TABLE = { disk: 'disk_raw', net: 'net_raw' } as const;

/**
 * Each device's latest row at or before every given snapshot time within one keyframe
 * interval before the first (as readRawColumns and SampleQuery carry rows forward), found
 * by one seek per device and time.
 */
function devicesAt(db: Db, kind: DeviceKind, ts: number[]): DeviceColumns[] {
  const counters = COUNTERS[kind];
  const since = ts[0]! - DEVICE_KEYFRAME_MS;
  const latest = db
    .prepare(
      `SELECT ${counters.join(', ')} FROM ${TABLE[kind]} WHERE device_id = ? AND ts BETWEEN ? AND ?
       ORDER BY ts DESC LIMIT 1`,
    )
    .raw();
  const out: DeviceColumns[] = [];
  for (const [id, name] of db
    .prepare('SELECT id, name FROM device WHERE kind = ? ORDER BY id')
    .raw()
    .all(kind) as [number, string][]) {
    const d: DeviceColumns = { name, counters: {} };
    for (const c of counters) d.counters[c] = column(ts.length);
    let seen = false;
    for (let i = 0; i < ts.length; i++) {
      const row = latest.get(id, since, ts[i]) as (number | null)[] | undefined;
      if (!row || row.every((v) => v === null)) continue;
      seen = true;
      for (let j = 0; j < counters.length; j++) {
        const v = row[j];
        if (v !== null && v !== undefined) d.counters[counters[j]!]![i] = v;
      }
    }
    if (seen) out.push(d);
  }
  return out;
}

/**
 * Each device's latest row at or before every snapshot, from the rows of one keyframe
 * interval before the window on (device-rows.ts); a tombstone (all counters NULL) ends
 * its presence.
 */
function devices(
  db: Db,
  kind: DeviceKind,
  ts: number[],
  from: number,
  to: number,
): DeviceColumns[] {
  const counters = COUNTERS[kind];
  const table = TABLE[kind];
  const rows = db
    .prepare(
      `SELECT r.ts, r.device_id, d.name, ${counters.map((c) => `r.${c}`).join(', ')}
       FROM ${table} r JOIN device d ON d.id = r.device_id
       WHERE r.ts BETWEEN ? AND ? ORDER BY r.ts, r.device_id`,
    )
    .raw()
    .all(from - DEVICE_KEYFRAME_MS, to) as [number, number, string, ...(number | null)[]][];
  const n = ts.length;
  // By device id, as SampleQuery orders a snapshot's devices.
  const byId: DeviceColumns[] = [];
  /** Each device's row as the snapshots advance; undefined after a tombstone. */
  const current: ((number | null)[] | undefined)[] = [];
  let next = 0;
  for (let i = 0; i < n; i++) {
    for (; next < rows.length && rows[next]![0] <= ts[i]!; next++) {
      const row = rows[next]!;
      const values = row.slice(3) as (number | null)[];
      current[row[1]] = values.every((v) => v === null) ? undefined : values;
      if (!byId[row[1]]) {
        const d: DeviceColumns = { name: row[2], counters: {} };
        for (const c of counters) d.counters[c] = column(n);
        byId[row[1]] = d;
      }
    }
    current.forEach((values, id) => {
      if (values === undefined) return;
      const cols = byId[id]!.counters;
      for (let j = 0; j < counters.length; j++) {
        const v = values[j];
        if (v !== null && v !== undefined) cols[counters[j]!]![i] = v;
      }
    });
  }
  return byId.filter((d) => Object.values(d.counters).some((c) => c.some((v) => !Number.isNaN(v))));
}
