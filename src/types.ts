/**
 * Shared domain types. Raw counters are stored as read; catalog metrics (rates,
 * percentages) are derived from two snapshots at query time by analyze/derive.ts.
 */

/** System-wide counters and gauges, one flat record per snapshot (one SQLite row). */
export const SYSTEM_FIELDS = [
  // /proc/stat, aggregate "cpu" line, in USER_HZ ticks
  'cpu_user',
  'cpu_nice',
  'cpu_system',
  'cpu_idle',
  'cpu_iowait',
  'cpu_irq',
  'cpu_softirq',
  'cpu_steal',
  // /proc/stat
  'procs_running',
  'procs_blocked',
  'forks',
  'ctxt',
  'boot_time',
  // /proc/loadavg
  'load1',
  'load5',
  'load15',
  // /proc/pressure/{cpu,memory,io}; null where the kernel has no PSI
  'psi_cpu_some_avg10',
  'psi_cpu_some_total_us',
  'psi_cpu_full_avg10',
  'psi_cpu_full_total_us',
  'psi_memory_some_avg10',
  'psi_memory_some_total_us',
  'psi_memory_full_avg10',
  'psi_memory_full_total_us',
  'psi_io_some_avg10',
  'psi_io_some_total_us',
  'psi_io_full_avg10',
  'psi_io_full_total_us',
  // /proc/meminfo, bytes
  'mem_total_bytes',
  'mem_available_bytes',
  'mem_free_bytes',
  'mem_buffers_bytes',
  'mem_cached_bytes',
  'swap_total_bytes',
  'swap_free_bytes',
  // /proc/vmstat
  'pswpin',
  'pswpout',
  'pgfault',
  'pgmajfault',
  'oom_kill',
  // /proc/net/snmp
  'tcp_retrans_segs',
  'tcp_out_segs',
] as const;

/**
 * Fields the kernel reports with two decimals (load averages, PSI averages). system_raw
 * stores them as integer hundredths: SQLite keeps a small integer in 1–2 bytes, a
 * fractional REAL in 8, which made these a fifth of every stored sample.
 */
export const HUNDREDTHS_FIELDS: ReadonlySet<string> = new Set([
  'load1',
  'load5',
  'load15',
  'psi_cpu_some_avg10',
  'psi_cpu_full_avg10',
  'psi_memory_some_avg10',
  'psi_memory_full_avg10',
  'psi_io_some_avg10',
  'psi_io_full_avg10',
]);

export type SystemField = (typeof SYSTEM_FIELDS)[number];
/** null = not available on this machine (e.g. no PSI, no oom_kill on old kernels). */
export type SystemCounters = Record<SystemField, number | null>;

/** One core's times from a /proc/stat "cpuN" line, in USER_HZ ticks. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

/** A whole disk from /proc/diskstats (partitions, loop, ram, dm are skipped). */
export interface DiskCounters {
  name: string;
  reads: number;
  read_sectors: number;
  read_ms: number;
  writes: number;
  write_sectors: number;
  write_ms: number;
  in_flight: number;
  io_ms: number;
  weighted_ms: number;
}

/** One interface from /proc/net/dev (bytes, packets, errors, drops each way). */
export interface NetCounters {
  name: string;
  rx_bytes: number;
  rx_packets: number;
  rx_errs: number;
  rx_drop: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errs: number;
  tx_drop: number;
}

/**
 * One process as read from /proc/PID/stat (+ io, cmdline, owner).
 * (pid, start_ticks) identifies a process across PID reuse within one boot.
 */
export interface ProcessCounters {
  pid: number;
  start_ticks: number;
  ppid: number;
  uid: number;
  comm: string;
  cmdline: string;
  state: string;
  utime: number;
  stime: number;
  rss_pages: number;
  threads: number;
  /** null when /proc/PID/io is unreadable (other users' processes) or not read this tick. */
  read_bytes: number | null;
  write_bytes: number | null;
}

export interface Snapshot {
  /** Wall-clock time of the snapshot, epoch milliseconds. */
  ts: number;
  system: SystemCounters;
  cores: CpuTimes[];
  disks: DiskCounters[];
  nets: NetCounters[];
  /** null when processes were not collected for this snapshot. */
  processes: ProcessCounters[] | null;
}

/** Self-metrics a collector reports about its own work, per snapshot. */
export interface CollectorStat {
  name: string;
  durationMs: number;
  ok: boolean;
  error?: string;
}

/** Machine constants needed to turn raw counters into units. */
export interface MachineInfo {
  clockTicks: number;
  pageSize: number;
  cores: number;
}

export type Clock = () => number;
