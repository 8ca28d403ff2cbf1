import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { busyFor } from '../../test/helpers/busy.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from '../store/index.js';
import type { Snapshot } from '../types.js';
import { createBackend } from './backend.js';
import { HOOK_STAT, Recorder, WRITE_STAT, type RecorderOptions } from './recorder.js';
import type { Sampler } from './sampler.js';

const HOUR = 3600_000;
const T = Date.UTC(2024, 0, 1, 12);

interface Rig {
  store: Store;
  sampler: Sampler;
  recorder: Recorder;
  /** Every log line, parsed. */
  logs: { level: number; msg: string; err?: { message: string } }[];
  /** The single value a query returns. */
  value: (sql: string, ...args: unknown[]) => unknown;
  count: (sql: string, ...args: unknown[]) => number;
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function rig(
  opts: Partial<RecorderOptions> = {},
  { procRoot = '/proc', processes = true } = {},
): Rig {
  const store = Store.open(tempDir());
  const sampler = createBackend({ procRoot }).createSampler({ processes });
  const logs: Rig['logs'] = [];
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => void logs.push(JSON.parse(s) as Rig['logs'][number]) },
  );
  const recorder = new Recorder(sampler, store, { intervalMs: 1000, logger, ...opts });
  cleanup.push(() => {
    recorder.stop();
    sampler.close();
    store.close();
  });
  const value = (sql: string, ...args: unknown[]) =>
    store.db
      .prepare(sql)
      .pluck()
      .get(...args);
  const count = (sql: string, ...args: unknown[]) => Number(value(sql, ...args));
  return { store, sampler, recorder, logs, value, count };
}

/** Makes every insert into system_raw fail until the returned function is called. */
function breakWrites(store: Store): () => void {
  store.db.exec(
    "CREATE TRIGGER broken BEFORE INSERT ON system_raw BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
  );
  return () => store.db.exec('DROP TRIGGER broken');
}

describe('Recorder', () => {
  it('stores one snapshot of this machine per tick and hands it on', () => {
    const seen: Snapshot[] = [];
    const { recorder, count, store } = rig({ clock: () => T, onSnapshot: (s) => seen.push(s) });
    const s = recorder.tick(T);
    expect(s?.ts).toBe(T);
    expect(seen).toEqual([s]);
    const [stored] = store.query.systemSnapshots(T, T);
    expect(stored?.system.mem_total_bytes).toBeGreaterThan(0);
    expect(stored?.system.cpu_user).toBe(s?.system.cpu_user);
    expect(stored?.cores).toEqual(s?.cores);
    // this very process was seen, and every process got a first row
    expect(count('SELECT count(*) FROM process WHERE pid = ?', process.pid)).toBe(1);
    expect(count('SELECT count(*) FROM process_raw WHERE ts = ?', T)).toBe(s?.processes?.length);
    expect(s?.processes?.length).toBeGreaterThan(0);
    expect(recorder.running).toBe(false);
  });

  it('flushes self-metrics and prunes raw rows past retention at housekeeping', () => {
    const { recorder, sampler, value, count } = rig({
      clock: () => T,
      rawRetentionMs: HOUR,
      selfRetentionMs: 2 * HOUR,
      housekeepingMs: 10 * HOUR,
    });
    recorder.tick(T - 3 * HOUR);
    recorder.tick(T - 2 * HOUR);
    recorder.housekeeping(T - 2 * HOUR); // a self-metric row that retention will drop later
    recorder.tick(T);
    expect(count('SELECT count(*) FROM system_raw')).toBe(3);
    expect(count('SELECT count(*) FROM recorder_stat')).toBe(1);

    recorder.housekeeping(T + 1);
    expect(value('SELECT group_concat(ts) FROM system_raw')).toBe(String(T));
    expect(count('SELECT count(*) FROM recorder_stat')).toBe(1); // the T - 2 h row is gone
    expect(count('SELECT ticks FROM recorder_stat WHERE ts = ?', T + 1)).toBe(1);
    const collectors = value(
      'SELECT group_concat(name) FROM (SELECT name FROM collector_stat WHERE ts = ? ORDER BY name)',
      T + 1,
    );
    expect(collectors).toBe([...sampler.names, WRITE_STAT].sort().join(','));
    // each collector ran once, and so did the write of the one sample since
    expect(count('SELECT sum(runs) FROM collector_stat WHERE ts = ?', T + 1)).toBe(
      sampler.names.length + 1,
    );
    // nothing new since: no empty rows
    recorder.housekeeping(T + 2);
    expect(count('SELECT count(*) FROM recorder_stat')).toBe(1);
  });

  it('runs retention every retentionEveryMs, and at once again after a failed pass', () => {
    const { recorder, store, count } = rig({
      clock: () => T,
      rawRetentionMs: HOUR,
      housekeepingMs: 10 * HOUR,
      retentionEveryMs: 10 * 60_000,
    });
    recorder.tick(T - 3 * HOUR);
    recorder.housekeeping(T);
    expect(count('SELECT count(*) FROM system_raw')).toBe(0);
    recorder.tick(T - 2 * HOUR); // expired on arrival: it waits for the next pass
    recorder.housekeeping(T + 60_000);
    expect(count('SELECT count(*) FROM system_raw')).toBe(1);
    recorder.housekeeping(T + 10 * 60_000);
    expect(count('SELECT count(*) FROM system_raw')).toBe(0);

    recorder.tick(T - 2 * HOUR);
    store.db.exec('ALTER TABLE recorder_stat RENAME TO recorder_stat_away');
    recorder.housekeeping(T + 20 * 60_000); // fails before pruning
    store.db.exec('ALTER TABLE recorder_stat_away RENAME TO recorder_stat');
    expect(count('SELECT count(*) FROM system_raw')).toBe(1);
    recorder.housekeeping(T + 21 * 60_000); // a minute later, not ten
    expect(count('SELECT count(*) FROM system_raw')).toBe(0);
  });

  it('counts a failing collector with its last error and stores what the others read', () => {
    // a recorded /proc tree without loadavg: that collector fails, for real, every tick
    const root = path.join(tempDir(), 'proc');
    fs.cpSync(path.resolve('test/fixtures/proc/host'), root, { recursive: true });
    fs.rmSync(path.join(root, 'loadavg'));
    const { recorder, value, store } = rig({ clock: () => T }, { procRoot: root });
    recorder.tick(T);
    recorder.tick(T + 1000);
    recorder.housekeeping(T + 2000);
    const row = (name: string) =>
      value(
        'SELECT json_array(runs, failures, last_error) FROM collector_stat WHERE name = ?',
        name,
      );
    expect(JSON.parse(String(row('loadavg')))).toEqual([2, 2, expect.stringContaining('loadavg')]);
    expect(JSON.parse(String(row('meminfo')))).toEqual([2, 0, null]);
    const [stored] = store.query.systemSnapshots(T, T);
    expect(stored?.system.mem_total_bytes).toBeGreaterThan(0);
    expect(stored?.system.load1).toBeNull();
  });

  it('runs housekeeping from tick once housekeepingMs has passed', () => {
    const { recorder, count } = rig({ clock: () => T, housekeepingMs: 10_000 });
    recorder.tick(T + 5_000);
    expect(count('SELECT count(*) FROM recorder_stat')).toBe(0);
    recorder.tick(T + 10_000);
    expect(count('SELECT ticks FROM recorder_stat WHERE ts = ?', T + 10_000)).toBe(2);
  });

  it('writes the samples of a flush interval together, and what waits at housekeeping, flush and stop', () => {
    const seen: Snapshot[] = [];
    const { recorder, store, count } = rig({
      clock: () => T,
      flushMs: 5000,
      housekeepingMs: 10 * HOUR,
      // a copy of what each tick sampled, to compare with what is stored later
      onSnapshot: (s) => seen.push(structuredClone(s)),
    });
    const reader = new Database(store.file, { readonly: true });
    cleanup.push(() => reader.close());
    const rows = (table: string) =>
      Number(reader.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
    for (let s = 0; s < 4; s++) expect(recorder.tick(T + s * 1000)?.ts).toBe(T + s * 1000);
    expect(rows('system_raw')).toBe(0); // waiting in memory, not in an open transaction
    // the next tick would leave the oldest waiting past 5 s: all five, at once
    recorder.tick(T + 4000);
    expect(rows('system_raw')).toBe(5);
    // stored as sampled: counters, cores and every process that changed
    const stored = store.query.systemSnapshots(T, T + 4000);
    expect(stored.map((s) => s.system)).toEqual(seen.map((s) => s.system));
    expect(stored.map((s) => s.cores)).toEqual(seen.map((s) => s.cores));
    // and the same process rows as one transaction per sample would have stored
    const single = Store.open(tempDir());
    cleanup.push(() => single.close());
    const writer = single.createWriter();
    for (const s of seen) writer.write(s);
    const processRows = (db: Database.Database) =>
      db.prepare('SELECT * FROM process_raw ORDER BY process_id, ts').raw().all();
    expect(processRows(reader)).toEqual(processRows(single.db));
    expect(rows('process_raw')).toBeGreaterThanOrEqual(seen[0]!.processes!.length);

    recorder.tick(T + 5000);
    recorder.housekeeping(T + 5500); // rollups must see every sample of their minutes
    expect(rows('system_raw')).toBe(6);
    expect(count('SELECT sum(process_rows) FROM recorder_stat')).toBe(rows('process_raw'));
    recorder.tick(T + 6000);
    expect(recorder.flush()).toBe(true);
    expect(rows('system_raw')).toBe(7);
    recorder.tick(T + 7000);
    recorder.tick(T + 2000); // the clock went back: written at once, not held until it catches up
    expect(rows('system_raw')).toBe(8);
    recorder.tick(T + 8000);
    recorder.stop();
    expect(rows('system_raw')).toBe(9);
    expect(count('SELECT sum(ticks) FROM recorder_stat')).toBe(10);
  });

  it('writes every sample at once when the interval is as long as the flush interval', () => {
    const { recorder, count } = rig({ clock: () => T, intervalMs: 10_000, flushMs: 10_000 });
    recorder.tick(T);
    expect(count('SELECT count(*) FROM system_raw')).toBe(1);
    recorder.tick(T + 10_000);
    expect(count('SELECT count(*) FROM system_raw')).toBe(2);
  });

  it('logs a failing write once per run of failures, counts it, returns null and goes on', () => {
    const seen: Snapshot[] = [];
    const { recorder, store, logs, count, value } = rig({
      clock: () => T,
      housekeepingMs: 10 * HOUR,
      onSnapshot: (s) => seen.push(s),
    });
    const repair = breakWrites(store);
    expect(() => recorder.tick(T)).not.toThrow();
    expect(recorder.tick(T + 1)).toBeNull();
    // alerts evaluate what was sampled, stored or not (a full disk is worth an alert)
    expect(seen.map((s) => s.ts)).toEqual([T, T + 1]);
    const failed = () => logs.filter((l) => l.msg === 'writing samples failed');
    expect(failed()).toHaveLength(1);
    expect(failed()[0]?.level).toBe(50); // error
    expect(failed()[0]?.err?.message).toBe('disk on fire');

    repair();
    expect(recorder.tick(T + 2)?.ts).toBe(T + 2);
    expect(count('SELECT count(*) FROM system_raw')).toBe(1);

    breakWrites(store);
    expect(recorder.tick(T + 3)).toBeNull();
    expect(failed()).toHaveLength(2); // a new run of failures is news again
    store.db.exec('DROP TRIGGER broken');
    recorder.housekeeping(T + 4);
    expect(
      value(
        'SELECT json_array(runs, failures, last_error) FROM collector_stat WHERE name = ?',
        WRITE_STAT,
      ),
    ).toBe(JSON.stringify([4, 3, 'disk on fire']));
  });

  it('logs a failing housekeeping pass as a warning and keeps the counts for the next', () => {
    const { recorder, store, logs, count } = rig({ clock: () => T });
    recorder.tick(T);
    store.db.exec('ALTER TABLE recorder_stat RENAME TO recorder_stat_away');
    expect(() => recorder.housekeeping(T + 1)).not.toThrow();
    expect(logs.map((l) => [l.level, l.msg])).toEqual([[40, 'housekeeping failed; will retry']]);
    store.db.exec('ALTER TABLE recorder_stat_away RENAME TO recorder_stat');
    recorder.housekeeping(T + 2);
    expect(count('SELECT ticks FROM recorder_stat WHERE ts = ?', T + 2)).toBe(1);
  });

  it('ticks on a real timer between start and stop, and start twice is harmless', async () => {
    // system counters only: a full process scan of a busy machine can outlast 50 ms
    const { recorder, count } = rig({ intervalMs: 50 }, { processes: false });
    recorder.start();
    recorder.start();
    expect(recorder.running).toBe(true);
    await delay(400);
    recorder.stop();
    expect(recorder.running).toBe(false);
    const ticks = count('SELECT count(*) FROM system_raw');
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(ticks).toBeLessThanOrEqual(10); // one timer, not two
    expect(count('SELECT sum(ticks) FROM recorder_stat')).toBe(ticks); // flushed by stop
    await delay(150);
    expect(count('SELECT count(*) FROM system_raw')).toBe(ticks); // no timer left behind
  });

  it("keeps the snapshot hook's time beside the collectors', only when there is a hook", () => {
    const { recorder, value, count } = rig({
      clock: () => T,
      housekeepingMs: 10 * HOUR,
      onSnapshot: () => busyFor(5),
    });
    recorder.tick(T);
    recorder.tick(T + 1000);
    recorder.housekeeping(T + 2000);
    const row = (sql: string) =>
      count(`SELECT ${sql} FROM collector_stat WHERE name = ? AND ts = ?`, HOOK_STAT, T + 2000);
    expect(row('runs')).toBe(2);
    expect(row('failures')).toBe(0);
    expect(row('duration_ms_max')).toBeGreaterThanOrEqual(5);
    expect(row('duration_ms_sum')).toBeGreaterThanOrEqual(10);

    const plain = rig({ clock: () => T, housekeepingMs: 10 * HOUR });
    plain.recorder.tick(T);
    plain.recorder.housekeeping(T + 1000);
    expect(plain.count('SELECT count(*) FROM collector_stat WHERE name = ?', HOOK_STAT)).toBe(0);
    expect(plain.count('SELECT count(*) FROM collector_stat')).toBeGreaterThan(0);
    expect(value('SELECT count(*) FROM collector_stat WHERE name = ?', HOOK_STAT)).toBe(1);
  });

  it('stops from within a snapshot handler without scheduling another tick', async () => {
    let snapshots = 0;
    const { recorder, count } = rig(
      {
        intervalMs: 10,
        onSnapshot: () => {
          if (++snapshots === 2) recorder.stop();
        },
      },
      { processes: false },
    );
    recorder.start();
    await delay(100);
    expect(snapshots).toBe(2);
    expect(recorder.running).toBe(false);
    expect(count('SELECT count(*) FROM system_raw')).toBe(2);
    // without process collection the recorder saw no processes and stored none
    expect(count('SELECT processes + process_rows FROM recorder_stat')).toBe(0);
    expect(count('SELECT count(*) FROM process_raw')).toBe(0);
  });

  it('counts the slots it skips after falling behind, instead of bursting', async () => {
    const intervalMs = 20;
    let now = T;
    let snapshots = 0;
    let done: () => void = () => {};
    const twoMore = new Promise<void>((resolve) => (done = resolve));
    const { recorder, count } = rig({
      intervalMs,
      clock: () => now,
      onSnapshot: () => {
        // the first tick takes (on this clock) five and a half intervals
        if (++snapshots === 1) now += 5.5 * intervalMs;
        if (snapshots === 3) done();
      },
    });
    recorder.start();
    await twoMore;
    recorder.housekeeping(now);
    recorder.stop();
    expect(count('SELECT sum(late_ticks) FROM recorder_stat')).toBe(4);
    // skipped slots are not made up: ticks after the stall carry the new time
    expect(count('SELECT count(*) FROM system_raw')).toBe(2);
  });
});
