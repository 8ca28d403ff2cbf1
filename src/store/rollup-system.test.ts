import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_METRICS } from '../analyze/catalog.js';
import { deriveSystem } from '../analyze/derive.js';
import type { DerivedWindow } from '../analyze/derive-window.js';
import { QuantileSketch } from '../analyze/sketch.js';
import { createBackend } from '../collect/backend.js';
import { Recorder } from '../collect/recorder.js';
import { BOOT, rng } from '../../test/helpers/history.js';
import { MACHINE, cpu, proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import type { DiskCounters, MachineInfo, NetCounters } from '../types.js';
import { aggregate, RollupError, type Aggregate, type Point } from './bucket.js';
import { Store } from './index.js';
import { ROLLUP_1M_UNTIL, rollupMinutes } from './rollup.js';
import { processEntityLenient } from './series.js';
import {
  TOP_PROCESSES,
  automationPoints,
  minuteSources,
  systemAggregates,
  type SeriesPoints,
} from './rollup-sources.js';

const MIN = 60_000;
const T = Date.UTC(2024, 0, 1, 12);
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

/**
 * processPoints as it was before its own statement: processes from SampleQuery's
 * processStatesAt at both ends of the window, exited ones up to their last row.
 */
function referenceProcesses(
  store: Store,
  w: { tStart: number; tEnd: number; bootTime: number | null },
  machine: MachineInfo,
): SeriesPoints[] {
  const key = (p: { pid: number; start_ticks: number }) => `${p.pid}:${p.start_ticks}`;
  const before = new Map(
    store.query.processStatesAt(w.tStart, w.tEnd, w.tStart).map((p) => [key(p), p.utime + p.stime]),
  );
  const exited = minuteSources(store.db).exited.all(w.tStart, w.tEnd) as {
    pid: number;
    start_ticks: number;
    comm: string;
    ticks: number | null;
  }[];
  const gone = new Set(exited.map(key));
  const byComm = new Map<string, { cpuTicks: number; rss: number }>();
  const add = (p: { pid: number; start_ticks: number; comm: string }, ticks: number | null) => {
    const e = byComm.get(p.comm) ?? { cpuTicks: 0, rss: 0 };
    byComm.set(p.comm, e);
    const started =
      w.bootTime !== null &&
      w.bootTime * 1000 + (p.start_ticks / machine.clockTicks) * 1000 >= w.tStart - 1000;
    const start = before.get(key(p)) ?? (started ? 0 : null);
    if (ticks !== null && start !== null && ticks >= start) e.cpuTicks += ticks - start;
    return e;
  };
  for (const p of store.query.processStatesAt(w.tStart, w.tEnd, w.tEnd)) {
    if (!gone.has(key(p))) add(p, p.utime + p.stime).rss += p.rss_pages * machine.pageSize;
  }
  for (const p of exited) add(p, p.ticks);
  const seconds = (w.tEnd - w.tStart) / 1000;
  const rows = [...byComm].map(([comm, e]) => ({
    comm,
    cpu: (e.cpuTicks / machine.clockTicks / seconds) * 100,
    rss: e.rss,
  }));
  const top = new Set([
    ...[...rows].sort((a, b) => b.cpu - a.cpu).slice(0, TOP_PROCESSES),
    ...[...rows].sort((a, b) => b.rss - a.rss).slice(0, TOP_PROCESSES),
  ]);
  return [...top].flatMap((r) => [
    {
      metric: 'process_cpu_percent',
      entity: processEntityLenient(r.comm),
      points: [{ ts: w.tEnd, value: r.cpu }],
    },
    {
      metric: 'process_rss_bytes',
      entity: processEntityLenient(r.comm),
      points: [{ ts: w.tEnd, value: r.rss }],
    },
  ]);
}

/**
 * The oracle: one minute's rows as rollupMinutes made them from a Snapshot per sample and
 * deriveSystem. System metrics of each pair of consecutive snapshots from the last one
 * before the minute on, at the later one's time; processes over the first to the last
 * snapshot, with the last one's boot time; automation runs.
 */
function reference(store: Store, machine: MachineInfo, minute: number): [string, Aggregate][] {
  const prev = store.db
    .prepare('SELECT max(ts) FROM system_raw WHERE ts < ?')
    .pluck()
    .get(minute) as number | null;
  const snaps = store.query.systemSnapshots(prev ?? minute, minute + MIN - 1);
  const series: SeriesPoints[] = [];
  for (const { name } of SYSTEM_METRICS) {
    const points: Point[] = [];
    for (let i = 1; i < snaps.length; i++) {
      const v = deriveSystem(snaps[i - 1]!, snaps[i]!)[name];
      if (v !== null && Number.isFinite(v)) points.push({ ts: snaps[i]!.ts, value: v });
    }
    if (points.length > 0) series.push({ metric: name, entity: 'system', points });
  }
  const sources = minuteSources(store.db);
  const first = snaps[0];
  const last = snaps.at(-1);
  if (first && last && last.ts > first.ts && last.ts >= minute) {
    const window = { tStart: first.ts, tEnd: last.ts, bootTime: last.system.boot_time };
    series.push(...referenceProcesses(store, window, machine));
  }
  series.push(...automationPoints(sources, minute, minute + MIN));
  return series.map((s) => [`${s.metric} ${s.entity} ${minute}`, aggregate(s.points)!]);
}

interface Row {
  metric: string;
  entity: string;
  ts: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  last_ts: number;
  sketch: Buffer;
}

const QUANTILES = [0, 0.25, 0.5, 0.9, 0.95, 0.99, 1];

/** A row's values as stored, and as the oracle would have stored them. */
const stored = (r: Row) => ({
  count: r.count,
  sum: r.sum,
  min: r.min,
  max: r.max,
  last: r.last,
  lastTs: r.last_ts,
  sketch: r.sketch.toString('hex'),
  quantiles: QUANTILES.map((q) => QuantileSketch.decode(r.sketch).quantile(q)),
});
const expected = ({ sketch: s, last, lastTs }: Aggregate) => ({
  count: s.count,
  sum: s.sum,
  min: s.min,
  max: s.max,
  last,
  lastTs,
  sketch: s.encode().toString('hex'),
  quantiles: QUANTILES.map((q) => s.quantile(q)),
});

/**
 * Rolls every complete minute up and checks each rollup_1m row, and that there are no
 * more or fewer, against the oracle. Returns the rows.
 */
function expectOracleRows(store: Store, machine: MachineInfo, now: number): Row[] {
  while (rollupMinutes(store.db, { now, machine, maxMinutes: 2 }).more);
  const until = Number(
    store.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(ROLLUP_1M_UNTIL),
  );
  const first = store.query.oldestTimestamp()!;
  const want = new Map<string, Aggregate>();
  for (let m = Math.floor(first / MIN) * MIN; m < until; m += MIN) {
    for (const [key, agg] of reference(store, machine, m)) want.set(key, agg);
  }
  const rows = store.db
    .prepare(
      `SELECT s.metric, s.entity, r.ts, r.count, r.sum, r.min, r.max, r.last, r.last_ts, r.sketch
       FROM rollup_1m r JOIN series s ON s.id = r.series_id ORDER BY r.ts, s.id`,
    )
    .all() as Row[];
  const key = (r: Row) => `${r.metric} ${r.entity} ${r.ts}`;
  expect(rows.map(key).sort()).toEqual([...want.keys()].sort());
  for (const r of rows) expect(stored(r), key(r)).toEqual(expected(want.get(key(r))!));
  return rows;
}

/**
 * Samples at irregular times over 7 minutes, with every catalog metric's counters: resets,
 * NULLs, memory total 0, swap appearing, a disk and an interface coming and going, a minute
 * without samples, one with a single sample, a minute ending without boot time, and
 * processes that start and exit.
 */
function writeVaried(store: Store, start: number): void {
  const r = rng(7);
  const next = (v: number, step: number) => v + Math.floor(r() * step);
  const w = store.createWriter();
  const c = { user: 0, system: 0, idle: 0, iowait: 0, steal: 0 };
  const k = { psiCpu: 0, psiMem: 0, psiIo: 0, faults: 0, retrans: 0, swapIn: 0, swapOut: 0 };
  const disk = (name: string, i: number): DiskCounters => ({
    name,
    reads: i * 3,
    read_sectors: i * 40,
    read_ms: i * 2,
    writes: i * 5,
    write_sectors: name === 'sdb' && i > 200 ? i : i * 80,
    write_ms: i * 4,
    in_flight: i % 3,
    io_ms: Math.floor(i * 7.5),
    weighted_ms: i * 9,
  });
  const net = (name: string, i: number): NetCounters => ({
    name,
    rx_bytes: i * 1500,
    rx_packets: i * 2,
    rx_errs: Math.floor(i / 50),
    rx_drop: Math.floor(i / 30),
    tx_bytes: name === 'eth0' && i > 330 ? i : i * 900,
    tx_packets: i,
    tx_errs: 0,
    tx_drop: Math.floor(i / 70),
  });
  for (let i = 0; i < 420; i++) {
    const skip = i % 17 === 5 || (i >= 135 && i < 205) || (i >= 260 && i < 320 && i !== 290);
    c.user = i === 50 ? c.user - 500 : next(c.user, 60);
    c.system = next(c.system, 20);
    c.idle = next(c.idle, 120);
    c.iowait = next(c.iowait, 6);
    c.steal += i % 3 === 0 ? 1 : 0;
    for (const f of ['psiCpu', 'psiMem', 'psiIo'] as const) k[f] = next(k[f], 300_000);
    k.faults = next(k.faults, 12);
    k.retrans = i === 222 ? 0 : next(k.retrans, 4);
    k.swapIn = next(k.swapIn, 3);
    k.swapOut = next(k.swapOut, 3);
    if (skip) continue;
    const load = i % 11 === 0 ? null : r() * 4;
    const s = snap(start - 20_000 + i * 1000, {
      ...Object.fromEntries(
        Object.entries(cpu(c.user, c.idle, c)).map(([m, v]) => [`cpu_${m}`, v]),
      ),
      procs_running: 1 + (i % 5),
      load1: load,
      load5: load === null ? null : load / 2,
      load15: 1.5,
      psi_cpu_some_total_us: k.psiCpu,
      psi_memory_some_total_us: k.psiMem,
      psi_io_some_total_us: i < 60 ? null : k.psiIo,
      mem_total_bytes: i === 77 ? 0 : 8e9,
      mem_available_bytes: 4e9 + Math.floor(r() * 1e9),
      swap_total_bytes: i < 100 ? 0 : 2e9,
      swap_free_bytes: 15e8 - i * 1000,
      pgmajfault: k.faults,
      pswpin: k.swapIn,
      pswpout: k.swapOut,
      tcp_retrans_segs: k.retrans,
      boot_time: i >= 125 && i < 135 ? null : BOOT,
    });
    s.disks = [disk('sda', i), ...(i >= 40 && i < 230 && i !== 100 ? [disk('sdb', i)] : [])];
    s.nets = [net('lo', i), net('eth0', i), ...(i >= 300 ? [net('eth1', i)] : [])];
    // Started at sample `from`, having used CPU before its first sample.
    const started = (pid: number, from: number) =>
      i < from
        ? []
        : [
            proc(pid, {
              start_ticks: ((start - 20_000 + from * 1000) / 1000 - BOOT) * MACHINE.clockTicks,
              utime: 500 + (i - from) * 90,
            }),
          ];
    s.processes = [
      proc(1, { utime: i * 3, stime: i, rss_pages: 100 + i }),
      ...(i < 250 ? [proc(2, { utime: i * 40, rss_pages: 5000 })] : []),
      ...started(3, 120),
      ...started(4, 330),
    ];
    w.write(s);
  }
}

describe('rollupMinutes from raw columns', () => {
  it('refuses system values of an interval that ends outside the bucket', () => {
    const window = { ts: [T + 30_000, T + MIN], metrics: {} } as unknown as DerivedWindow;
    expect(() => systemAggregates(window, T, T + MIN)).toThrow(
      new RollupError(`an interval ends at ${T + MIN}, outside the bucket [${T}, ${T + MIN})`),
    );
  });

  it('stores the rows the Snapshot and deriveSystem path stored, on varied samples', () => {
    const store = Store.open(tempDir());
    cleanup.push(() => store.close());
    writeVaried(store, T);
    const rows = expectOracleRows(store, MACHINE, T + 10 * MIN);
    const system = new Set(rows.filter((r) => r.entity === 'system').map((r) => r.metric));
    expect([...system].sort()).toEqual(SYSTEM_METRICS.map((m) => m.name).sort());
    expect(rows.some((r) => r.entity.startsWith('process:'))).toBe(true);
  });

  it('stores the rows the Snapshot and deriveSystem path stored, on samples of this machine', () => {
    const store = Store.open(tempDir());
    const backend = createBackend({});
    const sampler = backend.createSampler({ processes: true });
    const recorder = new Recorder(sampler, store, {
      intervalMs: 1000,
      logger: pino({ level: 'silent' }),
      clock: () => T,
      housekeepingMs: Number.MAX_SAFE_INTEGER,
    });
    cleanup.push(() => {
      recorder.stop();
      sampler.close();
      store.close();
    });
    // Irregular ticks over five minutes, the fourth without any.
    for (let s = 0; s < 300; s++) {
      if (s % 13 !== 4 && (s < 180 || s >= 240)) recorder.tick(T + s * 1000 + (s % 3) * 7);
    }
    const rows = expectOracleRows(store, backend.machineInfo(), T + 7 * MIN);
    expect(rows.filter((r) => r.metric === 'memory_available_bytes').map((r) => r.ts)).toEqual(
      [0, 1, 2, 4].map((m) => T + m * MIN),
    );
    expect(rows.some((r) => r.entity.startsWith('process:'))).toBe(true);
  });
});
