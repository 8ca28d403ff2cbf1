/**
 * Raw samples of a window read as columns: one typed array per counter, NaN where NULL.
 * Reading a value out of SQLite costs about as much as deriving it, and building a
 * Snapshot object per sample costs more (and garbage), so the analysis of a long raw
 * window reads only the counters it derives from, straight into arrays.
 */
import type { Statement } from 'better-sqlite3';
import { DEVICE_KEYFRAME_MS, DISK_COUNTERS, NET_COUNTERS, type DeviceKind } from './device-rows.js';
import { SYSTEM_FIELDS, type SystemField } from '../types.js';
import { MINUTE_MS } from './bucket.js';
import { CounterBlobReader } from './counter-blob-reader.js';
import { CORE_MODES } from './counter-blob.js';
import type { Db } from './db.js';
import { SystemRows, type SystemRow } from './system-rows.js';

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
  return new RawColumnReader(db).read(from, to, opts);
}

/**
 * readRawColumns with its statements prepared once, for a caller that reads a window of
 * the same database again and again (the minute rollup, every minute).
 */
export class RawColumnReader {
  private readonly systemRows: SystemRows;
  private readonly deviceRows: Record<DeviceKind, Statement>;

  constructor(db: Db) {
    this.systemRows = new SystemRows(db);
    this.deviceRows = { disk: deviceRows(db, 'disk'), net: deviceRows(db, 'net') };
  }

  read(from: number, to: number, opts: RawColumnOptions): RawColumns {
    const rows = this.systemRows.range(from, to);
    const first = rows.findIndex((r) => r[0] >= from);
    const read = columns([{ rows, first: first < 0 ? rows.length : first }], opts);
    const ts = Array.from(read.ts);
    const range = (kind: DeviceKind) =>
      ts.length > 0 ? devices(this.deviceRows[kind], kind, ts, from, to) : [];
    return { ...read, disks: range('disk'), nets: range('net') };
  }
}

/**
 * Reads the snapshots at the given times only (ascending; times without a snapshot are
 * skipped): for counters at step boundaries, without reading the minutes in between. A
 * snapshot is read from its minute's keyframe on; the times of one minute are read together,
 * up to the last of them.
 */
export function readRawColumnsAt(
  db: Db,
  at: readonly number[],
  opts: RawColumnOptions,
): RawColumns {
  const systemRows = new SystemRows(db);
  const runs: Run[] = [];
  for (let i = 0; i < at.length;) {
    const minute = Math.floor(at[i]! / MINUTE_MS);
    let j = i + 1;
    while (j < at.length && Math.floor(at[j]! / MINUTE_MS) === minute) j++;
    const rows = systemRows.range(at[i]!, at[j - 1]!);
    // Of the rows read, those at the times asked; the others are read past.
    const keep: number[] = [];
    for (let r = 0, k = i; r < rows.length && k < j; r++) {
      while (k < j && at[k]! < rows[r]![0]) k++;
      if (k < j && at[k] === rows[r]![0]) keep.push(r);
    }
    if (keep.length > 0) runs.push({ rows, first: keep[0]!, keep });
    i = j;
  }
  const read = columns(runs, opts);
  const ts = Array.from(read.ts);
  return {
    ...read,
    disks: ts.length > 0 ? devicesAt(db, 'disk', ts) : [],
    nets: ts.length > 0 ? devicesAt(db, 'net', ts) : [],
  };
}

/**
 * Rows read in order from a keyframe: those from `first` on are snapshots of the result,
 * or only those at the indexes in `keep` (ascending) when given.
 */
interface Run {
  rows: readonly SystemRow[];
  first: number;
  keep?: readonly number[];
}

/** Decodes the blobs straight into columns: the fields asked, and the cores if asked. */
function columns(
  runs: readonly Run[],
  opts: RawColumnOptions,
): Pick<RawColumns, 'ts' | 'system' | 'cores'> {
  let n = 0;
  for (const run of runs) n += run.keep ? run.keep.length : run.rows.length - run.first;
  const ts = new Float64Array(n);
  const system: Partial<Record<SystemField, Float64Array>> = {};
  const cols = opts.fields.map((f) => (system[f] = column(n)));
  const at = Int32Array.from(opts.fields, (f) => SYSTEM_FIELDS.indexOf(f));
  const cores: RawColumns['cores'] = [];
  const decode = n > 0 && (cols.length > 0 || opts.cores);
  const reader = new CounterBlobReader();
  let i = 0;
  for (const { rows, first, keep } of runs) {
    // Rows before `first` are read for the values the next ones are stored against.
    const end = keep ? keep[keep.length - 1]! + 1 : rows.length;
    reader.restart();
    for (let r = decode ? 0 : first, k = 0; r < end; r++) {
      const row = rows[r]!;
      if (decode) reader.read(row[1], opts.cores, row[0]);
      if (r < first || (keep && keep[k] !== r)) continue;
      k++;
      ts[i] = row[0];
      if (decode) store(reader, i, cols, at, cores, n, opts.cores);
      i++;
    }
  }
  return { ts, system, cores };
}

/** The values of the row the reader read last, into the columns at index i. */
function store(
  reader: CounterBlobReader,
  i: number,
  cols: Float64Array[],
  at: Int32Array,
  cores: RawColumns['cores'],
  n: number,
  withCores: boolean,
): void {
  const values = reader.system;
  for (let j = 0; j < cols.length; j++) cols[j]![i] = values[at[j]!]!;
  if (!withCores) return;
  for (let c = 0; c < reader.coreCount; c++) {
    let times = cores[c];
    if (!times) {
      times = cores[c] = {} as RawColumns['cores'][number];
      for (const m of CORE_MODES) times[m] = column(n);
    }
    for (let m = 0; m < CORE_MODES.length; m++) {
      times[CORE_MODES[m]!][i] = reader.cores[c * CORE_MODES.length + m]!;
    }
  }
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

/** A device row as deviceRows reads it: ts, device id, name, then the kind's counters. */
type DeviceRow = [number, number, string, ...(number | null)[]];

/** The rows of one kind of device with ts in [?, ?], by ts then device id. */
function deviceRows(db: Db, kind: DeviceKind): Statement {
  return db
    .prepare(
      `SELECT r.ts, r.device_id, d.name, ${COUNTERS[kind].map((c) => `r.${c}`).join(', ')}
       FROM ${TABLE[kind]} r JOIN device d ON d.id = r.device_id
       WHERE r.ts BETWEEN ? AND ? ORDER BY r.ts, r.device_id`,
    )
    .raw();
}

/**
 * Each device's latest row at or before every snapshot, from the rows of one keyframe
 * interval before the window on (device-rows.ts), read by `rowsOf` (deviceRows); a
 * tombstone (all counters NULL) ends its presence.
 */
function devices(
  rowsOf: Statement,
  kind: DeviceKind,
  ts: number[],
  from: number,
  to: number,
): DeviceColumns[] {
  const counters = COUNTERS[kind];
  const rows = rowsOf.all(from - DEVICE_KEYFRAME_MS, to) as DeviceRow[];
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
