/**
 * Derived series over a window of raw samples read as columns (store/raw-columns.ts): the
 * catalog metrics exactly as deriveSystem computes them for each pair of consecutive
 * snapshots, plus the saturation series the bottleneck rules read, per-core busy and
 * per-interface throughput. Column by column, without a Snapshot or a result object per
 * sample, because a window of an hour is 3600 of them. derive-window.test.ts checks every
 * value against deriveSystem and deriveCores.
 */
import type { RawColumns } from '../store/raw-columns.js';
import type { SystemField } from '../types.js';
import type { SystemMetric } from './catalog.js';

/** The system counters the derivation reads. */
export const DERIVE_FIELDS = [
  'cpu_user',
  'cpu_nice',
  'cpu_system',
  'cpu_idle',
  'cpu_iowait',
  'cpu_irq',
  'cpu_softirq',
  'cpu_steal',
  'procs_running',
  'load1',
  'load5',
  'load15',
  'psi_cpu_some_total_us',
  'psi_memory_some_total_us',
  'psi_io_some_total_us',
  'mem_total_bytes',
  'mem_available_bytes',
  'swap_total_bytes',
  'swap_free_bytes',
  'pgmajfault',
  'pswpin',
  'pswpout',
  'oom_kill',
  'tcp_retrans_segs',
] as const satisfies readonly SystemField[];

/** One value per interval; null where it has none. */
export type Values = (number | null)[];

export interface DerivedWindow {
  /** End of each interval (the later snapshot's time), for intervals ending after `from`. */
  ts: number[];
  /** Interval lengths, ms. */
  dts: number[];
  /**
   * Every catalog system metric, plus run_queue_per_core, swap_pages_per_second, oom_kills
   * (kills in the interval) and disk_queue_depth.
   */
  metrics: Record<SystemMetric, Values> & Record<string, Values>;
  /** Busy % per core; each with the interval ends at which that core was read. */
  perCore: { ts: number[]; values: Values }[];
  /** Receive and transmit bytes/s per interface, at the interval ends it was listed. */
  links: Map<string, { ts: number[]; rx: Values; tx: Values }>;
  /** CPU seconds the whole machine was busy (cpu_percent × cores × interval). */
  busyCpuSeconds: number;
}

const CPU = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
const num = (v: number | undefined): number | null =>
  v === undefined || Number.isNaN(v) ? null : v;

/** counterDelta over columns: null when either end is missing or the counter went back. */
function delta(col: Float64Array | undefined, a: number, b: number): number | null {
  if (!col) return null;
  const d = col[b]! - col[a]!;
  return Number.isNaN(d) ? null : d >= 0 ? d : null;
}

/** cpuShares over columns: busy, iowait and steal %, or null. */
function shares(
  modes: readonly (Float64Array | undefined)[],
  a: number,
  b: number,
): [number, number, number] | null {
  let total = 0;
  for (const m of modes) {
    if (!m) return null;
    const d = m[b]! - m[a]!;
    if (Number.isNaN(d) || d < 0) return null;
    total += d;
  }
  if (total <= 0) return null;
  const [, , , idle, iowait, , , steal] = modes as Float64Array[];
  const dIdle = idle![b]! - idle![a]! + (iowait![b]! - iowait![a]!);
  return [
    (100 * (total - dIdle)) / total,
    (100 * (iowait![b]! - iowait![a]!)) / total,
    (100 * (steal![b]! - steal![a]!)) / total,
  ];
}

/** ratePerSecond over columns. */
function rate(col: Float64Array | undefined, a: number, b: number, dt: number): number | null {
  const d = delta(col, a, b);
  return d === null || dt <= 0 ? null : (d * 1000) / dt;
}

/** pressurePercent over columns: share of the interval a PSI total (µs) grew by. */
function pressure(col: Float64Array | undefined, a: number, b: number, dt: number): number | null {
  const d = delta(col, a, b);
  return d === null || dt <= 0 ? null : Math.min(100, (d / 1000 / dt) * 100);
}

const present = (counters: Record<string, Float64Array>, first: string, i: number) =>
  !Number.isNaN(counters[first]![i]!);

/** Derived values of the intervals between consecutive snapshots that end after `from`. */
export function deriveWindow(c: RawColumns, from: number, cores: number): DerivedWindow {
  const s = c.system;
  // One local array per metric: pushing through a 27-key object would look each key up.
  const cpuPercent: Values = [];
  const iowaitPercent: Values = [];
  const stealPercent: Values = [];
  const load1: Values = [];
  const load5: Values = [];
  const load15: Values = [];
  const cpuPressure: Values = [];
  const memUsed: Values = [];
  const memUsedPercent: Values = [];
  const memAvailable: Values = [];
  const swapUsedPercent: Values = [];
  const memPressure: Values = [];
  const majorFaults: Values = [];
  const diskRead: Values = [];
  const diskWrite: Values = [];
  const diskBusy: Values = [];
  const diskAwait: Values = [];
  const ioPressure: Values = [];
  const netRx: Values = [];
  const netTx: Values = [];
  const netErrors: Values = [];
  const netDrops: Values = [];
  const retransmits: Values = [];
  const runQueue: Values = [];
  const swapPages: Values = [];
  const oomKills: Values = [];
  const diskQueue: Values = [];
  const out: DerivedWindow = {
    ts: [],
    dts: [],
    metrics: {
      cpu_percent: cpuPercent,
      cpu_iowait_percent: iowaitPercent,
      cpu_steal_percent: stealPercent,
      load1,
      load5,
      load15,
      cpu_pressure_some_percent: cpuPressure,
      memory_used_bytes: memUsed,
      memory_used_percent: memUsedPercent,
      memory_available_bytes: memAvailable,
      swap_used_percent: swapUsedPercent,
      memory_pressure_some_percent: memPressure,
      major_faults_per_second: majorFaults,
      disk_read_bytes_per_second: diskRead,
      disk_write_bytes_per_second: diskWrite,
      disk_busy_percent: diskBusy,
      disk_await_ms: diskAwait,
      io_pressure_some_percent: ioPressure,
      network_receive_bytes_per_second: netRx,
      network_transmit_bytes_per_second: netTx,
      network_errors_per_second: netErrors,
      network_drops_per_second: netDrops,
      tcp_retransmits_per_second: retransmits,
      run_queue_per_core: runQueue,
      swap_pages_per_second: swapPages,
      oom_kills: oomKills,
      disk_queue_depth: diskQueue,
    },
    perCore: [],
    links: new Map(),
    busyCpuSeconds: 0,
  };
  const cpuModes = CPU.map((k) => s[`cpu_${k}`]);
  const coreModes = c.cores.map((core) => CPU.map((k) => core[k]));
  const swaps = s.pswpin && s.pswpout ? s.pswpin.map((v, i) => v + s.pswpout![i]!) : undefined;
  const n = c.ts.length;
  for (let b = 1; b < n; b++) {
    const a = b - 1;
    const ts = c.ts[b]!;
    if (ts <= from) continue; // that interval lies wholly before the range
    const dt = ts - c.ts[a]!;
    out.ts.push(ts);
    out.dts.push(dt);
    const cpu = shares(cpuModes, a, b);
    cpuPercent.push(cpu?.[0] ?? null);
    iowaitPercent.push(cpu?.[1] ?? null);
    stealPercent.push(cpu?.[2] ?? null);
    load1.push(num(s.load1?.[b]));
    load5.push(num(s.load5?.[b]));
    load15.push(num(s.load15?.[b]));
    cpuPressure.push(pressure(s.psi_cpu_some_total_us, a, b, dt));
    const total = num(s.mem_total_bytes?.[b]);
    const avail = num(s.mem_available_bytes?.[b]);
    const used = total !== null && avail !== null ? total - avail : null;
    memUsed.push(used);
    memUsedPercent.push(used !== null && total ? (100 * used) / total : null);
    memAvailable.push(avail);
    const swapTotal = num(s.swap_total_bytes?.[b]);
    const swapFree = num(s.swap_free_bytes?.[b]);
    swapUsedPercent.push(
      swapTotal === null || swapFree === null
        ? null
        : swapTotal > 0
          ? (100 * (swapTotal - swapFree)) / swapTotal
          : 0,
    );
    memPressure.push(pressure(s.psi_memory_some_total_us, a, b, dt));
    majorFaults.push(rate(s.pgmajfault, a, b, dt));
    ioPressure.push(pressure(s.psi_io_some_total_us, a, b, dt));
    retransmits.push(rate(s.tcp_retrans_segs, a, b, dt));
    const running = num(s.procs_running?.[b]);
    runQueue.push(running === null ? null : running / cores);
    const swapped = delta(swaps, a, b);
    swapPages.push(swapped === null ? null : (swapped * 1000) / dt);
    oomKills.push(delta(s.oom_kill, a, b));

    // Disks present at both ends, in device order (diskMetrics, and the queue beside it).
    let readSectors = 0;
    let writeSectors = 0;
    let ioTimeMs = 0;
    let ios = 0;
    let busiest: number | null = null;
    let matched = false;
    let queue: number | null = null;
    for (const d of c.disks) {
      const k = d.counters;
      if (!present(k, 'reads', b)) continue;
      const w = present(k, 'reads', a) ? delta(k.weighted_ms, a, b) : null;
      if (w !== null) queue = (queue ?? 0) + w / dt;
      if (!present(k, 'reads', a)) continue;
      const dr = delta(k.read_sectors, a, b);
      const dw = delta(k.write_sectors, a, b);
      const dio = delta(k.io_ms, a, b);
      const dops = sumDelta(k.reads!, k.writes!, a, b);
      const dms = sumDelta(k.read_ms!, k.write_ms!, a, b);
      if (dr === null || dw === null || dio === null || dops === null || dms === null) continue;
      matched = true;
      readSectors += dr;
      writeSectors += dw;
      ios += dops;
      ioTimeMs += dms;
      const busy = Math.min(100, (100 * dio) / dt);
      busiest = busiest === null ? busy : Math.max(busiest, busy);
    }
    const disk = matched && dt > 0;
    diskRead.push(disk ? (readSectors * 512 * 1000) / dt : null);
    diskWrite.push(disk ? (writeSectors * 512 * 1000) / dt : null);
    diskBusy.push(disk ? busiest : null);
    diskAwait.push(disk && ios > 0 ? ioTimeMs / ios : null);
    diskQueue.push(queue);

    // Interfaces other than lo present at both ends (netMetrics); every one for links.
    const sum = { rx: 0, tx: 0, errs: 0, drops: 0 };
    let netMatched = false;
    for (const d of c.nets) {
      const k = d.counters;
      if (!present(k, 'rx_bytes', b)) continue;
      const before = present(k, 'rx_bytes', a);
      const rx = before ? delta(k.rx_bytes, a, b) : null;
      const tx = before ? delta(k.tx_bytes, a, b) : null;
      let l = out.links.get(d.name);
      if (!l) out.links.set(d.name, (l = { ts: [], rx: [], tx: [] }));
      l.ts.push(ts);
      l.rx.push(rx === null ? null : (rx * 1000) / dt);
      l.tx.push(tx === null ? null : (tx * 1000) / dt);
      if (d.name === 'lo' || !before) continue;
      const errs = sumDelta(k.rx_errs!, k.tx_errs!, a, b);
      const drops = sumDelta(k.rx_drop!, k.tx_drop!, a, b);
      if (rx === null || tx === null || errs === null || drops === null) continue;
      netMatched = true;
      sum.rx += rx;
      sum.tx += tx;
      sum.errs += errs;
      sum.drops += drops;
    }
    const net = netMatched && dt > 0;
    netRx.push(net ? (sum.rx * 1000) / dt : null);
    netTx.push(net ? (sum.tx * 1000) / dt : null);
    netErrors.push(net ? (sum.errs * 1000) / dt : null);
    netDrops.push(net ? (sum.drops * 1000) / dt : null);

    coreModes.forEach((modes, core) => {
      if (Number.isNaN(modes[0]![b]!)) return; // not read at this snapshot
      const p = (out.perCore[core] ??= { ts: [], values: [] });
      p.ts.push(ts);
      p.values.push(Number.isNaN(modes[0]![a]!) ? null : (shares(modes, a, b)?.[0] ?? null));
    });
    if (cpu) out.busyCpuSeconds += (cpu[0] / 100) * cores * (dt / 1000);
  }
  return out;
}

/** counterDelta of a sum of two counters, as deriveSystem takes reads + writes. */
function sumDelta(x: Float64Array, y: Float64Array, a: number, b: number): number | null {
  const d = x[b]! + y[b]! - (x[a]! + y[a]!);
  return Number.isNaN(d) ? null : d >= 0 ? d : null;
}
