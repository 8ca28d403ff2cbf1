import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { DB_FILE } from '../config/paths.js';
import type { DiskCounters, NetCounters, Snapshot } from '../types.js';
import { DEVICE_KEYFRAME_MS } from './device-rows.js';
import { Store } from './index.js';
import { pruneRaw } from './retention.js';
import { migrate } from './schema.js';

const disk = (name: string, n: number): DiskCounters => ({
  name,
  reads: n,
  read_sectors: n * 8,
  read_ms: n,
  writes: 0,
  write_sectors: 0,
  write_ms: 0,
  in_flight: 0,
  io_ms: n,
  weighted_ms: n,
});

const net = (name: string, n: number): NetCounters => ({
  name,
  rx_bytes: n * 100,
  rx_packets: n,
  rx_errs: 0,
  rx_drop: 0,
  tx_bytes: n * 10,
  tx_packets: n,
  tx_errs: 0,
  tx_drop: 0,
});

const sample = (ts: number, disks: DiskCounters[], nets: NetCounters[]): Snapshot =>
  snap(ts, { cpu_user: ts / 1000, boot_time: 1 }, { disks, nets });

const rowCount = (store: Store, table: string): number =>
  store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

/** What readers get back for each snapshot: the devices and their counters. */
const devicesOf = (snaps: Snapshot[]) => snaps.map((s) => ({ disks: s.disks, nets: s.nets }));

describe('disk and network rows stored on change', () => {
  it('stores a device row only when it changed, and reads back complete snapshots', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const written = [
      sample(1000, [disk('vda', 1)], [net('lo', 5), net('eth0', 1)]),
      sample(2000, [disk('vda', 1)], [net('lo', 5), net('eth0', 2)]),
      sample(3000, [disk('vda', 1)], [net('lo', 5), net('eth0', 3)]),
      sample(4000, [disk('vda', 2)], [net('lo', 5), net('eth0', 3)]),
    ];
    for (const s of written) w.write(s);
    expect(rowCount(store, 'disk_raw')).toBe(2);
    expect(rowCount(store, 'net_raw')).toBe(4);
    expect(devicesOf(store.query.systemSnapshots(0, 10_000))).toEqual(devicesOf(written));
    // A window that starts after a device's last row still carries it in.
    expect(devicesOf(store.query.systemSnapshots(3000, 3000))).toEqual(devicesOf([written[2]!]));
    store.close();
  });

  it('ends a device that disappears with a tombstone, and takes it back when it returns', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const written = [
      sample(1000, [disk('vda', 1), disk('sdb', 7)], [net('eth0', 1)]),
      sample(2000, [disk('vda', 1)], [net('eth0', 1), net('veth1', 1)]),
      sample(3000, [disk('vda', 1)], [net('eth0', 1)]),
      sample(4000, [disk('vda', 1), disk('sdb', 7)], [net('eth0', 1)]),
      sample(5000, [disk('vda', 1), disk('sdb', 7)], []), // netdev failed this tick
      sample(6000, [disk('vda', 1), disk('sdb', 7)], [net('eth0', 1)]),
    ];
    for (const s of written) w.write(s);
    expect(devicesOf(store.query.systemSnapshots(0, 10_000))).toEqual(devicesOf(written));
    expect(devicesOf(store.query.systemSnapshots(3000, 5000))).toEqual(
      devicesOf(written.slice(2, 5)),
    );
    store.close();
  });

  it('stores every device again at least once per keyframe interval', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const steps = [0, 1000, DEVICE_KEYFRAME_MS - 1, DEVICE_KEYFRAME_MS, DEVICE_KEYFRAME_MS + 1];
    for (const t of steps) w.write(sample(1000 + t, [disk('vda', 1)], [net('lo', 1)]));
    const stored = store.db.prepare('SELECT ts FROM disk_raw ORDER BY ts').pluck().all();
    expect(stored).toEqual([1000, 1000 + DEVICE_KEYFRAME_MS]);
    // A query far from the first row finds the state within one interval back.
    const last = store.query.systemSnapshots(1001 + DEVICE_KEYFRAME_MS, 1e12);
    expect(last.map((s) => s.disks)).toEqual([[disk('vda', 1)]]);
    store.close();
  });

  it('gives a restarted recorder the devices the previous one left present', () => {
    const dir = tempDir();
    let store = Store.open(dir);
    store.createWriter().write(sample(1000, [disk('vda', 1), disk('sdb', 2)], [net('eth0', 1)]));
    store.close();
    store = Store.open(dir);
    const w = store.createWriter();
    w.write(sample(5000, [disk('vda', 1)], [net('eth0', 1)]));
    w.write(sample(6000, [disk('vda', 1)], [net('eth0', 1)]));
    const read = store.query.systemSnapshots(5000, 6000);
    expect(read.map((s) => s.disks.map((d) => d.name))).toEqual([['vda'], ['vda']]);
    store.close();
  });

  it('after a failed write, stores what the database lacks instead of what it thought it had', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    w.write(sample(1000, [disk('vda', 1)], [net('eth0', 1)]));
    // Fails after the device rows of the sample, with the process rows.
    store.db.exec(
      "CREATE TRIGGER broken BEFORE INSERT ON process BEGIN SELECT RAISE(ABORT, 'full'); END",
    );
    const failing = { ...sample(2000, [disk('vda', 2)], []), processes: [proc(10)] };
    expect(() => w.write(failing)).toThrow(/full/);
    store.db.exec('DROP TRIGGER broken');
    const after = sample(3000, [disk('vda', 2)], []);
    w.write(after);
    const read = store.query.systemSnapshots(0, 10_000);
    expect(read.map((s) => s.ts)).toEqual([1000, 3000]);
    expect(devicesOf(read)).toEqual(
      devicesOf([sample(1000, [disk('vda', 1)], [net('eth0', 1)]), after]),
    );
    store.close();
  });

  it('keeps one keyframe interval of device rows past the raw retention cutoff', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const end = 3 * DEVICE_KEYFRAME_MS;
    for (let t = 1000; t <= end; t += 1000) w.write(sample(t, [disk('vda', 1)], [net('eth0', t)]));
    const cutoff = 2 * DEVICE_KEYFRAME_MS + 500;
    pruneRaw(store.db, cutoff);
    const read = store.query.systemSnapshots(0, end);
    // system rows from the keyframe at or before the cutoff: the first of its minute
    expect(read[0]?.ts).toBe(2 * 60_000);
    expect(read.every((s) => s.disks.length === 1 && s.nets.length === 1)).toBe(true);
    const oldest = store.db.prepare('SELECT min(ts) FROM disk_raw').pluck().get() as number;
    expect(oldest).toBeLessThan(cutoff);
    expect(oldest).toBeGreaterThanOrEqual(cutoff - DEVICE_KEYFRAME_MS);
    store.close();
  });
});

describe('migrating rows stored before devices were stored on change', () => {
  it('marks where a device was missing, so old samples read back as they were stored', () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, DB_FILE));
    migrate(db, 1);
    const device = db.prepare('INSERT INTO device (id, kind, name) VALUES (?, ?, ?)');
    device.run(1, 'disk', 'vda');
    device.run(2, 'disk', 'sdb');
    device.run(3, 'net', 'eth0');
    const diskRow = db.prepare('INSERT INTO disk_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const netRow = db.prepare('INSERT INTO net_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    // A row for every present device in every sample, as stored before: sdb is unplugged
    // after 2000 and back at 4000; the network collector failed at 3000.
    const present: [number, number[]][] = [
      [1000, [1, 2, 3]],
      [2000, [1, 2, 3]],
      [3000, [1]],
      [4000, [1, 2, 3]],
    ];
    for (const [ts, ids] of present) {
      db.prepare('INSERT INTO system_raw (ts) VALUES (?)').run(ts);
      for (const id of ids) {
        if (id === 3) netRow.run(ts, id, ...new Array<number>(8).fill(ts));
        else diskRow.run(ts, id, ...new Array<number>(9).fill(ts));
      }
    }
    db.close();
    const store = Store.open(dir); // migrates
    const read = store.query.systemSnapshots(0, 10_000);
    expect(read.map((s) => s.disks.map((d) => d.name))).toEqual([
      ['vda', 'sdb'],
      ['vda', 'sdb'],
      ['vda'],
      ['vda', 'sdb'],
    ]);
    expect(read.map((s) => s.nets.length)).toEqual([1, 1, 0, 1]);
    expect(read[3]?.disks[1]?.reads).toBe(4000);
    store.close();
  });
});

describe('migrating load and PSI averages stored as plain numbers', () => {
  it('turns them into hundredths, so old samples read back unchanged', () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, DB_FILE));
    migrate(db, 4);
    db.prepare(
      'INSERT INTO system_raw (ts, load1, load15, psi_io_some_avg10, cpu_user) VALUES (?, ?, ?, ?, ?)',
    ).run(1000, 1.23, 0.05, 99.99, 12345);
    db.close();
    const store = Store.open(dir); // migrates
    const [read] = store.query.systemSnapshots(0, 2000);
    expect(read?.system).toMatchObject({
      load1: 1.23,
      load5: null,
      load15: 0.05,
      psi_io_some_avg10: 99.99,
      cpu_user: 12345,
    });
    store.close();
  });
});
