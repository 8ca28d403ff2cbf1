import type { Db } from './db.js';

/** What one process used in a window, from its stored counters. */
export interface ProcessUsageRow {
  pid: number;
  ppid: number;
  start_ticks: number;
  comm: string;
  cmdline: string;
  /** CPU time spent in the window, in clock ticks. */
  cpu_ticks: number;
  /** Largest resident set seen in the window, in pages. */
  rss_pages_max: number;
  /** Storage bytes read + written in the window; null when /proc/PID/io was unreadable. */
  io_bytes: number | null;
}

const SQL = `
  WITH alive AS (
    SELECT id, pid, ppid, start_ticks, comm, cmdline, boot_time FROM process
    WHERE first_seen <= :to AND (exited_at IS NULL OR exited_at >= :from)
  )
  SELECT a.pid, a.ppid, a.start_ticks, a.comm, a.cmdline, a.boot_time,
    (SELECT utime + stime FROM process_raw r WHERE r.process_id = a.id AND r.ts <= :from ORDER BY r.ts DESC LIMIT 1) AS cpu0,
    (SELECT utime + stime FROM process_raw r WHERE r.process_id = a.id AND r.ts <= :to ORDER BY r.ts DESC LIMIT 1) AS cpu1,
    (SELECT utime + stime FROM process_raw r WHERE r.process_id = a.id ORDER BY r.ts LIMIT 1) AS cpu_first,
    (SELECT read_bytes + write_bytes FROM process_raw r WHERE r.process_id = a.id AND r.ts <= :from AND r.read_bytes IS NOT NULL ORDER BY r.ts DESC LIMIT 1) AS io0,
    (SELECT read_bytes + write_bytes FROM process_raw r WHERE r.process_id = a.id AND r.ts <= :to AND r.read_bytes IS NOT NULL ORDER BY r.ts DESC LIMIT 1) AS io1,
    (SELECT read_bytes + write_bytes FROM process_raw r WHERE r.process_id = a.id AND r.read_bytes IS NOT NULL ORDER BY r.ts LIMIT 1) AS io_first,
    (SELECT max(rss_pages) FROM process_raw r WHERE r.process_id = a.id AND r.ts BETWEEN :from AND :to) AS rss_in,
    (SELECT rss_pages FROM process_raw r WHERE r.process_id = a.id AND r.ts <= :from ORDER BY r.ts DESC LIMIT 1) AS rss0
  FROM alive a`;

interface Row {
  pid: number;
  ppid: number;
  start_ticks: number;
  comm: string;
  cmdline: string;
  boot_time: number;
  cpu0: number | null;
  cpu1: number | null;
  cpu_first: number | null;
  io0: number | null;
  io1: number | null;
  io_first: number | null;
  rss_in: number | null;
  rss0: number | null;
}

/**
 * Per-process usage over [from, to]. A process that started inside the window counts all
 * its CPU; one first seen later by a restarted recorder counts from its first stored row.
 */
export function processUsage(
  db: Db,
  from: number,
  to: number,
  clockTicks: number,
): ProcessUsageRow[] {
  const rows = db.prepare(SQL).all({ from, to }) as Row[];
  const out: ProcessUsageRow[] = [];
  for (const r of rows) {
    if (r.cpu1 === null) continue;
    const startedAt = r.boot_time * 1000 + (r.start_ticks * 1000) / clockTicks;
    const base = r.cpu0 ?? (startedAt >= from ? 0 : (r.cpu_first ?? r.cpu1));
    out.push({
      pid: r.pid,
      ppid: r.ppid,
      start_ticks: r.start_ticks,
      comm: r.comm,
      cmdline: r.cmdline,
      cpu_ticks: Math.max(0, r.cpu1 - base),
      rss_pages_max: Math.max(r.rss_in ?? 0, r.rss0 ?? 0),
      // Like CPU: I/O first readable inside the window counts from its first readable row.
      io_bytes:
        r.io1 === null
          ? null
          : Math.max(0, r.io1 - (r.io0 ?? (startedAt >= from ? 0 : (r.io_first ?? r.io1)))),
    });
  }
  return out;
}
