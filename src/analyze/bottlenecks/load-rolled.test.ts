import { describe, expect, it } from 'vitest';
import { MACHINE } from '../../../test/helpers/snapshots.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { importHistory, type ImportRow } from '../../store/csv-import.js';
import { setMeta } from '../../store/db.js';
import { Store } from '../../store/index.js';
import {
  BucketWriter,
  ROLLUP_1H_UNTIL,
  ROLLUP_1M_UNTIL,
  rollupDays,
  rollupHours,
} from '../../store/rollup.js';
import { SeriesIds } from '../../store/series.js';
import { quantileSorted } from '../stats.js';
import { analyzeBottlenecks, type BottleneckQuery } from './index.js';
import { coverOf } from '../../store/history-rolled.js';
import { loadRolledInput } from './load-rolled.js';

const T0 = Date.parse('2026-11-20T00:00:00Z');

function load(store: Store, from: number, to: number) {
  const input = loadRolledInput(store, MACHINE, from, to);
  if (!input) throw new Error('nothing rolled up in the range');
  return input;
}
const MIN = 60_000;

/** 12 hours of per-minute history: CPU busy 95 % in the second half, mostly by 'encoder'. */
function history(): ImportRow[] {
  const rows: ImportRow[] = [];
  let line = 2;
  const add = (ts: number, metric: string, entity: string, value: number) =>
    rows.push({ line: line++, ts, metric, entity, value });
  for (let m = 0; m < 12 * 60; m++) {
    const ts = T0 + m * MIN;
    const busy = m >= 6 * 60;
    add(ts, 'cpu_percent', 'system', busy ? 95 : 10);
    add(ts, 'memory_used_bytes', 'system', 4e9);
    add(ts, 'memory_used_percent', 'system', 50);
    add(ts, 'process_cpu_percent', 'process:encoder', busy ? 150 : 0);
    add(ts, 'process_cpu_percent', 'process:browser', 10);
    add(ts, 'process_rss_bytes', 'process:browser', 3e9);
    add(ts, 'process_rss_bytes', 'process:encoder', 2e8);
    if (m % 60 === 0) add(ts, 'execution_cpu_ms', 'automation:transcode', 30_000);
  }
  return rows;
}

describe('analysis over rolled-up history', () => {
  it('reads the 1-minute tier for long ranges and attributes by command name', () => {
    const store = Store.open(tempDir());
    importHistory(store, history());
    const from = T0;
    const to = T0 + 12 * 3600_000;
    const input = load(store, from, to);
    expect(input.resolutionMs).toBe(MIN);
    expect(input.samples).toBe(720);
    expect(input.processes.cpu[0]).toMatchObject({
      pid: 0,
      command: 'encoder',
      unit: 'cpu_seconds',
    });
    // encoder: 1.5 cores for 6 h = 32400 s of the busy CPU seconds (2 cores × (6 h × 0.10 + 6 h × 0.95))
    expect(input.processes.cpu[0]?.amount).toBeCloseTo(32_400, 0);
    expect(input.processes.cpu[0]?.share).toBeCloseTo(32_400 / (2 * 21_600 * 1.05), 2);
    expect(input.processes.memory[0]).toMatchObject({ command: 'browser', amount: 3e9 });
    expect(input.processes.memory[0]?.share).toBeCloseTo(0.75, 2);
    expect(input.automations[0]).toMatchObject({ automation: 'transcode', runs: 12, amount: 360 });

    const result = analyzeBottlenecks(store, MACHINE, {
      ...query(from, to),
      includeRecommendations: true,
    });
    const cpu = result.findings.find((f) => f.id === 'cpu.utilization');
    expect(cpu?.severity).toBe('high'); // p95 of the samples = 95 (one a minute here)
    expect(cpu?.evidence[0]?.observed).toBeCloseTo(95, -0.3); // from the sketch: within 1 %
    expect(cpu?.window?.duration_s).toBe(6 * 3600);
    expect(cpu?.attribution.processes[0]?.command).toBe('encoder');
    const rec = result.recommendations.find((r) => r.finding_id === 'cpu.utilization');
    expect(rec?.action).toMatch(/^'encoder' used \d+ %/);
    expect(rec?.tool_call?.arguments.target_id).toBe('encoder');
    expect(result.data.resolution_s).toBe(60);
    store.close();
  });

  it('falls back to raw samples when nothing is rolled up yet', () => {
    const store = Store.open(tempDir());
    const result = analyzeBottlenecks(store, MACHINE, {
      scope: 'system',
      from: T0,
      to: T0 + 24 * 3600_000,
      label: 'last_day',
      types: ['cpu'],
      severityThreshold: 'low',
      includeRecommendations: true,
    });
    expect(result.data).toMatchObject({ samples: 0, sufficient: false });
    store.close();
  });

  it('reads hour rows where the hourly rollup has passed and minute rows after, counting each once', () => {
    const store = Store.open(tempDir());
    const rows: ImportRow[] = [];
    for (let m = 0; m < 3 * 24 * 60; m++) {
      rows.push({
        line: m + 2,
        ts: T0 + m * MIN,
        metric: 'cpu_percent',
        entity: 'system',
        value: 50,
      });
      rows.push({
        line: m + 2,
        ts: T0 + m * MIN,
        metric: 'process_cpu_percent',
        entity: 'process:worker',
        value: 100,
      });
    }
    importHistory(store, rows);
    // Roll the first two days into hours, as the recorder would have.
    setMeta(store.db, ROLLUP_1M_UNTIL, String(T0 + 2 * 86_400_000));
    rollupHours(store.db, { now: T0 + 3 * 86_400_000, maxHours: 1000 });
    expect(store.db.prepare('SELECT count(*) FROM rollup_1h').pluck().get()).toBe(2 * 48);
    const input = load(store, T0, T0 + 3 * 86_400_000);
    expect(input.resolutionMs).toBe(3_600_000);
    expect(input.samples).toBe(72);
    expect(input.metrics.cpu_percent?.values.every((v) => v === 50)).toBe(true);
    // one core for three days, once: neither tier counted twice
    expect(input.processes.cpu[0]).toMatchObject({ command: 'worker', amount: 3 * 86_400 });
    expect(input.processes.cpu[0]?.share).toBeCloseTo(1, 5); // the machine's 50 % of 2 cores is the worker's one core
    store.close();
  });
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A reproducible uniform [0, 1) generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Three days of 1-minute rows merged from 10 s samples, as the recorder merges its 1 s
 * samples: cpu_percent mostly 20-40 % with spikes, and busy (≥ 80 %) from 30:10 to
 * 41:50 after T0; io_pressure_some_percent below every threshold. Returns the samples' cpu values.
 */
function recorded(store: Store): number[] {
  const rand = random(7);
  const ids = new SeriesIds(store.db);
  const writer = new BucketWriter(store.db);
  const cpuId = ids.id('cpu_percent', 'system');
  const ioId = ids.id('io_pressure_some_percent', 'system');
  const busyFrom = T0 + 30 * HOUR + 10 * MIN;
  const busyTo = T0 + 41 * HOUR + 50 * MIN;
  const all: number[] = [];
  store.db.transaction(() => {
    for (let m = T0; m < T0 + 3 * DAY; m += MIN) {
      const cpu = [];
      const io = [];
      for (let s = 0; s < 60; s += 10) {
        const ts = m + s * 1000;
        const busy = ts >= busyFrom && ts < busyTo;
        const v = busy ? 80 + 20 * rand() : 20 + 20 * rand() + (rand() < 0.02 ? 50 : 0);
        all.push(v);
        cpu.push({ ts, value: v });
        io.push({ ts, value: 9 * rand() });
      }
      writer.merge('1m', cpuId, m, cpu);
      writer.merge('1m', ioId, m, io);
    }
    setMeta(store.db, ROLLUP_1M_UNTIL, String(T0 + 3 * DAY));
  })();
  return all;
}

const query = (from: number, to: number): BottleneckQuery => ({
  scope: 'system',
  from,
  to,
  label: 'custom',
  types: ['cpu', 'memory', 'io', 'network'],
  severityThreshold: 'low',
  includeRecommendations: false,
});

describe('rolled-up statistics', () => {
  it('are the same from hour rows as from minute rows, and within 1 % of the samples', () => {
    const store = Store.open(tempDir());
    const values = recorded(store);
    const exact = quantileSorted(
      [...values].sort((a, b) => a - b),
      0.95,
    ) as number;
    const from = T0;
    const to = T0 + 3 * DAY;
    const minutes = analyzeBottlenecks(store, MACHINE, query(from, to));
    const byMinute = load(store, from, to).rolled?.stats('cpu_percent');
    rollupHours(store.db, { now: to, maxHours: 1000 });
    expect(
      Number(store.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(ROLLUP_1H_UNTIL)),
    ).toBe(to);
    const hours = analyzeBottlenecks(store, MACHINE, query(from, to));
    const byHour = load(store, from, to).rolled?.stats('cpu_percent');

    expect(byHour?.count).toBe(values.length);
    expect(byMinute?.count).toBe(values.length);
    expect(byHour?.max).toBe(Math.max(...values));
    expect(byHour?.sum).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      6,
    );
    // Merging sketches is exact: both tiers give the same percentile, within 1 % of the truth.
    expect(byHour?.quantile(0.95)).toBeCloseTo(byMinute?.quantile(0.95) as number, 9);
    expect(Math.abs((byHour?.quantile(0.95) as number) / exact - 1)).toBeLessThan(0.01);

    const cpuOf = (r: typeof hours) => r.findings.find((f) => f.id === 'cpu.utilization');
    expect(cpuOf(hours)?.evidence).toEqual(cpuOf(minutes)?.evidence);
    expect(cpuOf(hours)?.severity).toBe('high'); // p95 ≈ 96 ≥ 90
    expect(hours.overview.cpu_percent?.p95).toBeCloseTo(
      minutes.overview.cpu_percent?.p95 as number,
      9,
    );
    expect(hours.data.resolution_s).toBe(3600);
    // Windows are found on per-step means: at hour steps the busy stretch 30:10-41:50 shows
    // as the hours whose mean reached 60 %, 30:00 (mean ≈ 80) to 42:00 (mean ≈ 72).
    expect(cpuOf(hours)?.window).toMatchObject({
      start: new Date(T0 + 30 * HOUR).toISOString(),
      end: new Date(T0 + 42 * HOUR).toISOString(),
    });
    // io_pressure_some_percent never reached its lowest threshold: no finding either way.
    expect(hours.findings.some((f) => f.resource === 'io')).toBe(false);
    store.close();
  });

  it('at minute steps, windows end to the minute', () => {
    const store = Store.open(tempDir());
    recorded(store);
    rollupHours(store.db, { now: T0 + 3 * DAY, maxHours: 1000 });
    const r = analyzeBottlenecks(store, MACHINE, query(T0 + 24 * HOUR, T0 + 2 * DAY));
    const cpu = r.findings.find((f) => f.id === 'cpu.utilization');
    expect(r.data.resolution_s).toBe(60);
    expect(cpu?.window).toMatchObject({
      start: new Date(T0 + 30 * HOUR + 10 * MIN).toISOString(),
      end: new Date(T0 + 41 * HOUR + 50 * MIN).toISOString(),
      duration_s: (11 * 60 + 40) * 60,
    });
    store.close();
  });

  it('never reads the sketches of a metric below all its thresholds', () => {
    const store = Store.open(tempDir());
    recorded(store);
    rollupHours(store.db, { now: T0 + 3 * DAY, maxHours: 1000 });
    const corrupt = (metric: string) => {
      const id = new SeriesIds(store.db).find(metric, 'system');
      for (const t of ['rollup_1m', 'rollup_1h'])
        store.db.prepare(`UPDATE ${t} SET sketch = x'00' WHERE series_id = ?`).run(id);
    };
    corrupt('io_pressure_some_percent');
    const r = analyzeBottlenecks(store, MACHINE, query(T0, T0 + 3 * DAY));
    expect(r.findings.map((f) => f.id)).toEqual(['cpu.utilization']);
    // cpu_percent reaches its thresholds, so its percentile is read, and meets the corrupt rows.
    corrupt('cpu_percent');
    expect(() => analyzeBottlenecks(store, MACHINE, query(T0, T0 + 3 * DAY))).toThrow(
      /invalid sketch encoding/,
    );
    store.close();
  });
});

describe('coverOf', () => {
  const h = (from: number, to: number) => ({ table: 'rollup_1h', from, to });
  const m = (from: number, to: number) => ({ table: 'rollup_1m', from, to });
  const d = (from: number, to: number) => ({ table: 'rollup_1d', from, to });

  it('takes whole rolled hours inside the range and minutes around them', () => {
    const from = T0 + 10 * MIN;
    const to = T0 + 5 * HOUR + 30 * MIN;
    expect(coverOf(from, to, T0 + 3 * HOUR)).toEqual([
      h(T0 + HOUR, T0 + 3 * HOUR),
      m(from, T0 + HOUR),
      m(T0 + 3 * HOUR, to),
    ]);
    expect(coverOf(from, to, T0 + 9 * HOUR)).toEqual([
      h(T0 + HOUR, T0 + 5 * HOUR),
      m(from, T0 + HOUR),
      m(T0 + 5 * HOUR, to),
    ]);
    expect(coverOf(T0, T0 + 2 * HOUR, T0 + 2 * HOUR)).toEqual([h(T0, T0 + 2 * HOUR)]);
  });

  it('reads minutes only when no whole rolled hour lies in the range', () => {
    expect(coverOf(T0, T0 + 5 * HOUR, null)).toEqual([m(T0, T0 + 5 * HOUR)]);
    expect(coverOf(T0, T0 + 5 * HOUR, T0)).toEqual([m(T0, T0 + 5 * HOUR)]);
    expect(coverOf(T0 + MIN, T0 + HOUR + MIN, T0 + 9 * HOUR)).toEqual([
      m(T0 + MIN, T0 + HOUR + MIN),
    ]);
  });

  it('takes whole rolled days, then hours and minutes around them', () => {
    const from = T0 + 30 * MIN;
    const to = T0 + 3 * DAY + 2 * HOUR + 15 * MIN;
    expect(coverOf(from, to, T0 + 3 * DAY + HOUR, T0 + 2 * DAY)).toEqual([
      d(T0 + DAY, T0 + 2 * DAY),
      h(T0 + HOUR, T0 + DAY),
      h(T0 + 2 * DAY, T0 + 3 * DAY + HOUR),
      m(from, T0 + HOUR),
      m(T0 + 3 * DAY + HOUR, to),
    ]);
    // No day rolled up yet, or none whole in the range: hours as before.
    expect(coverOf(from, to, T0 + HOUR, null)).toEqual(coverOf(from, to, T0 + HOUR));
    expect(coverOf(from, T0 + DAY + HOUR, T0 + DAY, T0 + 5 * DAY)).toEqual([
      h(T0 + HOUR, T0 + DAY),
      m(from, T0 + HOUR),
      m(T0 + DAY, T0 + DAY + HOUR),
    ]);
  });

  it('reads day rows for statistics and totals, and they agree with hour rows', () => {
    const store = Store.open(tempDir());
    recorded(store);
    const to = T0 + 3 * DAY;
    rollupHours(store.db, { now: to, maxHours: 1000 });
    const hours = analyzeBottlenecks(store, MACHINE, query(T0, to));
    rollupDays(store.db, { now: to });
    expect(store.db.prepare('SELECT count(*) FROM rollup_1d').pluck().get()).toBe(2 * 3);
    const days = analyzeBottlenecks(store, MACHINE, query(T0, to));
    const byDay = load(store, T0, to).rolled?.stats('cpu_percent');
    expect(byDay?.count).toBe(3 * 24 * 60 * 6);
    expect(days.findings).toEqual(hours.findings);
    expect(days.overview.cpu_percent?.p95).toBeCloseTo(
      hours.overview.cpu_percent?.p95 as number,
      9,
    );
    expect(days.data).toEqual(hours.data);
    store.close();
  });

  it('counts a partial first hour from its minutes', () => {
    const store = Store.open(tempDir());
    recorded(store);
    rollupHours(store.db, { now: T0 + 3 * DAY, maxHours: 1000 });
    const from = T0 + 30 * MIN;
    const input = load(store, from, T0 + 3 * DAY);
    // 6 samples a minute from 00:30 on, none before: hour rows from 01:00, minutes before.
    expect(input.rolled?.stats('cpu_percent')?.count).toBe(6 * (3 * 24 * 60 - 30));
    store.close();
  });
});
