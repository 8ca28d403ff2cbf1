import { emptySnapshot } from '../../src/collect/collector.js';
import type { CpuTimes, ProcessCounters, Snapshot, SystemCounters } from '../../src/types.js';

export const MACHINE = { clockTicks: 100, pageSize: 4096, cores: 2 };

export function cpu(user: number, idle: number, extra: Partial<CpuTimes> = {}): CpuTimes {
  return { user, nice: 0, system: 0, idle, iowait: 0, irq: 0, softirq: 0, steal: 0, ...extra };
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
