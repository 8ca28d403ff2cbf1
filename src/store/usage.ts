import type { Db } from './db.js';
import { ioAtSql } from './process-io.js';

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

/**
 * A process's I/O is read at the ends of the window, like its CPU time, from the latest row
 * that stored it (process-io.ts). The collector carries I/O counters forward once read, so
 * a readable process's rows lack them only before its first read (at most ioEvery rows) and
 * where they did not change; none found at the end means its I/O is unknown (another
 * user's process), and its history is not walked looking for one. Its first reading is
 * looked for within this many rows, and only when it is needed.
 */
export const IO_SCAN_ROWS = 64;

const at = (expr: string, bound: string) =>
  `(SELECT ${expr} FROM process_raw r WHERE r.process_id = a.id AND r.ts <= ${bound}
    ORDER BY r.ts DESC LIMIT 1)`;

const SQL = `
  WITH alive AS (
    SELECT id, pid, ppid, start_ticks, comm, cmdline, boot_time FROM process
    WHERE first_seen <= :to AND (exited_at IS NULL OR exited_at >= :from)
  ), ends AS (
    SELECT a.*,
      ${at('utime + stime', ':from')} AS cpu0,
      ${at('utime + stime', ':to')} AS cpu1,
      ${ioAtSql('read_bytes + write_bytes', 'a.id', ':from')} AS io0,
      ${ioAtSql('read_bytes + write_bytes', 'a.id', ':to')} AS io1,
      ${at('rss_pages', ':from')} AS rss0,
      (SELECT max(rss_pages) FROM process_raw r
        WHERE r.process_id = a.id AND r.ts BETWEEN :from AND :to) AS rss_in
    FROM alive a
  )
  SELECT pid, ppid, start_ticks, comm, cmdline, boot_time, cpu0, cpu1, io0, io1, rss0, rss_in,
    CASE WHEN cpu0 IS NULL THEN (SELECT utime + stime FROM process_raw r
      WHERE r.process_id = e.id ORDER BY r.ts LIMIT 1) END AS cpu_first,
    CASE WHEN io0 IS NULL AND io1 IS NOT NULL THEN (SELECT read_bytes + write_bytes FROM (
      SELECT read_bytes, write_bytes FROM process_raw r WHERE r.process_id = e.id
      ORDER BY r.ts LIMIT ${IO_SCAN_ROWS}) WHERE read_bytes IS NOT NULL LIMIT 1) END AS io_first
  FROM ends e`;

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
