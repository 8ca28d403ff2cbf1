import { emptySnapshot } from '../../src/collect/collector.js';
import type {
  CpuTimes,
  DiskCounters,
  ProcessCounters,
  Snapshot,
  SystemCounters,
} from '../../src/types.js';

export const MACHINE = { clockTicks: 100, pageSize: 4096, cores: 2 };

export function cpu(user: number, idle: number, extra: Partial<CpuTimes> = {}): CpuTimes {
  return { user, nice: 0, system: 0, idle, iowait: 0, irq: 0, softirq: 0, steal: 0, ...extra };
}

/** The system counters of /proc/stat's cpu line: user and idle jiffies, every other mode 0. */
export function cpuCounters(user: number, idle: number): Partial<SystemCounters> {
  return {
    cpu_user: user,
    cpu_nice: 0,
    cpu_system: 0,
    cpu_idle: idle,
    cpu_iowait: 0,
    cpu_irq: 0,
    cpu_softirq: 0,
    cpu_steal: 0,
  };
}

/** A disk's counters: every one 0 but those given. */
export function diskCounters(name: string, over: Partial<DiskCounters> = {}): DiskCounters {
  return {
    name,
    reads: 0,
    read_sectors: 0,
    read_ms: 0,
    writes: 0,
    write_sectors: 0,
    write_ms: 0,
    in_flight: 0,
    io_ms: 0,
    weighted_ms: 0,
    ...over,
  };
}

/** A snapshot with the given system fields set (others null). */
export function snap(
  ts: number,
  system: Partial<SystemCounters> = {},
  more: Partial<Snapshot> = {},
): Snapshot {
  const s = emptySnapshot(ts);
  Object.assign(s.system, system);
  return { ...s, ...more };
}

export function proc(pid: number, over: Partial<ProcessCounters> = {}): ProcessCounters {
  return {
    pid,
    start_ticks: 1000 + pid,
    ppid: 1,
    uid: 0,
    comm: `p${pid}`,
    cmdline: `/usr/bin/p${pid} --flag`,
    state: 'S',
    utime: 0,
    stime: 0,
    rss_pages: 100,
    threads: 1,
    read_bytes: null,
    write_bytes: null,
    ...over,
  };
}
