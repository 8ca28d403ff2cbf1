import type { Statement } from 'better-sqlite3';
import { emptySystem } from '../collect/collector.js';
import {
  type DiskCounters,
  type NetCounters,
  type ProcessCounters,
  type Snapshot,
} from '../types.js';
import { CounterBlobReader, coresOf, systemOf } from './counter-blob-reader.js';
import type { Db } from './db.js';
import { DEVICE_KEYFRAME_MS, isTombstone, type DeviceKind } from './device-rows.js';
import { ioAtSql } from './process-io.js';
import { SystemRows } from './system-rows.js';

export interface ProcessIdentity {
  id: number;
  pid: number;
  start_ticks: number;
  ppid: number;
  uid: number;
  comm: string;
  cmdline: string;
  first_seen: number;
  exited_at: number | null;
}

interface ProcessRow {
  ts: number;
  utime: number;
  stime: number;
  rss_pages: number;
  threads: number;
  read_bytes: number | null;
  write_bytes: number | null;
}

/** A disk_raw or net_raw row joined with its device name; counters null in a tombstone. */
type DeviceRow = Record<string, number | string | null> & { ts: number; device_id: number };

/**
 * Gives each snapshot (oldest first) the devices present at its ts with their latest
 * counters, in device id order, from the device rows of one keyframe interval before the
 * first snapshot to the last, ordered by ts. A tombstone ends a device's presence.
 */
function carryForward(
  rows: readonly DeviceRow[],
  kind: DeviceKind,
  snaps: readonly Snapshot[],
  set: (snap: Snapshot, devices: object[]) => void,
): void {
  const current: (object | undefined)[] = [];
  let next = 0;
  for (const snap of snaps) {
    for (; next < rows.length && rows[next]!.ts <= snap.ts; next++) {
      const { ts: _ts, device_id: id, ...counters } = rows[next]!;
      current[id] = isTombstone(counters, kind) ? undefined : counters;
    }
    const devices: object[] = [];
    for (const counters of current) if (counters !== undefined) devices.push(counters);
    set(snap, devices);
  }
}

export interface TableCounts {
  system_raw: number;
  process_raw: number;
  process: number;
  automation_run: number;
  audit: number;
}

/** The single place that reads samples back. */
export class SampleQuery {
  private readonly systemRows: SystemRows;
  private readonly diskRange: Statement;
  private readonly netRange: Statement;
  private readonly processesInWindow: Statement;
  private readonly processRowAtOrBefore: Statement;
  private readonly processIoAt: Statement;
  private readonly latestTs: Statement;
  private readonly oldestTs: Statement;

  constructor(private readonly db: Db) {
    this.systemRows = new SystemRows(db);
    this.diskRange = db.prepare(
      'SELECT r.*, d.name FROM disk_raw r JOIN device d ON d.id = r.device_id WHERE r.ts BETWEEN ? AND ? ORDER BY r.ts, r.device_id',
    );
    this.netRange = db.prepare(
      'SELECT r.*, d.name FROM net_raw r JOIN device d ON d.id = r.device_id WHERE r.ts BETWEEN ? AND ? ORDER BY r.ts, r.device_id',
    );
    this.processesInWindow = db.prepare(
      'SELECT * FROM process WHERE first_seen <= ? AND (exited_at IS NULL OR exited_at >= ?)',
    );
    this.processRowAtOrBefore = db.prepare(
      'SELECT * FROM process_raw WHERE process_id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1',
    );
    this.processIoAt = db.prepare(
      `SELECT ${ioAtSql('read_bytes', ':id', ':at')} AS read_bytes,
              ${ioAtSql('write_bytes', ':id', ':at')} AS write_bytes`,
    );
    this.latestTs = db.prepare('SELECT max(ts) FROM system_raw').pluck();
    this.oldestTs = db.prepare('SELECT min(ts) FROM system_raw').pluck();
  }

  /** System snapshots (without processes) with ts in [from, to], oldest first. */
  systemSnapshots(from: number, to: number): Snapshot[] {
    const out: Snapshot[] = [];
    const reader = new CounterBlobReader();
    // From the keyframe at or before `from`: the rows before it are read, not returned.
    for (const [ts, counters] of this.systemRows.iterate(from, to)) {
      reader.read(counters, true, ts);
      if (ts < from) continue;
      const system = systemOf(reader, emptySystem());
      out.push({ ts, system, cores: coresOf(reader), disks: [], nets: [], processes: null });
    }
    if (out.length === 0) return out;
    // Device rows are stored on change: each snapshot gets every device's latest row at or
    // before its ts, found within one keyframe interval (device-rows.ts).
    const since = from - DEVICE_KEYFRAME_MS;
    carryForward(this.diskRange.all(since, to) as DeviceRow[], 'disk', out, (s, devices) => {
      s.disks = devices as DiskCounters[];
    });
    carryForward(this.netRange.all(since, to) as DeviceRow[], 'net', out, (s, devices) => {
      s.nets = devices as NetCounters[];
    });
    return out;
  }

  latestTimestamp(): number | null {
    return (this.latestTs.get() as number | null) ?? null;
  }

  oldestTimestamp(): number | null {
    return (this.oldestTs.get() as number | null) ?? null;
  }

  /**
   * Every process alive at some point in [from, to], with its counters as last stored at
   * or before `at` (rows are written only on change, so that row is its state at `at`; its
   * I/O counters, stored only on change too, from the latest row that has them).
   */
  processStatesAt(from: number, to: number, at: number): ProcessCounters[] {
    const out: ProcessCounters[] = [];
    for (const p of this.processesInWindow.iterate(to, from) as Iterable<ProcessIdentity>) {
      if (p.first_seen > at || (p.exited_at !== null && p.exited_at < at)) continue;
      const row = this.processRowAtOrBefore.get(p.id, at) as ProcessRow | undefined;
      if (!row) continue;
      const io =
        row.read_bytes === null
          ? (this.processIoAt.get({ id: p.id, at }) as Pick<
              ProcessRow,
              'read_bytes' | 'write_bytes'
            >)
          : row;
      out.push({
        pid: p.pid,
        start_ticks: p.start_ticks,
        ppid: p.ppid,
        uid: p.uid,
        comm: p.comm,
        cmdline: p.cmdline,
        state: '',
        utime: row.utime,
        stime: row.stime,
        rss_pages: row.rss_pages,
        threads: row.threads,
        read_bytes: io.read_bytes,
        write_bytes: io.write_bytes,
      });
    }
    return out;
  }

  counts(): TableCounts {
    const count = (table: string) =>
      this.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return {
      system_raw: count('system_raw'),
      process_raw: count('process_raw'),
      process: count('process'),
      automation_run: count('automation_run'),
      audit: count('audit'),
    };
  }
}
