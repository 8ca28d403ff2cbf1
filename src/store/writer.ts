import type { Statement } from 'better-sqlite3';
import { processKey } from '../analyze/derive.js';
import { SYSTEM_FIELDS, type ProcessCounters, type Snapshot } from '../types.js';
import type { Db } from './db.js';

interface Written {
  id: number;
  comm: string;
  utime: number;
  stime: number;
  rss: number;
  threads: number;
  read: number | null;
  write: number | null;
}

/** btime in /proc/stat can wobble by a second under clock adjustment; a reboot moves it far. */
const BOOT_TIME_TOLERANCE_S = 5;

/**
 * The recorder's write path: one transaction per snapshot, prepared statements reused,
 * and a process row only when that process's counters changed since its last row.
 */
export class SampleWriter {
  private readonly insertSystem: Statement;
  private readonly insertCore: Statement;
  private readonly insertDisk: Statement;
  private readonly insertNet: Statement;
  private readonly insertDevice: Statement;
  private readonly selectDevice: Statement;
  private readonly insertProcess: Statement;
  private readonly selectProcess: Statement;
  private readonly updateProcess: Statement;
  private readonly insertProcessRow: Statement;
  private readonly markExited: Statement;
  private readonly markAllExited: Statement;
  private readonly devices = new Map<string, number>();
  private written = new Map<string, Written>();
  private bootTime: number | null = null;
  private firstProcessWrite = true;
  private readonly tx: (snapshot: Snapshot) => number;

  constructor(private readonly db: Db) {
    this.insertSystem = db.prepare(
      `INSERT OR REPLACE INTO system_raw (ts, ${SYSTEM_FIELDS.join(', ')}) VALUES (?${', ?'.repeat(SYSTEM_FIELDS.length)})`,
    );
    this.insertCore = db.prepare(
      'INSERT OR REPLACE INTO core_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertDisk = db.prepare(
      'INSERT OR REPLACE INTO disk_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertNet = db.prepare(
      'INSERT OR REPLACE INTO net_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertDevice = db.prepare('INSERT OR IGNORE INTO device (kind, name) VALUES (?, ?)');
    this.selectDevice = db.prepare('SELECT id FROM device WHERE kind = ? AND name = ?').pluck();
    this.insertProcess = db.prepare(
      `INSERT INTO process (boot_time, pid, start_ticks, ppid, uid, comm, cmdline, first_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (boot_time, pid, start_ticks) DO UPDATE SET exited_at = NULL`,
    );
    this.selectProcess = db
      .prepare('SELECT id FROM process WHERE boot_time = ? AND pid = ? AND start_ticks = ?')
      .pluck();
    this.updateProcess = db.prepare('UPDATE process SET comm = ?, cmdline = ? WHERE id = ?');
    this.insertProcessRow = db.prepare(
      'INSERT OR REPLACE INTO process_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.markExited = db.prepare('UPDATE process SET exited_at = ? WHERE id = ?');
    this.markAllExited = db.prepare('UPDATE process SET exited_at = ? WHERE exited_at IS NULL');
    this.tx = db.transaction((s: Snapshot) => this.writeAll(s));
  }

  /** Writes one snapshot; returns how many process rows were stored. */
  write(snapshot: Snapshot): number {
    return this.tx(snapshot);
  }

  private writeAll(s: Snapshot): number {
    const ts = s.ts;
    this.insertSystem.run(ts, ...SYSTEM_FIELDS.map((f) => s.system[f]));
    s.cores.forEach((c, i) =>
      this.insertCore.run(
        ts,
        i,
        c.user,
        c.nice,
        c.system,
        c.idle,
        c.iowait,
        c.irq,
        c.softirq,
        c.steal,
      ),
    );
    for (const d of s.disks) {
      this.insertDisk.run(
        ts,
        this.deviceId('disk', d.name),
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
    }
    for (const n of s.nets) {
      this.insertNet.run(
        ts,
        this.deviceId('net', n.name),
        n.rx_bytes,
        n.rx_packets,
        n.rx_errs,
        n.rx_drop,
        n.tx_bytes,
        n.tx_packets,
        n.tx_errs,
        n.tx_drop,
      );
    }
    return s.processes ? this.writeProcesses(ts, s.system.boot_time ?? 0, s.processes) : 0;
  }

  private deviceId(kind: string, name: string): number {
    const key = `${kind}:${name}`;
    let id = this.devices.get(key);
    if (id === undefined) {
      this.insertDevice.run(kind, name);
      id = this.selectDevice.get(kind, name) as number;
      this.devices.set(key, id);
    }
    return id;
  }

  private writeProcesses(ts: number, bootTime: number, procs: readonly ProcessCounters[]): number {
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
    const next = new Map<string, Written>();
    let rows = 0;
    for (const p of procs) {
      const key = processKey(p);
      let w = this.written.get(key);
      if (w === undefined) {
        this.insertProcess.run(
          this.bootTime,
          p.pid,
          p.start_ticks,
          p.ppid,
          p.uid,
          p.comm,
          p.cmdline,
          ts,
        );
        const id = this.selectProcess.get(this.bootTime, p.pid, p.start_ticks) as number;
        w = {
          id,
          comm: p.comm,
          utime: -1,
          stime: -1,
          rss: -1,
          threads: -1,
          read: null,
          write: null,
        };
      } else if (w.comm !== p.comm) {
        this.updateProcess.run(p.comm, p.cmdline, w.id);
        w.comm = p.comm;
      }
      if (
        w.utime !== p.utime ||
        w.stime !== p.stime ||
        w.rss !== p.rss_pages ||
        w.threads !== p.threads ||
        w.read !== p.read_bytes ||
        w.write !== p.write_bytes
      ) {
        this.insertProcessRow.run(
          w.id,
          ts,
          p.utime,
          p.stime,
          p.rss_pages,
          p.threads,
          p.read_bytes,
          p.write_bytes,
        );
        w.utime = p.utime;
        w.stime = p.stime;
        w.rss = p.rss_pages;
        w.threads = p.threads;
        w.read = p.read_bytes;
        w.write = p.write_bytes;
        rows++;
      }
      next.set(key, w);
      this.written.delete(key);
    }
    for (const gone of this.written.values()) this.markExited.run(ts, gone.id);
    this.written = next;
    return rows;
  }
}
