import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deriveSystem } from '../analyze/derive.js';
import { cpu, proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import { pruneRaw, pruneSelfMetrics } from './retention.js';
import { MIGRATIONS, migrate } from './schema.js';
import { openDatabase, getMeta, setMeta, StoreError } from './db.js';
import { CounterBlobWriter } from './counter-blob.js';
import { HUNDREDTHS_FIELDS, SYSTEM_FIELDS } from '../types.js';

const BOOT = 1_700_000_000;

function system(i: number) {
  return {
    cpu_user: 100 * i,
    cpu_nice: 0,
    cpu_system: 0,
    cpu_idle: 100 * i,
    cpu_iowait: 0,
    cpu_irq: 0,
    cpu_softirq: 0,
    cpu_steal: 0,
    mem_total_bytes: 1000,
    mem_available_bytes: 400,
    boot_time: BOOT,
  };
}

describe('store write and read paths', () => {
  it('round-trips system, core, disk and net counters and derives the same values', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const disks = (n: number) => [
      {
        name: 'vda',
        reads: n,
        read_sectors: n * 8,
        read_ms: n,
        writes: 0,
        write_sectors: 0,
        write_ms: 0,
        in_flight: 0,
        io_ms: n,
        weighted_ms: n,
      },
    ];
    const nets = (n: number) => [
      {
        name: 'eth0',
        rx_bytes: n * 100,
        rx_packets: n,
        rx_errs: 0,
        rx_drop: 0,
        tx_bytes: n * 10,
        tx_packets: n,
        tx_errs: 0,
        tx_drop: 0,
      },
    ];
    const written = [1, 2, 3].map((i) =>
      snap(i * 1000, system(i), {
        cores: [cpu(50 * i, 50 * i), cpu(60 * i, 40 * i)],
        disks: disks(i),
        nets: nets(i),
      }),
    );
    for (const s of written) w.write(s);
    const read = store.query.systemSnapshots(0, 10_000);
    expect(read.map((s) => s.ts)).toEqual([1000, 2000, 3000]);
    expect(read[1]?.cores).toEqual(written[1]?.cores);
    expect(read[1]?.disks).toEqual(written[1]?.disks);
    expect(read[1]?.nets).toEqual(written[1]?.nets);
    expect(read[2]?.system.psi_cpu_some_total_us).toBeNull();
    expect(deriveSystem(read[0]!, read[1]!)).toEqual(deriveSystem(written[0]!, written[1]!));
    expect(store.query.latestTimestamp()).toBe(3000);
    expect(store.query.oldestTimestamp()).toBe(1000);
    expect(store.query.systemSnapshots(5000, 6000)).toEqual([]);
    store.close();
    store.close(); // idempotent
  });

  it('stores load and PSI averages as integer hundredths and reads back the same numbers', () => {
    const store = Store.open(tempDir());
    const averages = {
      load1: 2.37,
      load5: 0.07,
      load15: 11.5,
      psi_cpu_some_avg10: 20.41,
      psi_io_full_avg10: 0.3,
      psi_memory_some_avg10: 0,
    };
    const written = snap(1000, { ...system(1), ...averages });
    store.createWriter().write(written);
    const [read] = store.query.systemSnapshots(0, 2000);
    expect(read?.system).toMatchObject({ ...averages, psi_cpu_full_avg10: null });
    // what the blob holds is integer hundredths: a varint of a byte or two each
    const stored = SYSTEM_FIELDS.map((f) => {
      const v = written.system[f];
      return v !== null && HUNDREDTHS_FIELDS.has(f) ? Math.round(v * 100) : v;
    });
    expect(stored[SYSTEM_FIELDS.indexOf('load1')]).toBe(237);
    expect(store.db.prepare('SELECT counters FROM system_raw').pluck().get()).toEqual(
      new CounterBlobWriter().encodeStored(stored, []),
    );
    store.close();
  });

  it('round-trips machines with many cores, whatever their number', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const cores = (n: number, t: number) =>
      Array.from({ length: n }, (_, i) => cpu(t + i, 1000 * t + i, { steal: i % 3 }));
    const written = [
      snap(1000, system(1), { cores: cores(130, 1) }),
      snap(2000, system(2), { cores: cores(2, 2) }),
    ];
    for (const s of written) w.write(s);
    const read = store.query.systemSnapshots(0, 10_000);
    expect(read.map((s) => s.cores)).toEqual(written.map((s) => s.cores));
    store.close();
  });

  it('stores a process row only when its counters change, and its state holds until then', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const idle = proc(20, { rss_pages: 5000 });
    const rows = [
      w.write(snap(1000, system(1), { processes: [proc(10, { utime: 1 }), idle] })),
      w.write(snap(2000, system(2), { processes: [proc(10, { utime: 1 }), idle] })),
      w.write(snap(3000, system(3), { processes: [proc(10, { utime: 9 }), idle] })),
    ];
    expect(rows).toEqual([2, 0, 1]);
    const at = store.query.processStatesAt(0, 3000, 2500);
    expect(at.map((p) => [p.pid, p.utime, p.rss_pages]).sort()).toEqual([
      [10, 1, 100],
      [20, 0, 5000],
    ]);
    expect(store.query.processStatesAt(0, 3000, 3000).find((p) => p.pid === 10)?.utime).toBe(9);
    store.close();
  });

  it('stores any number of changed process rows, read back per process', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const procs = (n: number, utime: (pid: number) => number) =>
      Array.from({ length: n }, (_, i) => proc(100 + i, { utime: utime(100 + i) }));
    expect(w.write(snap(1000, system(1), { processes: procs(100, () => 1) }))).toBe(100);
    expect(w.write(snap(2000, system(2), { processes: procs(100, (pid) => pid % 3) }))).toBe(66);
    const at = (t: number) => store.query.processStatesAt(0, 3000, t).map((p) => [p.pid, p.utime]);
    expect(at(1500)).toEqual(procs(100, () => 1).map((p) => [p.pid, 1]));
    expect(at(2500)).toEqual(procs(100, (pid) => pid % 3).map((p) => [p.pid, p.utime]));
    expect(store.query.counts().process_raw).toBe(166);
    store.close();
  });

  it('keeps two processes that reuse a PID apart and marks the first as exited', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    w.write(
      snap(1000, system(1), { processes: [proc(10, { start_ticks: 1, utime: 500, comm: 'old' })] }),
    );
    w.write(
      snap(2000, system(2), { processes: [proc(10, { start_ticks: 2, utime: 3, comm: 'new' })] }),
    );
    const all = store.db
      .prepare('SELECT pid, start_ticks, comm, exited_at FROM process ORDER BY start_ticks')
      .all();
    expect(all).toEqual([
      { pid: 10, start_ticks: 1, comm: 'old', exited_at: 2000 },
      { pid: 10, start_ticks: 2, comm: 'new', exited_at: null },
    ]);
    expect(store.query.processStatesAt(0, 3000, 3000).map((p) => p.comm)).toEqual(['new']);
    store.close();
  });

  it('follows exec: a changed comm updates the process identity', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    w.write(snap(1000, system(1), { processes: [proc(10, { comm: 'sh', cmdline: 'sh -c x' })] }));
    w.write(
      snap(2000, system(2), {
        processes: [proc(10, { comm: 'python3', cmdline: 'python3 job.py' })],
      }),
    );
    expect(store.db.prepare('SELECT comm, cmdline FROM process').get()).toEqual({
      comm: 'python3',
      cmdline: 'python3 job.py',
    });
    store.close();
  });

  it('marks processes a previous recorder left alive as exited unless seen again', () => {
    const dir = tempDir();
    let store = Store.open(dir);
    store.createWriter().write(snap(1000, system(1), { processes: [proc(10), proc(11)] }));
    store.close();
    store = Store.open(dir);
    store.createWriter().write(snap(5000, system(5), { processes: [proc(11)] }));
    const rows = store.db.prepare('SELECT pid, exited_at FROM process ORDER BY pid').all();
    expect(rows).toEqual([
      { pid: 10, exited_at: 5000 },
      { pid: 11, exited_at: null },
    ]);
    store.close();
  });

  it('starts a new process generation after a reboot (boot time moved)', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    w.write(snap(1000, system(1), { processes: [proc(10)] }));
    w.write(snap(2000, { ...system(2), boot_time: BOOT + 3 }, { processes: [proc(10)] })); // jitter: same boot
    w.write(snap(3000, { ...system(3), boot_time: BOOT + 600 }, { processes: [proc(10)] }));
    expect(store.db.prepare('SELECT count(*) FROM process').pluck().get()).toBe(2);
    store.close();
  });

  it('prunes raw rows past retention but keeps each live process state', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    for (let i = 1; i <= 10; i++) {
      const procs = [proc(10, { utime: i }), proc(20)];
      if (i <= 3) procs.push(proc(30, { utime: i }));
      // Two rows a minute: a keyframe, then a delta frame.
      w.write(snap(i * 30_000, system(i), { cores: [cpu(i, i)], processes: procs }));
    }
    store.db.prepare('INSERT INTO collector_stat VALUES (1, ?, 1, 0, 1, 1, NULL)').run('stat');
    store.db.prepare('INSERT INTO recorder_stat VALUES (1, 1, 0, 1, 1, 1, 1)').run();
    const r = pruneRaw(store.db, 180_000, 10_000);
    expect(r.more).toBe(false);
    expect(store.query.oldestTimestamp()).toBe(180_000);
    expect(store.query.systemSnapshots(0, 300_000)[0]?.cores).toEqual([cpu(6, 6)]);
    // process 30 exited at 120000 < cutoff: gone with its rows
    expect(store.db.prepare('SELECT count(*) FROM process WHERE pid = 30').pluck().get()).toBe(0);
    // idle process 20 has only its first row, older than the cutoff: kept
    expect(
      store.query
        .processStatesAt(180_000, 300_000, 300_000)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([10, 20]);
    expect(
      store.query.processStatesAt(180_000, 300_000, 180_000).find((p) => p.pid === 10)?.utime,
    ).toBe(6);
    expect(
      store.db.prepare('SELECT min(ts) FROM process_raw WHERE process_id = 1').pluck().get(),
    ).toBe(180_000);
    expect(pruneSelfMetrics(store.db, 10)).toBe(2);
    // batch 1: up to the first keyframe from the second row on
    const small = pruneRaw(store.db, 300_000, 1);
    expect(small.more).toBe(true);
    expect(store.query.oldestTimestamp()).toBe(240_000);
    store.close();
  });

  it('counts rows per table', () => {
    const store = Store.open(tempDir());
    store.createWriter().write(snap(1000, system(1), { processes: [proc(1)] }));
    expect(store.query.counts()).toMatchObject({
      system_raw: 1,
      process: 1,
      process_raw: 1,
      automation_run: 0,
    });
    store.close();
  });
});

describe('database', () => {
  it('migrates once, keeps meta, and refuses a newer schema', () => {
    const dir = tempDir();
    const db = openDatabase(`${dir}/a.db`);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    setMeta(db, 'k', 'v1');
    setMeta(db, 'k', 'v2');
    expect(getMeta(db, 'k')).toBe('v2');
    expect(getMeta(db, 'missing')).toBeNull();
    migrate(db); // no-op
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    expect(() => migrate(db)).toThrow(/newer than this kmpm/);
    db.close();
    expect(() => openDatabase(`${dir}/a.db`)).toThrow(StoreError);
  });
  it('starts the WAL over from an empty file once it is checkpointed', () => {
    const dir = tempDir();
    const db = openDatabase(`${dir}/a.db`);
    const wal = () => fs.statSync(`${dir}/a.db-wal`).size;
    db.exec('CREATE TABLE t (v BLOB)');
    const insert = db.prepare('INSERT INTO t VALUES (randomblob(2000))');
    for (let i = 0; i < 100; i++) insert.run(); // a commit each: ~100 frames
    const grown = wal();
    expect(grown).toBeGreaterThan(100 * 4096);
    db.pragma('wal_checkpoint(PASSIVE)');
    insert.run(); // the first commit after the checkpoint restarts the WAL
    expect(wal()).toBeLessThan(4 * 4096);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(101);
    db.close();
  });
  it('names the file it cannot open', () => {
    const dir = tempDir();
    expect(() => openDatabase(`${dir}`)).toThrow(/cannot open database/);
  });
});
