import { describe, expect, it } from 'vitest';
import { deriveSystem } from '../analyze/derive.js';
import { QuantileSketch } from '../analyze/sketch.js';
import { quantileSorted } from '../analyze/stats.js';
import { BOOT, rng, writeSynthetic } from '../../test/helpers/history.js';
import { MACHINE, proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { getMeta } from './db.js';
import { importPoints } from './imported.js';
import { Store } from './index.js';
import {
  BucketWriter,
  ROLLUP_1D_UNTIL,
  ROLLUP_1H_UNTIL,
  ROLLUP_1M_UNTIL,
  RollupError,
  mergeIntoBucket,
  rollupDays,
  rollupHours,
  rollupMinutes,
} from './rollup.js';
import { SeriesIds } from './series.js';

const MIN = 60_000;
const HOUR = 3_600_000;
/** An hour boundary, so hour buckets line up with the synthetic data. */
const T0 = Math.ceil((BOOT * 1000 + 10 * HOUR) / HOUR) * HOUR;

/** A known, skewed CPU distribution: mostly 5-40 %, bursts to 60-98 %. */
function cpuOf(seed: number) {
  const r = rng(seed);
  return () => (r() < 0.8 ? 5 + 35 * r() ** 2 : 60 + 38 * r());
}

function synthetic(seconds: number, seed = 1): Store {
  const store = Store.open(tempDir());
  const cpu = cpuOf(seed);
  writeSynthetic(store, { start: T0, seconds, cpu: () => cpu() });
  return store;
}

function rollAll(store: Store, now: number) {
  while (rollupMinutes(store.db, { now, machine: MACHINE, maxMinutes: 1000 }).more);
  while (rollupHours(store.db, { now }).more);
}

/** Every rolled-up row with its series, comparable across databases. */
function dump(store: Store, tier: '1m' | '1h' | '1d') {
  return store.db
    .prepare(
      `SELECT s.metric, s.entity, r.ts, r.count, r.sum, r.min, r.max, r.last, r.last_ts,
       hex(r.sketch) AS sketch FROM rollup_${tier} r JOIN series s ON s.id = r.series_id
       ORDER BY s.metric, s.entity, r.ts`,
    )
    .all();
}

function tierSketch(store: Store, tier: '1m' | '1h' | '1d', metric: string, entity = 'system') {
  const sketch = new QuantileSketch();
  const rows = store.db
    .prepare(
      `SELECT r.sketch FROM rollup_${tier} r JOIN series s ON s.id = r.series_id
       WHERE s.metric = ? AND s.entity = ?`,
    )
    .pluck()
    .all(metric, entity) as Buffer[];
  for (const b of rows) sketch.mergeEncoded(b);
  return sketch;
}

describe('rollupMinutes and rollupHours', () => {
  it('keep p50/p95/p99 within 2 % of the exact raw percentiles in both tiers', () => {
    const store = synthetic(2 * 3600 + 90);
    rollAll(store, T0 + 3 * HOUR);
    expect(Number(getMeta(store.db, ROLLUP_1H_UNTIL))).toBe(T0 + 2 * HOUR);
    // the truth: cpu_percent derived from the stored raw snapshots of the same two hours
    const snaps = store.query.systemSnapshots(T0, T0 + 2 * HOUR - 1);
    const truth: number[] = [];
    for (let i = 1; i < snaps.length; i++) {
      truth.push(deriveSystem(snaps[i - 1]!, snaps[i]!).cpu_percent!);
    }
    truth.sort((a, b) => a - b);
    const hourly = tierSketch(store, '1h', 'cpu_percent');
    const minutes = store.db
      .prepare(
        `SELECT r.sketch FROM rollup_1m r JOIN series s ON s.id = r.series_id
         WHERE s.metric = 'cpu_percent' AND r.ts < ?`,
      )
      .pluck()
      .all(T0 + 2 * HOUR) as Buffer[];
    const minutely = new QuantileSketch();
    for (const b of minutes) minutely.mergeEncoded(b);
    expect(minutes).toHaveLength(120);
    expect(hourly.count).toBe(truth.length);
    expect(minutely.count).toBe(truth.length);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = quantileSorted(truth, q)!;
      expect(Math.abs(hourly.quantile(q)! - exact) / exact).toBeLessThan(0.02);
      expect(Math.abs(minutely.quantile(q)! - exact) / exact).toBeLessThan(0.02);
    }
    expect(hourly.min).toBe(truth[0]);
    expect(hourly.max).toBe(truth[truth.length - 1]);
    store.close();
  });

  it('resumes from its watermark in small steps to the same result as one big step', () => {
    const a = synthetic(20 * 60);
    const b = synthetic(20 * 60);
    const now = T0 + 20 * MIN + 10_000;
    const first = rollupMinutes(a.db, { now, machine: MACHINE, maxMinutes: 7 });
    expect(first).toEqual({ buckets: 7, until: T0 + 7 * MIN, more: true });
    expect(Number(getMeta(a.db, ROLLUP_1M_UNTIL))).toBe(T0 + 7 * MIN);
    while (rollupMinutes(a.db, { now, machine: MACHINE, maxMinutes: 7 }).more);
    // the last, partial minute (data up to 19:59) is complete only after the lag
    expect(Number(getMeta(a.db, ROLLUP_1M_UNTIL))).toBe(T0 + 20 * MIN);
    rollAll(b, now);
    expect(dump(a, '1m')).toEqual(dump(b, '1m'));
    expect(dump(a, '1m').length).toBeGreaterThan(20 * 5);
    // nothing new: a no-op that keeps the watermark
    expect(rollupMinutes(a.db, { now, machine: MACHINE }).buckets).toBe(0);
    a.close();
    b.close();
  });

  it('leaves no gap and no double count when a minute fails half-way, then resumes', () => {
    const crashy = synthetic(10 * 60);
    const clean = synthetic(10 * 60);
    const now = T0 + 11 * MIN;
    // fail the 4th minute after part of its rows went in
    crashy.db.exec(`CREATE TRIGGER boom BEFORE INSERT ON rollup_1m
      WHEN NEW.ts = ${T0 + 3 * MIN} AND (SELECT count(*) FROM rollup_1m WHERE ts = NEW.ts) >= 5
      BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    expect(() => rollupMinutes(crashy.db, { now, machine: MACHINE })).toThrow(/disk on fire/);
    expect(Number(getMeta(crashy.db, ROLLUP_1M_UNTIL))).toBe(T0 + 3 * MIN);
    expect(
      crashy.db
        .prepare('SELECT count(*) FROM rollup_1m WHERE ts >= ?')
        .pluck()
        .get(T0 + 3 * MIN),
    ).toBe(0);
    crashy.db.exec('DROP TRIGGER boom');
    rollAll(crashy, now);
    rollAll(clean, now);
    expect(dump(crashy, '1m')).toEqual(dump(clean, '1m'));
    crashy.close();
    clean.close();
  });

  it('skips spans without data in one step and starts at the oldest raw sample', () => {
    const store = Store.open(tempDir());
    expect(rollupMinutes(store.db, { now: T0, machine: MACHINE })).toEqual({
      buckets: 0,
      until: null,
      more: false,
    });
    expect(rollupHours(store.db, { now: T0 }).until).toBeNull();
    writeSynthetic(store, { start: T0 + 30_000, seconds: 60, cpu: () => 50 });
    writeSynthetic(store, { start: T0 + 5 * HOUR, seconds: 120, cpu: () => 50 });
    const r = rollupMinutes(store.db, { now: T0 + 6 * HOUR, machine: MACHINE });
    expect(r).toEqual({ buckets: 4, until: T0 + 6 * HOUR - MIN, more: false });
    const minutes = store.db.prepare('SELECT DISTINCT ts FROM rollup_1m ORDER BY ts').pluck().all();
    expect(minutes).toEqual([T0, T0 + MIN, T0 + 5 * HOUR, T0 + 5 * HOUR + MIN]);
    const h = rollupHours(store.db, { now: T0 + 6 * HOUR });
    // the hour at 5 h is not complete until its last minute is rolled up
    expect(h).toEqual({ buckets: 1, until: T0 + 5 * HOUR, more: false });
    expect(rollupHours(store.db, { now: T0 + 7 * HOUR, maxHours: 1 }).buckets).toBe(0);
    store.close();
  });

  it('rolls hours up only when complete and only once', () => {
    const store = synthetic(3 * 3600 + 30);
    rollupMinutes(store.db, { now: T0 + 4 * HOUR, machine: MACHINE, maxMinutes: 90 });
    const first = rollupHours(store.db, { now: T0 + 4 * HOUR, maxHours: 5 });
    expect(first).toEqual({ buckets: 1, until: T0 + HOUR, more: false });
    while (rollupMinutes(store.db, { now: T0 + 4 * HOUR, machine: MACHINE }).more);
    expect(rollupHours(store.db, { now: T0 + 4 * HOUR, maxHours: 1 })).toEqual({
      buckets: 1,
      until: T0 + 2 * HOUR,
      more: true,
    });
    rollupHours(store.db, { now: T0 + 4 * HOUR });
    rollupHours(store.db, { now: T0 + 4 * HOUR });
    const hour = tierSketch(store, '1h', 'cpu_percent');
    const minutes = tierSketch(store, '1m', 'cpu_percent');
    // the 4th hour is incomplete: only 3 hours rolled, each minute counted exactly once
    const inThree = store.db
      .prepare(
        `SELECT sum(r.count) FROM rollup_1m r JOIN series s ON s.id = r.series_id
         WHERE s.metric = 'cpu_percent' AND r.ts < ?`,
      )
      .pluck()
      .get(T0 + 3 * HOUR);
    expect(hour.count).toBe(inThree);
    expect(minutes.count).toBeGreaterThan(hour.count);
    store.close();
  });
});

describe('per-process and automation rollups', () => {
  it('keeps the top 10 command names by CPU and by RSS, summing processes of one name', () => {
    const store = Store.open(tempDir());
    const startTicks = (ts: number) => ((ts - BOOT * 1000) / 1000) * MACHINE.clockTicks;
    writeSynthetic(store, {
      start: T0,
      seconds: 180,
      cpu: () => 30,
      processes: (i) => {
        const list = Array.from({ length: 25 }, (_, k) =>
          proc(100 + k, { comm: `c${k}`, utime: k * i, rss_pages: (25 - k) * 1000 }),
        );
        // two processes of one name at 30 % each: 60 % together
        list.push(proc(500, { comm: 'multi', utime: 30 * i, rss_pages: 100 }));
        list.push(proc(501, { comm: 'multi', utime: 30 * i, rss_pages: 100 }));
        // started at 1:30 with 50 ticks already used by then, then 100 % of a core
        if (i >= 90) {
          const ticks = 50 + 100 * (i - 90);
          list.push(
            proc(900, { comm: 'newbie', start_ticks: startTicks(T0 + 89_500), utime: ticks }),
          );
        }
        // exits after 1:40, at 80 % of a core until then
        if (i <= 100) list.push(proc(901, { comm: 'goner', utime: 80 * i, rss_pages: 1 }));
        return list;
      },
    });
    rollupMinutes(store.db, { now: T0 + 4 * MIN, machine: MACHINE });
    const value = (metric: string, entity: string, ts: number) =>
      store.db
        .prepare(
          `SELECT r.sum FROM rollup_1m r JOIN series s ON s.id = r.series_id
           WHERE s.metric = ? AND s.entity = ? AND r.ts = ?`,
        )
        .pluck()
        .get(metric, entity, ts) as number | undefined;
    const m1 = T0 + MIN;
    // window: the snapshot at 0:59 (just before the minute) to 1:59
    expect(value('process_cpu_percent', 'process:c20', m1)).toBeCloseTo(20, 9);
    expect(value('process_cpu_percent', 'process:multi', m1)).toBeCloseTo(60, 9);
    expect(value('process_rss_bytes', 'process:multi', m1)).toBe(200 * MACHINE.pageSize);
    expect(value('process_rss_bytes', 'process:c0', m1)).toBe(25_000 * MACHINE.pageSize);
    expect(value('process_cpu_percent', 'process:newbie', m1)).toBeCloseTo((50 + 100 * 29) / 60, 9);
    expect(value('process_cpu_percent', 'process:goner', m1)).toBeCloseTo((80 * 41) / 60, 9);
    expect(value('process_rss_bytes', 'process:goner', m1)).toBe(0);
    const entities = store.db
      .prepare(
        `SELECT DISTINCT s.entity FROM rollup_1m r JOIN series s ON s.id = r.series_id
         WHERE r.ts = ? AND s.metric = 'process_cpu_percent'`,
      )
      .pluck()
      .all(m1) as string[];
    // top CPU: multi, goner, newbie, c24..c18; top RSS: c0..c9; c10-c17 in neither
    const expected = [
      'multi',
      'goner',
      'newbie',
      ...[24, 23, 22, 21, 20, 19, 18].map((k) => `c${k}`),
    ];
    expected.push(...Array.from({ length: 10 }, (_, k) => `c${k}`));
    expect(entities.sort()).toEqual(expected.map((c) => `process:${c}`).sort());
    // the very first minute runs from the first snapshot
    expect(value('process_cpu_percent', 'process:c24', T0)).toBeCloseTo(24, 9);
    store.close();
  });

  it('counts no CPU it cannot attribute: unknown start times and counters that went back', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    for (let i = 0; i < 130; i++) {
      const processes = [proc(51, { comm: 'reset', utime: i < 90 ? 10 * i : i - 90 })];
      // first seen inside the minute, but without boot time its start cannot be placed
      if (i >= 70) processes.push(proc(50, { comm: 'late', utime: 500 + i }));
      w.write(snap(T0 + i * 1000, { cpu_user: i, cpu_idle: i }, { processes }));
    }
    rollupMinutes(store.db, { now: T0 + 3 * MIN, machine: MACHINE });
    const cpu = (entity: string) =>
      store.db
        .prepare(
          `SELECT r.sum FROM rollup_1m r JOIN series s ON s.id = r.series_id
           WHERE s.metric = 'process_cpu_percent' AND s.entity = ? AND r.ts = ?`,
        )
        .pluck()
        .get(entity, T0 + MIN);
    expect(cpu('process:late')).toBe(0);
    expect(cpu('process:reset')).toBe(0);
    store.close();
  });

  it('stores run time, CPU, peak memory and a per-run error rate for finished runs', () => {
    const store = Store.open(tempDir());
    const run = (name: string, endedAt: number, status: 'ok' | 'failed', wallMs: number) => {
      const id = store.runs.start(name, 'cmd', 1, endedAt - wallMs);
      store.runs.finish(id, {
        endedAt,
        wallMs,
        cpuMs: wallMs / 2,
        peakRssBytes: 1e6,
        exitCode: status === 'ok' ? 0 : 1,
        signal: null,
        status,
      });
    };
    run('backup', T0 + 10_000, 'ok', 1000);
    run('backup', T0 + 20_000, 'failed', 3000);
    run('backup', T0 + 30_000, 'ok', 2000);
    run('backup', T0 + 2 * MIN + 5, 'ok', 500);
    run('weird\nname', T0 + 40_000, 'ok', 10);
    const interrupted = store.runs.start('backup', 'cmd', 1, T0);
    store.db
      .prepare("UPDATE automation_run SET ended_at = ?, status = 'interrupted' WHERE id = ?")
      .run(T0 + 50_000, interrupted);
    const r = rollupMinutes(store.db, { now: T0 + 10 * MIN, machine: MACHINE });
    expect(r.buckets).toBe(2);
    const row = (metric: string, entity: string) =>
      store.db
        .prepare(
          `SELECT r.ts, r.count, r.sum, r.min, r.max, r.last FROM rollup_1m r
           JOIN series s ON s.id = r.series_id WHERE s.metric = ? AND s.entity = ? ORDER BY r.ts`,
        )
        .all(metric, entity);
    expect(row('execution_time_ms', 'automation:backup')).toEqual([
      { ts: T0, count: 3, sum: 6000, min: 1000, max: 3000, last: 2000 },
      { ts: T0 + 2 * MIN, count: 1, sum: 500, min: 500, max: 500, last: 500 },
    ]);
    expect(row('error_rate', 'automation:backup')[0]).toMatchObject({ count: 3, sum: 1 });
    expect(row('execution_cpu_ms', 'automation:backup')[0]).toMatchObject({ sum: 3000 });
    expect(row('execution_peak_rss_bytes', 'automation:backup')[0]).toMatchObject({ max: 1e6 });
    expect(row('execution_time_ms', 'automation:weird?name')).toHaveLength(1);
    store.close();
  });
});

describe('mergeIntoBucket', () => {
  it('adds up count, sum, min and max, keeps the latest point as last, and merges sketches', () => {
    const store = Store.open(tempDir());
    const id = new SeriesIds(store.db).id('cpu_percent', 'system');
    mergeIntoBucket(store.db, '1m', id, T0, [
      { ts: T0 + 5000, value: 10 },
      { ts: T0 + 1000, value: 30 },
    ]);
    mergeIntoBucket(store.db, '1m', id, T0, [{ ts: T0 + 3000, value: 20 }]);
    mergeIntoBucket(store.db, '1m', id, T0, [{ ts: T0 + 5000, value: 5 }]);
    mergeIntoBucket(store.db, '1m', id, T0, []);
    const row = store.db.prepare('SELECT * FROM rollup_1m').get() as Record<string, unknown>;
    expect(row).toMatchObject({ count: 4, sum: 65, min: 5, max: 30, last: 10, last_ts: T0 + 5000 });
    expect(QuantileSketch.decode(row.sketch as Buffer).quantile(0.5)).toBeCloseTo(15, 0);
    store.close();
  });

  it('rejects misaligned buckets, points outside them, bad values and corrupt rows', () => {
    const store = Store.open(tempDir());
    const w = new BucketWriter(store.db);
    expect(() => w.merge('1h', 1, T0 + MIN, [])).toThrow(RollupError);
    expect(() => w.merge('1m', 1, T0, [{ ts: T0 + MIN, value: 1 }])).toThrow(/outside/);
    expect(() => w.merge('1m', 1, T0, [{ ts: T0, value: NaN }])).toThrow(/non-finite/);
    store.db
      .prepare('INSERT INTO rollup_1m VALUES (1, ?, 1, 1, 1, 1, 1, ?, ?)')
      .run(T0, T0, Buffer.from([9]));
    expect(() => w.merge('1m', 1, T0, [{ ts: T0, value: 1 }])).toThrow(/corrupt/);
    store.db.prepare("INSERT INTO meta VALUES ('rollup_1m_until', ?)").run(String(T0 + HOUR));
    new SeriesIds(store.db).id('cpu_percent', 'system');
    expect(() => rollupHours(store.db, { now: T0 + 2 * HOUR })).toThrow(/corrupt/);
    store.close();
  });

  it('commutes with import: import then rollup equals rollup then import', () => {
    const imported = (store: Store) => {
      const id = new SeriesIds(store.db).id('cpu_percent', 'system');
      const pts = [
        { ts: T0 + 500, value: 99 },
        { ts: T0 + 30 * MIN + 1, value: 1 },
        { ts: T0 + HOUR + 5 * MIN, value: 42 },
      ];
      store.db
        .transaction(() => importPoints(store.db, new BucketWriter(store.db), id, pts))
        .immediate();
      // a re-import is a no-op
      return importPoints(store.db, new BucketWriter(store.db), id, pts);
    };
    const now = T0 + 3 * HOUR;
    const a = synthetic(2 * 3600 + 90);
    const b = synthetic(2 * 3600 + 90);
    imported(a);
    rollAll(a, now);
    rollAll(b, now);
    expect(imported(b)).toBe(0);
    for (const tier of ['1m', '1h'] as const) {
      const [ra, rb] = [dump(a, tier), dump(b, tier)] as Record<string, unknown>[][];
      expect(ra!.length).toBe(rb!.length);
      ra!.forEach((row, i) => {
        const other = rb![i]!;
        // sums may differ in the last bit (addition order); everything else is exact
        const [x, y] = [row.sum as number, other.sum as number];
        expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(y)));
        const sa = QuantileSketch.decode(Buffer.from(row.sketch as string, 'hex'));
        const sb = QuantileSketch.decode(Buffer.from(other.sketch as string, 'hex'));
        for (const q of [0, 0.5, 0.9, 1]) expect(sa.quantile(q)).toBe(sb.quantile(q));
        expect({ ...row, sum: 0, sketch: '' }).toEqual({ ...other, sum: 0, sketch: '' });
      });
    }
    expect(tierSketch(a, '1h', 'cpu_percent').max).toBe(99);
    a.close();
    b.close();
  });
});

describe('rollupDays', () => {
  const D0 = Date.UTC(2024, 2, 1);
  const DAY = 24 * HOUR;

  /** Hour rows for 3 days of one series, 4 points an hour; the hourly watermark at 2.5 days. */
  function hours(): { store: Store; id: number; values: number[] } {
    const store = Store.open(tempDir());
    const id = new SeriesIds(store.db).id('cpu_percent', 'system');
    const r = rng(5);
    const values: number[] = [];
    const w = new BucketWriter(store.db);
    store.db.transaction(() => {
      for (let h = D0; h < D0 + 3 * DAY; h += HOUR) {
        const pts = [0, 1, 2, 3].map((k) => ({ ts: h + k * 15 * MIN, value: 100 * r() }));
        if (h < D0 + 2 * DAY) values.push(...pts.map((p) => p.value));
        w.merge('1h', id, h, pts);
      }
    })();
    store.db
      .prepare("INSERT INTO meta VALUES ('rollup_1h_until', ?)")
      .run(String(D0 + 2 * DAY + 12 * HOUR));
    return { store, id, values };
  }

  it('merges each complete UTC day of hour rows once, resuming from its watermark', () => {
    const { store, values } = hours();
    expect(rollupDays(store.db, { now: D0 + 3 * DAY, maxDays: 1 })).toEqual({
      buckets: 1,
      until: D0 + DAY,
      more: true,
    });
    // the third day is not complete: its hours are not all rolled up
    expect(rollupDays(store.db, { now: D0 + 3 * DAY })).toEqual({
      buckets: 1,
      until: D0 + 2 * DAY,
      more: false,
    });
    expect(rollupDays(store.db, { now: D0 + 3 * DAY }).buckets).toBe(0);
    expect(getMeta(store.db, ROLLUP_1D_UNTIL)).toBe(String(D0 + 2 * DAY));
    const days = tierSketch(store, '1d', 'cpu_percent');
    const exact = QuantileSketch.of(values);
    expect(days.count).toBe(values.length);
    for (const q of [0, 0.5, 0.95, 1]) expect(days.quantile(q)).toBe(exact.quantile(q));
    expect(dump(store, '1d').map((r) => (r as { ts: number }).ts)).toEqual([D0, D0 + DAY]);
    store.close();
  });

  it('takes imported points into days already rolled up, and others when they are', () => {
    const order = (importFirst: boolean) => {
      const { store, id } = hours();
      const pts = [
        { ts: D0 + 5 * HOUR + 1, value: 250 },
        { ts: D0 + 2 * DAY + 3 * HOUR, value: 300 },
      ];
      const imp = () =>
        store.db
          .transaction(() => importPoints(store.db, new BucketWriter(store.db), id, pts))
          .immediate();
      if (importFirst) imp();
      rollupDays(store.db, { now: D0 + 3 * DAY });
      if (!importFirst) imp();
      store.db
        .prepare("UPDATE meta SET value = ? WHERE key = 'rollup_1h_until'")
        .run(String(D0 + 3 * DAY));
      rollupDays(store.db, { now: D0 + 4 * DAY });
      return store;
    };
    const [a, b] = [order(true), order(false)];
    const sketches = (s: Store) =>
      [0, 1, 2].map((d) => {
        const sk = new QuantileSketch();
        const row = s.db
          .prepare('SELECT sketch FROM rollup_1d WHERE ts = ?')
          .pluck()
          .get(D0 + d * DAY);
        sk.mergeEncoded(row as Buffer);
        return [sk.count, sk.max];
      });
    expect(sketches(a)).toEqual(sketches(b));
    expect(sketches(a)[0]).toEqual([97, 250]);
    expect(sketches(a)[2]![1]).toBe(300);
    a.close();
    b.close();
  });
});
