import type { Statement } from 'better-sqlite3';
import {
  DEVICE_KEYFRAME_MS,
  DEVICE_TABLES,
  DISK_COUNTERS,
  NET_COUNTERS,
  type DeviceKind,
} from './device-rows.js';
import {
  type DiskCounters,
  type NetCounters,
  type ProcessCounters,
  type Snapshot,
} from '../types.js';
import { MINUTE_MS } from './bucket.js';
import { CounterBlobReader } from './counter-blob-reader.js';
import { COUNTER_BLOB_FORMAT, CounterBlobError, CounterBlobWriter } from './counter-blob.js';
import type { Db } from './db.js';
import { IO_REPEAT_ROWS } from './process-io.js';
import { SystemRows, type SystemRow } from './system-rows.js';

interface Written {
  id: number;
  pid: number;
  startTicks: number;
  comm: string;
  utime: number;
  stime: number;
  rss: number;
  threads: number;
  /** I/O counters as last stored (or carried forward from the row that stored them). */
  read: number | null;
  write: number | null;
  /** Rows stored since the last that stored I/O counters. */
  rowsWithoutIo: number;
  /** The write that last saw this process. */
  seen: number;
}

/** What the database holds as a device's latest row. */
interface StoredDevice<T> {
  id: number;
  /** A row with counters, not a tombstone, is the latest stored. */
  present: boolean;
  /** Those counters, when this writer stored them (null when unknown or absent). */
  last: T | null;
  /** The write that last saw this device. */
  seen: number;
}

/** btime in /proc/stat can wobble by a second under clock adjustment; a reboot moves it far. */
const BOOT_TIME_TOLERANCE_S = 5;

/**
 * The recorder's write path: one transaction per batch of snapshots, prepared statements reused,
 * the system and core counters packed in one blob (counter-blob.ts), stored against the
 * previous row's but in the first row of each minute (system-rows.ts), a process row only
 * when that process's counters changed since its last row, its I/O counters only when they
 * changed (process-io.ts), and a disk
 * or network row only when that device's counters changed (see device-rows.ts).
 */
export class SampleWriter {
  private readonly insertSystem: Statement;
  private readonly counters = new CounterBlobWriter();
  private readonly systemRows: SystemRows;
  private readonly latestSystem: Statement;
  private readonly nextSystem: Statement;
  /** The ts of the last system row this writer stored; null before one. */
  private lastTs: number | null = null;
  /** The latest ts in system_raw as far as this writer knows; undefined until read. */
  private topTs: number | null | undefined = undefined;
  private readonly processRows: RowBatch;
  private readonly insertDisk: Statement;
  private readonly insertNet: Statement;
  private readonly insertTombstone: Record<DeviceKind, Statement>;
  private readonly recentDevices: Record<DeviceKind, Statement>;
  private readonly insertDevice: Statement;
  private readonly selectDevice: Statement;
  private readonly insertProcess: Statement;
  private readonly updateProcess: Statement;
  private readonly markExited: Statement;
  private readonly markAllExited: Statement;
  private disks = new Map<string, StoredDevice<DiskCounters>>();
  private nets = new Map<string, StoredDevice<NetCounters>>();
  /** Sample time of the last keyframe (every device stored); null before the first. */
  private keyframeTs: number | null = null;
  /** Processes by PID; an entry is one process, (pid, startTicks). */
  private written = new Map<number, Written>();
  private writes = 0;
  private bootTime: number | null = null;
  private firstProcessWrite = true;
  private readonly tx: (snapshots: readonly Snapshot[]) => number;

  constructor(private readonly db: Db) {
    this.insertSystem = db.prepare(
      'INSERT OR REPLACE INTO system_raw (ts, counters) VALUES (?, ?)',
    );
    this.systemRows = new SystemRows(db);
    this.latestSystem = db.prepare('SELECT max(ts) FROM system_raw').pluck();
    this.nextSystem = db
      .prepare('SELECT ts, counters FROM system_raw WHERE ts > ? ORDER BY ts LIMIT 1')
      .raw();
    this.insertDisk = db.prepare(
      'INSERT OR REPLACE INTO disk_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertNet = db.prepare(
      'INSERT OR REPLACE INTO net_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const tombstone = (kind: DeviceKind) =>
      db.prepare(
        `INSERT OR REPLACE INTO ${DEVICE_TABLES[kind].table} (ts, device_id) VALUES (?, ?)`,
      );
    this.insertTombstone = { disk: tombstone('disk'), net: tombstone('net') };
    const recent = (kind: DeviceKind) =>
      db
        .prepare(
          `SELECT DISTINCT d.name FROM ${DEVICE_TABLES[kind].table} r JOIN device d ON d.id = r.device_id
         WHERE r.ts >= ? AND r.ts < ?`,
        )
        .pluck();
    this.recentDevices = { disk: recent('disk'), net: recent('net') };
    this.insertDevice = db.prepare('INSERT OR IGNORE INTO device (kind, name) VALUES (?, ?)');
    this.selectDevice = db.prepare('SELECT id FROM device WHERE kind = ? AND name = ?').pluck();
    // RETURNING gives the id whether the row was inserted or already there (a restarted
    // recorder meeting a process it had stored): one statement per new process, not two.
    this.insertProcess = db
      .prepare(
        `INSERT INTO process (boot_time, pid, start_ticks, ppid, uid, comm, cmdline, first_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (boot_time, pid, start_ticks) DO UPDATE SET exited_at = NULL
         RETURNING id`,
      )
      .pluck();
    this.updateProcess = db.prepare('UPDATE process SET comm = ?, cmdline = ? WHERE id = ?');
    this.processRows = new RowBatch(db, 'process_raw', 8);
    this.markExited = db.prepare('UPDATE process SET exited_at = ? WHERE id = ?');
    this.markAllExited = db.prepare('UPDATE process SET exited_at = ? WHERE exited_at IS NULL');
    this.tx = db.transaction((snapshots: readonly Snapshot[]) => {
      // Left over when a previous write failed part way.
      this.processRows.values.length = 0;
      let rows = 0;
      for (let i = 0; i < snapshots.length; i++) rows += this.writeOne(snapshots[i]!);
      // All the batch's process rows in as few statements as their count allows.
      this.processRows.insert();
      return rows;
    });
  }

  /** Writes one snapshot; returns how many process rows were stored. */
  write(snapshot: Snapshot): number {
    return this.writeBatch([snapshot]);
  }

  /**
   * Writes snapshots, oldest first, in one transaction: a page that several of them touch
   * (the last leaf of each table) is written once. Returns how many process rows were stored.
   */
  writeBatch(snapshots: readonly Snapshot[]): number {
    try {
      return this.tx(snapshots);
    } catch (err) {
      // The transaction rolled back, so what we remember of stored devices and processes
      // may not be stored: start over as a new writer would, from what the database holds
      // (readers count on a process's I/O counters within IO_REPEAT_ROWS rows).
      this.disks = new Map();
      this.nets = new Map();
      this.keyframeTs = null;
      this.lastTs = null;
      this.topTs = undefined;
      this.counters.forget();
      this.written = new Map();
      this.firstProcessWrite = true;
      throw err;
    }
  }

  private writeOne(s: Snapshot): number {
    const ts = s.ts;
    const write = ++this.writes;
    this.writeSystem(s);
    const keyframe =
      this.keyframeTs === null ||
      ts < this.keyframeTs ||
      ts - this.keyframeTs >= DEVICE_KEYFRAME_MS;
    if (this.keyframeTs === null) this.recallDevices(ts);
    if (keyframe) this.keyframeTs = ts;
    for (let i = 0; i < s.disks.length; i++) {
      const d = s.disks[i]!;
      const stored = this.device(this.disks, 'disk', d.name);
      stored.seen = write;
      if (!keyframe && stored.last !== null && sameCounters(stored.last, d, DISK_COUNTERS)) {
        continue;
      }
      this.insertDisk.run(
        ts,
        stored.id,
        d.reads,
        d.read_sectors,
        d.read_ms,
        d.writes,
        d.write_sectors,
        d.write_ms,
        d.in_flight,
        d.io_ms,
        d.weighted_ms,
      );
      stored.present = true;
      stored.last = d;
    }
    for (let i = 0; i < s.nets.length; i++) {
      const n = s.nets[i]!;
      const stored = this.device(this.nets, 'net', n.name);
      stored.seen = write;
      if (!keyframe && stored.last !== null && sameCounters(stored.last, n, NET_COUNTERS)) {
        continue;
      }
      this.insertNet.run(
        ts,
        stored.id,
        n.rx_bytes,
        n.rx_packets,
        n.rx_errs,
        n.rx_drop,
        n.tx_bytes,
        n.tx_packets,
        n.tx_errs,
        n.tx_drop,
      );
      stored.present = true;
      stored.last = n;
    }
    this.buryMissing(this.disks, 'disk', ts, write);
    this.buryMissing(this.nets, 'net', ts, write);
    return s.processes ? this.writeProcesses(ts, s.system.boot_time ?? 0, s.processes, write) : 0;
  }

  /**
   * The system row: a delta frame when it follows the row this writer stored last, in the
   * same minute; else a keyframe. A row stored before others (the clock went back) leaves
   * the row after it without the row its delta was stored against: that one becomes a
   * keyframe too.
   */
  private writeSystem(s: Snapshot): void {
    const ts = s.ts;
    if (this.topTs === undefined) this.topTs = this.latestSystem.get() as number | null;
    const append = this.topTs === null || ts > this.topTs;
    const last = this.lastTs;
    const delta =
      append &&
      last !== null &&
      last === this.topTs &&
      Math.floor(ts / MINUTE_MS) === Math.floor(last / MINUTE_MS);
    if (!append) this.standAlone(ts);
    this.insertSystem.run(ts, this.counters.encode(s.system, s.cores, delta));
    if (append) this.topTs = ts;
    this.lastTs = ts;
  }

  /** Stores the first system row after `ts` as a keyframe, if it is a delta frame. */
  private standAlone(ts: number): void {
    const next = this.nextSystem.get(ts) as SystemRow | undefined;
    if (next === undefined || next[1][0] === COUNTER_BLOB_FORMAT) return;
    const reader = new CounterBlobReader();
    try {
      for (const [at, blob] of this.systemRows.range(next[0], next[0])) {
        reader.read(blob, true, at);
      }
    } catch (err) {
      // A row that cannot be read already is left as it is; the snapshot is still stored.
      if (err instanceof CounterBlobError) return;
      throw err;
    }
    this.insertSystem.run(next[0], new CounterBlobWriter().encodeRead(reader));
  }

  /**
   * A writer's first write: devices stored within the last keyframe interval may still be
   * carried forward by readers. Remember them as present so that those missing now get a
   * tombstone; the first write is a keyframe, so those present are stored anyway.
   */
  private recallDevices(ts: number): void {
    const since = ts - DEVICE_KEYFRAME_MS;
    for (const name of this.recentDevices.disk.all(since, ts) as string[]) {
      this.device(this.disks, 'disk', name).present = true;
    }
    for (const name of this.recentDevices.net.all(since, ts) as string[]) {
      this.device(this.nets, 'net', name).present = true;
    }
  }

  /** Stores a tombstone for each device that was present and is not in this write. */
  private buryMissing<T>(
    devices: Map<string, StoredDevice<T>>,
    kind: DeviceKind,
    ts: number,
    write: number,
  ): void {
    devices.forEach((stored) => {
      if (stored.seen === write || !stored.present) return;
      this.insertTombstone[kind].run(ts, stored.id);
      stored.present = false;
      stored.last = null;
    });
  }

  private device<T>(
    devices: Map<string, StoredDevice<T>>,
    kind: DeviceKind,
    name: string,
  ): StoredDevice<T> {
    let stored = devices.get(name);
    if (stored === undefined) {
      this.insertDevice.run(kind, name);
      const id = this.selectDevice.get(kind, name) as number;
      stored = { id, present: false, last: null, seen: 0 };
      devices.set(name, stored);
    }
    return stored;
  }

  private writeProcesses(
    ts: number,
    bootTime: number,
    procs: readonly ProcessCounters[],
    write: number,
  ): number {
    if (this.bootTime === null || Math.abs(bootTime - this.bootTime) > BOOT_TIME_TOLERANCE_S) {
      this.bootTime = bootTime;
      this.written = new Map();
    }
    if (this.firstProcessWrite) {
      // Whatever a previous recorder saw alive and did not see exit has exited by now,
      // unless it is in this snapshot (then the insert below clears exited_at).
      this.markAllExited.run(ts);
      this.firstProcessWrite = false;
    }
    let rows = 0;
    const rowValues = this.processRows.values;
    // Indexed loops on this path: at 1 Hz it runs unoptimized, where each step of a for-of
    // loop allocates an iterator result.
    for (let i = 0; i < procs.length; i++) {
      const p = procs[i]!;
      let w = this.written.get(p.pid);
      if (w !== undefined && w.startTicks !== p.start_ticks) {
        // The PID was reused: the process we knew under it has exited.
        this.markExited.run(ts, w.id);
        w = undefined;
      }
      if (w === undefined) {
        const id = this.insertProcess.get(
          this.bootTime,
          p.pid,
          p.start_ticks,
          p.ppid,
          p.uid,
          p.comm,
          p.cmdline,
          ts,
        ) as number;
        w = {
          id,
          pid: p.pid,
          startTicks: p.start_ticks,
          comm: p.comm,
          utime: -1,
          stime: -1,
          rss: -1,
          threads: -1,
          read: null,
          write: null,
          rowsWithoutIo: 0,
          seen: 0,
        };
        this.written.set(p.pid, w);
      } else if (w.comm !== p.comm) {
        this.updateProcess.run(p.comm, p.cmdline, w.id);
        w.comm = p.comm;
      }
      w.seen = write;
      if (
        w.utime !== p.utime ||
        w.stime !== p.stime ||
        w.rss !== p.rss_pages ||
        w.threads !== p.threads ||
        w.read !== p.read_bytes ||
        w.write !== p.write_bytes
      ) {
        // I/O counters only when they changed since the process's previous row, and in
        // every IO_REPEAT_ROWS-th row at least, so readers find them a few rows back.
        const io =
          w.read !== p.read_bytes ||
          w.write !== p.write_bytes ||
          (p.read_bytes !== null && w.rowsWithoutIo >= IO_REPEAT_ROWS - 1);
        rowValues.push(
          w.id,
          ts,
          p.utime,
          p.stime,
          p.rss_pages,
          p.threads,
          io ? p.read_bytes : null,
          io ? p.write_bytes : null,
        );
        w.utime = p.utime;
        w.stime = p.stime;
        w.rss = p.rss_pages;
        w.threads = p.threads;
        w.read = p.read_bytes;
        w.write = p.write_bytes;
        w.rowsWithoutIo = io ? 0 : w.rowsWithoutIo + 1;
        rows++;
      }
    }
    // Every process of this snapshot is in the map now; any more entries have exited.
    if (this.written.size > procs.length) {
      for (const gone of this.written.values()) {
        if (gone.seen === write) continue;
        this.markExited.run(ts, gone.id);
        this.written.delete(gone.pid);
      }
    }
    return rows;
  }
}

/** Same values in every counter column (NaN, never stored as such, never matches). */
function sameCounters<T>(a: T, b: T, columns: readonly (keyof T)[]): boolean {
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    if (a[column] !== b[column]) return false;
  }
  return true;
}

/** The most rows one multi-row INSERT takes: 64 x 10 parameters, far below SQLite's limit. */
const MAX_BATCH_ROWS = 64;

/**
 * Rows of one table gathered during a write, then inserted with as few statements as
 * possible: multi-row INSERTs of 64, 32, 16... rows, each statement prepared once. Running
 * one statement costs about as much as binding its values, so this saves nearly all but
 * one statement per table and tick.
 */
class RowBatch {
  /** The rows' values, row after row; insert() empties it. */
  readonly values: (number | null)[] = [];
  private readonly inserts = new Map<number, Statement>();

  constructor(
    private readonly db: Db,
    private readonly table: string,
    private readonly columns: number,
  ) {}

  insert(): void {
    const values = this.values;
    const width = this.columns;
    for (let at = 0; at < values.length;) {
      const left = (values.length - at) / width;
      const rows = left >= MAX_BATCH_ROWS ? MAX_BATCH_ROWS : 2 ** Math.floor(Math.log2(left));
      const end = at + rows * width;
      this.statement(rows).run(at === 0 && end === values.length ? values : values.slice(at, end));
      at = end;
    }
    values.length = 0;
  }

  private statement(rows: number): Statement {
    let insert = this.inserts.get(rows);
    if (insert === undefined) {
      const row = `(?${', ?'.repeat(this.columns - 1)})`;
      insert = this.db.prepare(
        `INSERT OR REPLACE INTO ${this.table} VALUES ${new Array<string>(rows).fill(row).join(', ')}`,
      );
      this.inserts.set(rows, insert);
    }
    return insert;
  }
}
