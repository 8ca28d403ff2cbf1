/**
 * Turns two raw snapshots into catalog metrics. The same functions serve live sampling
 * and stored history, so both always agree.
 */
import type {
  CpuTimes,
  DiskCounters,
  MachineInfo,
  NetCounters,
  ProcessCounters,
  Snapshot,
  SystemCounters,
} from '../types.js';
import type { ProcessMetric, SystemMetric } from './catalog.js';

export type SystemValues = Record<SystemMetric, number | null>;
export type ProcessValues = Record<ProcessMetric, number | null>;

/**
 * Increase of a cumulative counter. A decrease means the counter was reset (reboot,
 * device replaced, wrap): that interval has no valid rate, so it is a gap (null) rather
 * than a spike.
 */
export function counterDelta(prev: number | null, cur: number | null): number | null {
  if (prev === null || cur === null) return null;
  const d = cur - prev;
  return d >= 0 ? d : null;
}

function ratePerSecond(prev: number | null, cur: number | null, dtMs: number): number | null {
  const d = counterDelta(prev, cur);
  return d === null || dtMs <= 0 ? null : (d * 1000) / dtMs;
}

/** Share of wall time a PSI "total" (µs) counter grew by, as a percentage. */
function pressurePercent(prev: number | null, cur: number | null, dtMs: number): number | null {
  const d = counterDelta(prev, cur);
  return d === null || dtMs <= 0 ? null : Math.min(100, (d / 1000 / dtMs) * 100);
}

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

export interface CpuShares {
  busy: number;
  iowait: number;
  steal: number;
}

/** CPU shares (0-100) between two readings of one core or of the aggregate line. */
export function cpuShares(prev: CpuTimes, cur: CpuTimes): CpuShares | null {
  let total = 0;
  for (const mode of CPU_MODES) {
    const d = cur[mode] - prev[mode];
    if (d < 0) return null;
    total += d;
  }
  if (total <= 0) return null;
  const idle = cur.idle - prev.idle + (cur.iowait - prev.iowait);
  return {
    busy: (100 * (total - idle)) / total,
    iowait: (100 * (cur.iowait - prev.iowait)) / total,
    steal: (100 * (cur.steal - prev.steal)) / total,
  };
}

export function systemCpuTimes(s: SystemCounters): CpuTimes | null {
  const { cpu_user: user, cpu_nice: nice, cpu_system: system, cpu_idle: idle } = s;
  const { cpu_iowait: iowait, cpu_irq: irq, cpu_softirq: softirq, cpu_steal: steal } = s;
  if (user === null || nice === null || system === null || idle === null) return null;
  if (iowait === null || irq === null || softirq === null || steal === null) return null;
  return { user, nice, system, idle, iowait, irq, softirq, steal };
}

/** Above this many devices a Map finds them; below, a scan is cheaper than building one. */
const SCAN_DEVICES = 16;

/** The devices of `items` by name. */
function byName<T extends { name: string }>(items: readonly T[]): (name: string) => T | undefined {
  if (items.length > SCAN_DEVICES) {
    const map = new Map(items.map((i) => [i.name, i]));
    return (name) => map.get(name);
  }
  return (name) => {
    for (let i = 0; i < items.length; i++) if (items[i]!.name === name) return items[i];
    return undefined;
  };
}

function diskMetrics(prev: readonly DiskCounters[], cur: readonly DiskCounters[], dtMs: number) {
  const before = byName(prev);
  let readSectors = 0;
  let writeSectors = 0;
  let ioTimeMs = 0;
  let ios = 0;
  let busiest: number | null = null;
  let matched = false;
  for (const d of cur) {
    const p = before(d.name);
    if (!p) continue;
    const dr = counterDelta(p.read_sectors, d.read_sectors);
    const dw = counterDelta(p.write_sectors, d.write_sectors);
    const dio = counterDelta(p.io_ms, d.io_ms);
    const dops = counterDelta(p.reads + p.writes, d.reads + d.writes);
    const dms = counterDelta(p.read_ms + p.write_ms, d.read_ms + d.write_ms);
    if (dr === null || dw === null || dio === null || dops === null || dms === null) continue;
    matched = true;
    readSectors += dr;
    writeSectors += dw;
    ios += dops;
    ioTimeMs += dms;
    const busy = Math.min(100, (100 * dio) / dtMs);
    busiest = busiest === null ? busy : Math.max(busiest, busy);
  }
  if (!matched || dtMs <= 0) return null;
  return {
    // diskstats sectors are always 512 bytes, whatever the device's sector size
    read: (readSectors * 512 * 1000) / dtMs,
    write: (writeSectors * 512 * 1000) / dtMs,
    busy: busiest,
    await: ios > 0 ? ioTimeMs / ios : null,
  };
}

function netMetrics(prev: readonly NetCounters[], cur: readonly NetCounters[], dtMs: number) {
  const before = byName(prev);
  const sum = { rx: 0, tx: 0, errs: 0, drops: 0 };
  let matched = false;
  for (const n of cur) {
    if (n.name === 'lo') continue;
    const p = before(n.name);
    if (!p) continue;
    const rx = counterDelta(p.rx_bytes, n.rx_bytes);
    const tx = counterDelta(p.tx_bytes, n.tx_bytes);
    const errs = counterDelta(p.rx_errs + p.tx_errs, n.rx_errs + n.tx_errs);
    const drops = counterDelta(p.rx_drop + p.tx_drop, n.rx_drop + n.tx_drop);
    if (rx === null || tx === null || errs === null || drops === null) continue;
    matched = true;
    sum.rx += rx;
    sum.tx += tx;
    sum.errs += errs;
    sum.drops += drops;
  }
  if (!matched || dtMs <= 0) return null;
  const perSecond = (v: number) => (v * 1000) / dtMs;
  return {
    rx: perSecond(sum.rx),
    tx: perSecond(sum.tx),
    errs: perSecond(sum.errs),
    drops: perSecond(sum.drops),
  };
}

/** Gauges need only the current snapshot. */
function gauges(s: SystemCounters) {
  const total = s.mem_total_bytes;
  const avail = s.mem_available_bytes;
  const used = total !== null && avail !== null ? total - avail : null;
  const swapTotal = s.swap_total_bytes;
  const swapFree = s.swap_free_bytes;
  return {
    used,
    usedPercent: used !== null && total ? (100 * used) / total : null,
    avail,
    swapPercent:
      swapTotal === null || swapFree === null
        ? null
        : swapTotal > 0
          ? (100 * (swapTotal - swapFree)) / swapTotal
          : 0,
  };
}

/**
 * Every system catalog metric between two snapshots. `devices` false leaves the disk and
 * network metrics null without looking at the devices (for callers that watch none of them).
 */
export function deriveSystem(prev: Snapshot, cur: Snapshot, devices = true): SystemValues {
  const dtMs = cur.ts - prev.ts;
  const a = prev.system;
  const b = cur.system;
  const pt = systemCpuTimes(a);
  const ct = systemCpuTimes(b);
  const cpu = pt && ct ? cpuShares(pt, ct) : null;
  const mem = gauges(b);
  const disk = devices ? diskMetrics(prev.disks, cur.disks, dtMs) : null;
  const net = devices ? netMetrics(prev.nets, cur.nets, dtMs) : null;
  return {
    cpu_percent: cpu?.busy ?? null,
    cpu_iowait_percent: cpu?.iowait ?? null,
    cpu_steal_percent: cpu?.steal ?? null,
    load1: b.load1,
    load5: b.load5,
    load15: b.load15,
    cpu_pressure_some_percent: pressurePercent(
      a.psi_cpu_some_total_us,
      b.psi_cpu_some_total_us,
      dtMs,
    ),
    memory_used_bytes: mem.used,
    memory_used_percent: mem.usedPercent,
    memory_available_bytes: mem.avail,
    swap_used_percent: mem.swapPercent,
    memory_pressure_some_percent: pressurePercent(
      a.psi_memory_some_total_us,
      b.psi_memory_some_total_us,
      dtMs,
    ),
    major_faults_per_second: ratePerSecond(a.pgmajfault, b.pgmajfault, dtMs),
    disk_read_bytes_per_second: disk?.read ?? null,
    disk_write_bytes_per_second: disk?.write ?? null,
    disk_busy_percent: disk?.busy ?? null,
    disk_await_ms: disk?.await ?? null,
    io_pressure_some_percent: pressurePercent(a.psi_io_some_total_us, b.psi_io_some_total_us, dtMs),
    network_receive_bytes_per_second: net?.rx ?? null,
    network_transmit_bytes_per_second: net?.tx ?? null,
    network_errors_per_second: net?.errs ?? null,
    network_drops_per_second: net?.drops ?? null,
    tcp_retransmits_per_second: ratePerSecond(a.tcp_retrans_segs, b.tcp_retrans_segs, dtMs),
  };
}

/** Per-core busy percentage (0-100 each), null for a core without a valid interval. */
export function deriveCores(prev: Snapshot, cur: Snapshot): (number | null)[] {
  return cur.cores.map((c, i) => {
    const p = prev.cores[i];
    return p ? (cpuShares(p, c)?.busy ?? null) : null;
  });
}

export function processKey(p: Pick<ProcessCounters, 'pid' | 'start_ticks'>): string {
  return `${p.pid}:${p.start_ticks}`;
}

/**
 * Metrics of one process between two readings of the SAME process (same key); a
 * different start time means PID reuse and yields no rates.
 */
export function deriveProcess(
  prev: ProcessCounters | null,
  cur: ProcessCounters,
  dtMs: number,
  machine: MachineInfo,
  openFds: number | null = null,
): ProcessValues {
  const same = prev !== null && prev.start_ticks === cur.start_ticks && dtMs > 0;
  const cpuTicks = same ? counterDelta(prev.utime + prev.stime, cur.utime + cur.stime) : null;
  return {
    process_cpu_percent:
      cpuTicks === null ? null : ((cpuTicks / machine.clockTicks) * 100_000) / dtMs,
    process_rss_bytes: cur.rss_pages * machine.pageSize,
    process_read_bytes_per_second: same
      ? ratePerSecond(prev.read_bytes, cur.read_bytes, dtMs)
      : null,
    process_write_bytes_per_second: same
      ? ratePerSecond(prev.write_bytes, cur.write_bytes, dtMs)
      : null,
    process_threads: cur.threads,
    process_open_fds: openFds,
  };
}
