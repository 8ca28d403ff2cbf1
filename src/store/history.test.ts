import { describe, expect, it } from 'vitest';
import { deriveSystem } from '../analyze/derive.js';
import { quantileSorted } from '../analyze/stats.js';
import { InputError } from '../errors.js';
import { BOOT, rng, writeSynthetic } from '../../test/helpers/history.js';
import { MACHINE, proc } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { chooseTier, queryHistory, systemMetricsSummary } from './history.js';
import { importPoints } from './imported.js';
import { Store } from './index.js';
import { BucketWriter, rollupHours, rollupMinutes } from './rollup.js';
import { SeriesIds } from './series.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Math.ceil((BOOT * 1000 + 10 * HOUR) / HOUR) * HOUR;

function recorded(seconds: number, rollUntil: number | null): Store {
  const store = Store.open(tempDir());
  const r = rng(7);
  writeSynthetic(store, { start: T0, seconds, cpu: () => 5 + 90 * r() ** 3 });
  if (rollUntil !== null) {
    while (rollupMinutes(store.db, { now: rollUntil, machine: MACHINE, maxMinutes: 500 }).more);
    while (rollupHours(store.db, { now: rollUntil }).more);
  }
  return store;
}

function exactCpu(store: Store, from: number, to: number): number[] {
  const snaps = store.query.systemSnapshots(from - 1000, to);
  const out: number[] = [];
  for (let i = 1; i < snaps.length; i++) {
    if (snaps[i]!.ts >= from) out.push(deriveSystem(snaps[i - 1]!, snaps[i]!).cpu_percent!);
  }
  return out.sort((a, b) => a - b);
}

const rel = (a: number | null, b: number | null) => Math.abs(a! - b!) / Math.abs(b!);

describe('chooseTier', () => {
  const now = T0 + 100 * DAY;
  const q = (from: number, to: number, stepMs?: number) => ({
    metric: 'cpu_percent',
    entity: 'system',
    from,
    to,
    now,
    ...(stepMs === undefined ? {} : { stepMs }),
  });
  it('picks the coarsest tier for the resolution and retention, rounding the step to it', () => {
    expect(chooseTier(q(now - HOUR, now))).toEqual({ tier: 'raw', stepMs: 5000 });
    expect(chooseTier(q(now - HOUR, now, 1500))).toEqual({ tier: 'raw', stepMs: 2000 });
    expect(chooseTier(q(now - DAY, now))).toEqual({ tier: '1m', stepMs: 2 * MIN });
    expect(chooseTier(q(now - 3 * DAY, now, 1000))).toEqual({ tier: '1m', stepMs: MIN });
    expect(chooseTier(q(now - 30 * DAY, now))).toEqual({ tier: '1h', stepMs: HOUR });
    expect(chooseTier(q(now - 40 * DAY, now - 39 * DAY, MIN))).toEqual({
      tier: '1h',
      stepMs: HOUR,
    });
    expect(chooseTier(q(now - 365 * DAY, now))).toEqual({ tier: '1h', stepMs: 13 * HOUR });
    expect(chooseTier({ ...q(now - 3 * DAY, now, 1000), retentionMs: { raw: 4 * DAY } })).toEqual({
      tier: 'raw',
      stepMs: 1000,
    });
  });
});

describe('queryHistory', () => {
  it('answers from raw samples with exact percentiles at fine steps', () => {
    const store = recorded(2 * 3600, T0 + 3 * HOUR);
    const from = T0 + HOUR;
    const to = T0 + 2 * HOUR - 1;
    const r = queryHistory(store, { metric: 'cpu_percent', entity: 'system', from, to, now: to });
    const exact = exactCpu(store, from, to);
    expect(r.tier).toBe('raw');
    expect(r.stepMs).toBe(5000);
    expect(r.points).toHaveLength(720);
    expect(r.points[0]).toMatchObject({ ts: from, count: 5 });
    expect(r.summary.count).toBe(exact.length);
    expect(r.summary.p95).toBe(quantileSorted(exact, 0.95));
    expect(r.summary.min).toBe(exact[0]);
    store.close();
  });

  it('answers from 1m rows, completed from raw past the watermark, within 2 %', () => {
    const store = recorded(3 * 3600, T0 + 2 * HOUR + 30 * MIN);
    const from = T0;
    const to = T0 + 3 * HOUR - 1;
    const r = queryHistory(store, {
      metric: 'cpu_percent',
      entity: 'system',
      from,
      to,
      stepMs: 2 * MIN,
      now: to,
    });
    const exact = exactCpu(store, from, to);
    expect(r.tier).toBe('1m');
    expect(r.points).toHaveLength(90);
    expect(r.points.reduce((n, p) => n + p.count, 0)).toBe(exact.length);
    expect(r.summary.count).toBe(exact.length);
    for (const k of ['p50', 'p95', 'p99'] as const) {
      const q = { p50: 0.5, p95: 0.95, p99: 0.99 }[k];
      expect(rel(r.summary[k], quantileSorted(exact, q))).toBeLessThan(0.02);
    }
    const mean = exact.reduce((a, b) => a + b, 0) / exact.length;
    expect(rel(r.summary.mean, mean)).toBeLessThan(1e-9);
    store.close();
  });

  it('answers from 1h rows, then 1m rows, then raw, counting every value once', () => {
    const store = recorded(3 * 3600 + 600, T0 + 3 * HOUR + 5 * MIN);
    const to = T0 + 3 * HOUR + 599_000;
    const r = queryHistory(store, {
      metric: 'cpu_percent',
      entity: 'system',
      from: T0,
      to,
      stepMs: HOUR,
      now: to + 31 * DAY,
    });
    expect(r.tier).toBe('1h');
    expect(r.points.map((p) => p.ts)).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
    expect(r.summary.count).toBe(exactCpu(store, T0, to).length);
    expect(r.points[3]!.last).toBe(exactCpu(store, to, to)[0]);
    store.close();
  });

  it('falls back to raw before the first rollup and is empty where nothing was stored', () => {
    const store = recorded(600, null);
    const base = { metric: 'cpu_percent', entity: 'system', from: T0, to: T0 + HOUR };
    const r = queryHistory(store, { ...base, stepMs: HOUR, now: T0 + HOUR });
    expect(r.tier).toBe('raw');
    expect(r.points).toHaveLength(1);
    expect(r.summary.count).toBe(599);
    const none = queryHistory(store, { ...base, metric: 'load5', stepMs: HOUR });
    expect(none.tier).toBe('1h');
    expect(none.points).toEqual([]);
    expect(none.summary).toEqual({
      count: 0,
      min: null,
      max: null,
      mean: null,
      p50: null,
      p95: null,
      p99: null,
    });
    store.close();
  });

  it('derives process metrics by command name from raw counters', () => {
    const store = Store.open(tempDir());
    writeSynthetic(store, {
      start: T0,
      seconds: 30,
      cpu: () => 10,
      processes: (i) => [
        proc(10, { comm: 'worker', utime: 20 * i, rss_pages: 100 }),
        proc(11, { comm: 'worker', utime: 5 * i, rss_pages: 50 }),
        // started at second 10 with 3 ticks by then
        ...(i >= 10
          ? [proc(12, { comm: 'worker', start_ticks: (T0 + 9500 - BOOT * 1000) / 10, utime: 3 })]
          : []),
        ...(i < 20 ? [proc(13, { comm: 'other', utime: 50 * i })] : []),
      ],
    });
    const q = { entity: 'process:worker', from: T0, to: T0 + 29_000, now: T0 + 30_000 };
    const cpu = queryHistory(store, { ...q, metric: 'process_cpu_percent', stepMs: 1000 });
    expect(cpu.tier).toBe('raw');
    expect(cpu.points).toHaveLength(29);
    expect(cpu.points[0]!.mean).toBeCloseTo(25, 9);
    expect(cpu.points[9]!.mean).toBeCloseTo(28, 9);
    const rss = queryHistory(store, { ...q, metric: 'process_rss_bytes', stepMs: 1000 });
    expect(rss.points[20]!.mean).toBe(250 * 4096);
    const other = queryHistory(store, {
      ...q,
      entity: 'process:other',
      metric: 'process_rss_bytes',
      machine: { ...MACHINE, pageSize: 1 },
    });
    expect(other.points.at(-1)?.ts).toBe(T0 + 19_000);
    const none = queryHistory(store, { ...q, metric: 'process_threads' });
    expect(none.summary.count).toBe(0);
    store.close();
  });

  it('serves automation runs and imported points, raw and rolled up', () => {
    const store = Store.open(tempDir());
    for (const [i, status] of (['ok', 'failed', 'ok', 'ok'] as const).entries()) {
      const id = store.runs.start('sync', 'cmd', 1, T0 + i * 1000);
      store.runs.finish(id, {
        endedAt: T0 + i * 1000 + 500,
        wallMs: 500 + i,
        cpuMs: 10,
        peakRssBytes: 1e6,
        exitCode: 0,
        signal: null,
        status,
      });
    }
    const q = { entity: 'automation:sync', from: T0, to: T0 + HOUR, now: T0 + HOUR };
    const errors = queryHistory(store, { ...q, metric: 'error_rate', stepMs: 1000 });
    expect(errors.summary).toMatchObject({ count: 4, mean: 0.25, max: 1 });
    expect(queryHistory(store, { ...q, metric: 'runs_per_minute' }).summary.count).toBe(0);
    rollupMinutes(store.db, { now: T0 + 2 * MIN, machine: MACHINE });
    const rolled = queryHistory(store, { ...q, metric: 'execution_time_ms', stepMs: MIN });
    expect(rolled.tier).toBe('1m');
    expect(rolled.summary).toMatchObject({ count: 4, min: 500, max: 503, mean: 501.5 });

    const sid = new SeriesIds(store.db).id('load1', 'system');
    const pts = [
      { ts: T0 + 5 * MIN, value: 2 },
      { ts: T0 + 6 * MIN + 1, value: 4 },
    ];
    importPoints(store.db, new BucketWriter(store.db), sid, pts);
    const load = { metric: 'load1', entity: 'system', from: T0, to: T0 + HOUR, now: T0 + HOUR };
    expect(queryHistory(store, { ...load, stepMs: 1000 }).summary).toMatchObject({
      count: 2,
      mean: 3,
    });
    const viaRollup = queryHistory(store, { ...load, stepMs: HOUR });
    expect(viaRollup.summary).toMatchObject({ count: 2, max: 4 });
    store.close();
  });

  it('rejects what it cannot answer with InputError naming the field', () => {
    const store = Store.open(tempDir());
    const ok = { metric: 'cpu_percent', entity: 'system', from: 0, to: 1 };
    const bad: [object, string][] = [
      [{ metric: 'cpu' }, 'metric'],
      [{ entity: 'process:x' }, 'entity'],
      [{ entity: 'host:x' }, 'entity'],
      [{ from: 2 }, 'from'],
      [{ to: NaN }, 'from'],
      [{ stepMs: 10 }, 'stepMs'],
    ];
    for (const [over, field] of bad) {
      try {
        queryHistory(store, { ...ok, ...over });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        expect((err as InputError).field).toBe(field);
      }
    }
    store.close();
  });
});

describe('systemMetricsSummary', () => {
  it('returns each metric with its summary and points from one derivation', () => {
    const store = recorded(600, null);
    const r = systemMetricsSummary(store, ['cpu_percent', 'memory_used_bytes'], T0, T0 + 599_000, {
      stepMs: 10_000,
      now: T0 + 600_000,
    });
    expect(Object.keys(r)).toEqual(['cpu_percent', 'memory_used_bytes']);
    expect(r.cpu_percent!.points).toHaveLength(60);
    expect(r.memory_used_bytes!.summary.max).toBe(8e9 - 4e9);
    store.close();
  });
});
