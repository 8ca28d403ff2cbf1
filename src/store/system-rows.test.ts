import { describe, expect, it } from 'vitest';
import { cpu, snap } from '../../test/helpers/snapshots.js';
import { rng } from '../../test/helpers/history.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { SYSTEM_FIELDS, type Snapshot } from '../types.js';
import {
  COUNTER_BLOB_FORMAT,
  COUNTER_DELTA_FORMAT,
  COUNTER_SPARSE_FORMAT,
  CounterBlobWriter,
} from './counter-blob.js';
import { Store } from './index.js';
import { readRawColumns, readRawColumnsAt } from './raw-columns.js';
import { pruneRaw } from './retention.js';
import { SystemRows } from './system-rows.js';
import type { SampleWriter } from './writer.js';

const MINUTE = 60_000;
/** Half past ten seconds into a minute: rows off the minute's start. */
const T0 = 1_000 * MINUTE + 10_500;

/** Snapshots as a machine gives them: large counters moving a little, an odd null or reset. */
function snapshots(start: number, count: number, stepMs = 1000, seed = 7): Snapshot[] {
  const r = rng(seed);
  // even, so that halves are integers as the kernel's ticks are
  let user = 2 ** 33;
  let idle = 2 ** 35;
  let ctxt = 9e12;
  let psi = 2 ** 45;
  const out: Snapshot[] = [];
  for (let i = 0; i < count; i++) {
    user += 2 * Math.floor(r() * 100);
    idle += 2 * Math.floor(r() * 100);
    ctxt += Math.floor(r() * 5000);
    psi += Math.floor(r() * 1e6);
    if (i % 97 === 50) ctxt = 17; // a reset
    out.push(
      snap(
        start + i * stepMs,
        {
          cpu_user: user,
          cpu_idle: idle,
          cpu_system: i % 13 === 0 ? null : Math.floor(user / 3),
          ctxt,
          forks: i % 31 === 0 ? 1.5 : 40_000 + i, // a float, never expected, now and then
          boot_time: 1_700_000_000,
          load1: Math.floor(r() * 800) / 100,
          psi_io_some_total_us: psi,
          psi_io_some_avg10: Math.floor(r() * 10_000) / 100,
          mem_total_bytes: 16 * 2 ** 30,
          mem_available_bytes: 8 * 2 ** 30 + Math.floor(r() * 2 ** 24),
          swap_free_bytes: i % 40 < 3 ? null : Number.MAX_SAFE_INTEGER - Math.floor(r() * 1e6),
        },
        { cores: [cpu(user / 2 - (i % 7), idle / 2), cpu(Math.floor(user / 4), idle / 2 + i)] },
      ),
    );
  }
  return out;
}

/** Writes each snapshot and remembers it as what its ts reads back as. */
function record(w: SampleWriter, snaps: Snapshot[], written: Map<number, Snapshot>) {
  for (const s of snaps) {
    w.write(s);
    written.set(s.ts, s);
  }
}

/** Every snapshot stored, as its system fields and cores. */
const asStored = (s: Snapshot) => ({ ts: s.ts, system: s.system, cores: s.cores });

/** Reads [from, to] every way there is and checks each against what was written. */
function expectReads(store: Store, written: Map<number, Snapshot>, from: number, to: number) {
  const want = [...written.values()]
    .filter((s) => s.ts >= from && s.ts <= to)
    .sort((a, b) => a.ts - b.ts);
  expect(store.query.systemSnapshots(from, to).map(asStored)).toEqual(want.map(asStored));
  const cols = readRawColumns(store.db, from, to, { fields: SYSTEM_FIELDS, cores: true });
  expect(Array.from(cols.ts)).toEqual(want.map((s) => s.ts));
  want.forEach((s, i) => {
    for (const f of SYSTEM_FIELDS) expect([f, cols.system[f]![i]]).toEqual([f, s.system[f] ?? NaN]);
    s.cores.forEach((c, core) => expect(cols.cores[core]!.user[i]).toBe(c.user));
  });
  // every other row, and times with no row
  const picked = want.filter((_, i) => i % 3 !== 1);
  const at = readRawColumnsAt(
    store.db,
    [...picked.map((s) => s.ts), ...picked.map((s) => s.ts + 1)].sort((a, b) => a - b),
    { fields: ['cpu_user', 'ctxt', 'load1', 'swap_free_bytes'], cores: true },
  );
  expect(Array.from(at.ts)).toEqual(picked.map((s) => s.ts));
  picked.forEach((s, i) => {
    expect(at.system.ctxt![i]).toBe(s.system.ctxt);
    expect(at.system.load1![i]).toBe(s.system.load1);
    expect(at.system.swap_free_bytes![i]).toBe(s.system.swap_free_bytes ?? NaN);
    expect(at.cores[1]!.idle[i]).toBe(s.cores[1]!.idle);
  });
}

/** Ranges starting at the data's start, mid-minute, on a minute, between rows. */
function expectAllReads(store: Store, written: Map<number, Snapshot>) {
  const ts = [...written.keys()].sort((a, b) => a - b);
  const first = ts[0]!;
  const last = ts[ts.length - 1]!;
  const froms = [first - 5000, first, first + 20_000, first + 20_000 + 300, 1_002 * MINUTE];
  for (const from of [...froms, 1_002 * MINUTE - 1, ts[ts.length >> 1]!, last]) {
    expectReads(store, written, from, last);
    expectReads(store, written, from, from + 75_000);
  }
}

function formats(store: Store): [number, number][] {
  return (
    store.db.prepare('SELECT ts, counters FROM system_raw ORDER BY ts').raw().all() as [
      number,
      Buffer,
    ][]
  ).map(([ts, blob]) => [ts, blob[0]!]);
}

describe('delta frames in system_raw', () => {
  it('read back as written from any time, a keyframe opening each minute', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const written = new Map<number, Snapshot>();
    record(w, snapshots(T0, 200), written);
    expectAllReads(store, written);
    const rows = formats(store);
    rows.forEach(([ts, format], i) => {
      const opens = i === 0 || Math.floor(rows[i - 1]![0] / MINUTE) !== Math.floor(ts / MINUTE);
      expect([ts, format]).toEqual([ts, opens ? COUNTER_BLOB_FORMAT : COUNTER_SPARSE_FORMAT]);
    });
    // fewer bytes, even with this data's gauges jumping by up to 2^24 a second
    const deltas = store.db
      .prepare("SELECT avg(length(counters)) FROM system_raw WHERE substr(counters, 1, 1) = x'03'")
      .pluck()
      .get() as number;
    const absolute = new CounterBlobWriter().encode(
      written.get(T0)!.system,
      written.get(T0)!.cores,
    );
    expect(deltas).toBeLessThan(absolute.length * 0.75);
    store.close();
  });

  it('start again from a keyframe after a restart, a failed write and next to old rows', () => {
    const store = Store.open(tempDir());
    const written = new Map<number, Snapshot>();
    const all = snapshots(T0, 240);
    // rows as stored before delta frames (absolute frames only), then before sparse ones
    const old = new CounterBlobWriter();
    const format2 = new CounterBlobWriter(COUNTER_DELTA_FORMAT);
    const insert = store.db.prepare('INSERT INTO system_raw (ts, counters) VALUES (?, ?)');
    all.slice(0, 30).forEach((s, i) => {
      const blob = i < 15 ? old.encode(s.system, s.cores) : format2.encode(s.system, s.cores, true);
      insert.run(s.ts, blob);
      written.set(s.ts, s);
    });
    let w = store.createWriter();
    record(w, all.slice(30, 100), written);
    // a new writer mid-minute
    w = store.createWriter();
    record(w, all.slice(100, 170), written);
    const broken = all[170]!;
    store.db.exec(
      "CREATE TRIGGER broken BEFORE INSERT ON system_raw BEGIN SELECT RAISE(ABORT, 'full'); END",
    );
    expect(() => w.write(broken)).toThrow(/full/);
    store.db.exec('DROP TRIGGER broken');
    record(w, all.slice(171), written);
    const format = new Map(formats(store));
    expect(format.get(all[15]!.ts)).toBe(COUNTER_BLOB_FORMAT);
    expect(format.get(all[16]!.ts)).toBe(COUNTER_DELTA_FORMAT);
    expect(format.get(all[30]!.ts)).toBe(COUNTER_BLOB_FORMAT);
    expect(format.get(all[31]!.ts)).toBe(COUNTER_SPARSE_FORMAT);
    expect(format.get(all[100]!.ts)).toBe(COUNTER_BLOB_FORMAT);
    expect(format.get(all[171]!.ts)).toBe(COUNTER_BLOB_FORMAT);
    expect(format.get(all[172]!.ts)).toBe(COUNTER_SPARSE_FORMAT);
    expect(format.has(broken.ts)).toBe(false);
    expectAllReads(store, written);
    store.close();
  });

  it('keep rows readable when the clock goes back among them', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const written = new Map<number, Snapshot>();
    const later = snapshots(T0, 40, 1000, 1);
    const earlier = snapshots(T0 + 14_500, 10, 1000, 2);
    record(w, [...later, ...earlier, ...snapshots(T0 + 40_000, 10, 1000, 3)], written);
    // and a restarted writer, its clock further back still
    const again = store.createWriter();
    record(again, snapshots(T0 + 2_000, 5, 1000, 4), written);
    expectAllReads(store, written);
    store.close();
  });

  it('find the keyframe a read starts at, near or far', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    for (const s of snapshots(T0, 100)) w.write(s);
    const rows = new SystemRows(store.db);
    expect(rows.keyframe(T0 + 5_000)).toBe(T0);
    expect(rows.keyframe(T0 - 1)).toBe(T0);
    // the first row of the next minute is a keyframe: nothing before it is read
    expect(rows.keyframe(1_001 * MINUTE)).toBe(1_001 * MINUTE + 500);
    expect(rows.keyframe(1_001 * MINUTE + 501)).toBe(1_001 * MINUTE + 500);
    expect(rows.range(1_001 * MINUTE + 501, 1_001 * MINUTE + 501)).toHaveLength(1);
    // a minute whose keyframe is gone: the search goes on back, and the reader refuses the
    // minute's delta frames rather than read them against the minute before
    store.db.prepare('DELETE FROM system_raw WHERE ts = ?').run(1_001 * MINUTE + 500);
    expect(rows.keyframe(1_001 * MINUTE + 5_000)).toBe(T0);
    expect(() => store.query.systemSnapshots(1_001 * MINUTE + 5_000, Infinity)).toThrow(
      /another minute/,
    );
    store.db.prepare('DELETE FROM system_raw').run();
    expect(rows.keyframe(5)).toBe(5);
    store.close();
  });

  it('leave every row readable after retention cuts mid-minute, in batches too', () => {
    for (const batch of [10_000, 7]) {
      const store = Store.open(tempDir());
      const w = store.createWriter();
      const written = new Map<number, Snapshot>();
      record(w, snapshots(T0, 200), written);
      const cutoff = 1_002 * MINUTE + 25_000;
      while (pruneRaw(store.db, cutoff, batch).more);
      const oldest = store.query.oldestTimestamp()!;
      // from the keyframe at or before the cutoff
      expect(oldest).toBe(1_002 * MINUTE + 500);
      for (const ts of written.keys()) if (ts < oldest) written.delete(ts);
      expectAllReads(store, written);
      expect(formats(store)[0]![1]).toBe(COUNTER_BLOB_FORMAT);
      store.close();
    }
  });
});
