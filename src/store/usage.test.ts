import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MACHINE, proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import type { ProcessCounters } from '../types.js';
import { Store } from './index.js';
import { processUsage, type ProcessUsageRow } from './usage.js';

// 100 ticks/s; the machine booted 100 s before T0, so start_ticks (100 + s) * 100 is T0 + s.
const T0 = Date.UTC(2026, 0, 1, 12);
const BOOT = T0 / 1000 - 100;
const FROM = T0 + 10_000;
const TO = T0 + 20_000;
const startedAt = (s: number) => (100 + s) * 100;

/** Snapshot i is at T0 + i s; the window is snapshots 10-20. */
function processesAt(i: number): ProcessCounters[] {
  const out: ProcessCounters[] = [
    proc(1, {
      comm: 'before',
      utime: 10 * i,
      rss_pages: 100 + i,
      read_bytes: 100 * i,
      write_bytes: 50 * i,
    }),
    proc(3, { comm: 'unreadable', utime: 20 * i }),
    proc(8, { comm: 'idle', utime: 42 }),
  ];
  if (i >= 15) {
    out.push(
      proc(2, {
        comm: 'inside',
        start_ticks: startedAt(15),
        utime: 5 + 10 * (i - 15),
        read_bytes: 0,
        write_bytes: 1000 * (i - 14),
      }),
    );
  }
  if (i <= 5) out.push(proc(4, { comm: 'exited-before', utime: 10 * i }));
  if (i <= 14) out.push(proc(5, { comm: 'exits-inside', utime: 30 * i }));
  // Alive since before the window, but first seen at i = 12 (the recorder started then).
  if (i >= 12) {
    out.push(
      proc(6, {
        comm: 'late-seen',
        utime: 7000 + 10 * (i - 12),
        read_bytes: 9000 + 100 * (i - 12),
        write_bytes: 0,
      }),
    );
  }
  if (i >= 25) out.push(proc(7, { comm: 'after', start_ticks: startedAt(25), utime: 5 * i }));
  // PID 9 exits after i = 12 and the PID is reused at i = 13 by a new process.
  if (i <= 12) out.push(proc(9, { comm: 'old-nine', utime: 10 * i }));
  else out.push(proc(9, { comm: 'new-nine', start_ticks: startedAt(13), utime: 3 * (i - 12) }));
  return out;
}

let store: Store;
let rows: Map<string, ProcessUsageRow>;

beforeEach(() => {
  store = Store.open(tempDir('kmpm-usage-'));
  const w = store.createWriter();
  for (let i = 0; i <= 30; i++) {
    w.write(snap(T0 + i * 1000, { boot_time: BOOT }, { processes: processesAt(i) }));
  }
  rows = new Map(
    processUsage(store.db, FROM, TO, MACHINE.clockTicks).map((r) => [r.comm, r] as const),
  );
});
afterEach(() => store.close());

describe('processUsage', () => {
  it('lists the processes alive in the window, and only those', () => {
    expect([...rows.keys()].sort()).toEqual(
      [
        'before',
        'unreadable',
        'idle',
        'inside',
        'exits-inside',
        'late-seen',
        'old-nine',
        'new-nine',
      ].sort(),
    );
  });

  it.each<[string, number]>([
    ['before', 100], // started before the window: the delta over it
    ['unreadable', 200],
    ['idle', 0],
    ['inside', 55], // started inside the window: all of its CPU, the first row included
    ['exits-inside', 120], // up to its last row
    ['late-seen', 80], // first stored inside the window: counted from its first row
    ['old-nine', 20],
    ['new-nine', 24], // PID reuse: a new process, all of its CPU
  ])('CPU ticks of %s in the window: %d', (comm, ticks) => {
    expect(rows.get(comm)?.cpu_ticks).toBe(ticks);
  });

  it.each<[string, number | null]>([
    ['before', 1500],
    ['inside', 6000],
    ['unreadable', null],
    ['idle', null],
    ['late-seen', 800],
  ])('I/O bytes of %s in the window: %s', (comm, bytes) => {
    expect(rows.get(comm)?.io_bytes).toBe(bytes);
  });

  it('takes the largest resident set in the window, the one at its start included', () => {
    expect(rows.get('before')?.rss_pages_max).toBe(120);
    expect(rows.get('idle')?.rss_pages_max).toBe(100);
    // Only one row, before the window: its resident set still counts.
    const later = processUsage(store.db, T0 + 40_000, T0 + 50_000, MACHINE.clockTicks);
    expect(later.find((r) => r.comm === 'idle')).toMatchObject({
      cpu_ticks: 0,
      rss_pages_max: 100,
    });
  });

  it('carries identity for attribution', () => {
    expect(rows.get('inside')).toMatchObject({
      pid: 2,
      start_ticks: startedAt(15),
      cmdline: '/usr/bin/p2 --flag',
    });
  });

  it('counts CPU a process used before its first stored row only when it started in the window', () => {
    // A window that opens before 'inside' started: all of its CPU, 5 ticks before its first row included.
    const wide = processUsage(store.db, T0, T0 + 15_000, MACHINE.clockTicks);
    expect(wide.find((r) => r.comm === 'inside')?.cpu_ticks).toBe(5);
    // A window that opens after it started: only what it used since.
    const narrow = processUsage(store.db, T0 + 16_000, T0 + 17_000, MACHINE.clockTicks);
    expect(narrow.find((r) => r.comm === 'inside')?.cpu_ticks).toBe(10);
  });

  it('takes I/O from the rows at the window ends: unknown when none has it', () => {
    const dir = tempDir('kmpm-usage-io-');
    const s = Store.open(dir);
    const w = s.createWriter();
    // 'lost' is another user's process, its I/O never readable; 'young' is read for the
    // first time at i = 14 (as a collector reading I/O every 10th tick would), started at i = 8.
    for (let i = 0; i <= 20; i++) {
      const ps = [proc(1, { comm: 'lost', utime: i })];
      if (i >= 8) {
        ps.push(
          proc(2, {
            comm: 'young',
            start_ticks: startedAt(8),
            utime: i,
            read_bytes: i >= 14 ? 100 * i : null,
            write_bytes: i >= 14 ? 0 : null,
          }),
        );
      }
      w.write(snap(T0 + i * 1000, { boot_time: BOOT }, { processes: ps }));
    }
    const got = new Map(
      processUsage(s.db, T0 + 10_000, T0 + 20_000, MACHINE.clockTicks).map((r) => [r.comm, r]),
    );
    expect(got.get('lost')?.io_bytes).toBeNull();
    // Started before the window, first read inside it: counted from that first reading.
    expect(got.get('young')?.io_bytes).toBe(2000 - 1400);
    s.close();
  });

  it('skips a known process without stored counters', () => {
    store.db
      .prepare(
        `INSERT INTO process (boot_time, pid, start_ticks, ppid, uid, comm, cmdline, first_seen)
         VALUES (?, 77, 1, 1, 0, 'no-rows', '', ?)`,
      )
      .run(BOOT, T0);
    const got = processUsage(store.db, FROM, TO, MACHINE.clockTicks);
    expect(got.map((r) => r.comm)).not.toContain('no-rows');
    expect(got).toHaveLength(rows.size);
  });
});
