import type { CpuTimes, SystemCounters } from '../../types.js';
import {
  lineKeyEnd,
  numberAfterKey,
  numberAt,
  numbersOnLine,
  skipBlanks,
  tokenEnd,
} from './text.js';

type Fields<K extends keyof SystemCounters> = Pick<SystemCounters, K>;

export type StatFields = Fields<
  | 'cpu_user'
  | 'cpu_nice'
  | 'cpu_system'
  | 'cpu_idle'
  | 'cpu_iowait'
  | 'cpu_irq'
  | 'cpu_softirq'
  | 'cpu_steal'
  | 'procs_running'
  | 'procs_blocked'
  | 'forks'
  | 'ctxt'
  | 'boot_time'
>;

export interface ParsedStat {
  system: StatFields;
  /** One entry per "cpuN" line, in file order (offline CPUs are not listed by the kernel). */
  cores: CpuTimes[];
}

/** /proc/stat: the aggregate cpu line, per-core lines and the scheduler counters. */
export function parseStat(text: string): ParsedStat {
  const system: StatFields = {
    cpu_user: null,
    cpu_nice: null,
    cpu_system: null,
    cpu_idle: null,
    cpu_iowait: null,
    cpu_irq: null,
    cpu_softirq: null,
    cpu_steal: null,
    procs_running: numberAfterKey(text, 'procs_running '),
    procs_blocked: numberAfterKey(text, 'procs_blocked '),
    forks: numberAfterKey(text, 'processes '),
    ctxt: numberAfterKey(text, 'ctxt '),
    boot_time: numberAfterKey(text, 'btime '),
  };
  const cores: CpuTimes[] = [];
  const values: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  // The cpu lines come first; stop at the first other line rather than split the long
  // intr line and the rest.
  let start = 0;
  while (text.startsWith('cpu', start)) {
    const name = tokenEnd(text, start);
    const times = cpuTimes(values, numbersOnLine(text, name, values));
    if (name - start === 3) {
      system.cpu_user = times.user;
      system.cpu_nice = times.nice;
      system.cpu_system = times.system;
      system.cpu_idle = times.idle;
      system.cpu_iowait = times.iowait;
      system.cpu_irq = times.irq;
      system.cpu_softirq = times.softirq;
      system.cpu_steal = times.steal;
    } else {
      cores.push(times);
    }
    const end = text.indexOf('\n', start);
    if (end < 0) break;
    start = end + 1;
  }
  return { system, cores };
}

/** Counts the "cpuN" lines of /proc/stat: the CPUs the kernel has online. */
export function countCores(statText: string): number {
  return parseStat(statText).cores.length;
}

function cpuTimes(values: readonly number[], count: number): CpuTimes {
  // Columns missing on old kernels (steal before 2.6.11) read as 0, and so does junk.
  const at = (i: number): number => {
    const v = values[i];
    return i >= count || v === undefined || Number.isNaN(v) ? 0 : v;
  };
  return {
    user: at(0),
    nice: at(1),
    system: at(2),
    idle: at(3),
    iowait: at(4),
    irq: at(5),
    softirq: at(6),
    steal: at(7),
  };
}

/** /proc/loadavg: "0.36 0.60 0.32 2/102 3783". */
export function parseLoadavg(text: string): Fields<'load1' | 'load5' | 'load15'> {
  const first = skipBlanks(text, 0);
  const second = skipBlanks(text, tokenEnd(text, first));
  const third = skipBlanks(text, tokenEnd(text, second));
  return {
    load1: numberAt(text, first),
    load5: numberAt(text, second),
    load15: numberAt(text, third),
  };
}

export interface PsiLine {
  avg10: number | null;
  /** Cumulative stall time in microseconds. */
  total_us: number | null;
}

export interface ParsedPressure {
  some: PsiLine | null;
  /** null for cpu on kernels before 5.13, which have no "full" line for cpu. */
  full: PsiLine | null;
}

/** /proc/pressure/{cpu,memory,io}: "some avg10=… avg60=… avg300=… total=…" and "full …". */
export function parsePressure(text: string): ParsedPressure {
  return { some: psiLine(text, 'some '), full: psiLine(text, 'full ') };
}

function psiLine(text: string, kind: string): PsiLine | null {
  const from = lineKeyEnd(text, kind);
  if (from < 0) return null;
  const newline = text.indexOf('\n', from);
  const end = newline < 0 ? text.length : newline;
  return {
    avg10: valueOf(text, from, end, 'avg10='),
    total_us: valueOf(text, from, end, 'total='),
  };
}

/** The number after `key` within text[from, end), one line. */
function valueOf(text: string, from: number, end: number, key: string): number | null {
  const at = text.indexOf(key, from);
  return at < 0 || at + key.length > end ? null : numberAt(text, at + key.length);
}

export type MeminfoFields = Fields<
  | 'mem_total_bytes'
  | 'mem_available_bytes'
  | 'mem_free_bytes'
  | 'mem_buffers_bytes'
  | 'mem_cached_bytes'
  | 'swap_total_bytes'
  | 'swap_free_bytes'
>;

/** /proc/meminfo: values are in kB (KiB); returned in bytes. */
export function parseMeminfo(text: string): MeminfoFields {
  const bytes = (key: string): number | null => {
    const kib = numberAfterKey(text, key);
    return kib === null ? null : kib * 1024;
  };
  return {
    mem_total_bytes: bytes('MemTotal:'),
    mem_available_bytes: bytes('MemAvailable:'),
    mem_free_bytes: bytes('MemFree:'),
    mem_buffers_bytes: bytes('Buffers:'),
    mem_cached_bytes: bytes('Cached:'),
    swap_total_bytes: bytes('SwapTotal:'),
    swap_free_bytes: bytes('SwapFree:'),
  };
}

export type VmstatFields = Fields<'pswpin' | 'pswpout' | 'pgfault' | 'pgmajfault' | 'oom_kill'>;

/** /proc/vmstat; oom_kill exists from kernel 4.13 and is null before. */
export function parseVmstat(text: string): VmstatFields {
  return {
    pswpin: numberAfterKey(text, 'pswpin '),
    pswpout: numberAfterKey(text, 'pswpout '),
    pgfault: numberAfterKey(text, 'pgfault '),
    pgmajfault: numberAfterKey(text, 'pgmajfault '),
    oom_kill: numberAfterKey(text, 'oom_kill '),
  };
}

/** /proc/net/snmp: the first "Tcp:" line names the columns of the second. */
export function parseSnmp(text: string): Fields<'tcp_retrans_segs' | 'tcp_out_segs'> {
  const header = lineKeyEnd(text, 'Tcp:');
  const newline = header < 0 ? -1 : text.indexOf('\n', header);
  // The value line must follow the header line and be a Tcp: line too.
  const row = newline >= 0 && text.startsWith('Tcp:', newline + 1) ? newline + 1 : -1;
  const column = (name: string): number | null => {
    if (row < 0) return null;
    const i = columnIndex(text, header - 'Tcp:'.length, name);
    return i < 0 ? null : numberAt(text, tokenAt(text, row, i));
  };
  return { tcp_retrans_segs: column('RetransSegs'), tcp_out_segs: column('OutSegs') };
}

/** Index of the token equal to `name` on the line starting at `from` (the key is token 0). */
function columnIndex(text: string, from: number, name: string): number {
  let at = skipBlanks(text, from);
  for (let i = 0; ; i++) {
    const end = tokenEnd(text, at);
    if (end === at) return -1;
    if (end - at === name.length && text.startsWith(name, at)) return i;
    at = skipBlanks(text, end);
  }
}

/** Offset of token `index` on the line starting at `from`, or of the line's end if short. */
function tokenAt(text: string, from: number, index: number): number {
  let at = skipBlanks(text, from);
  for (let i = 0; i < index; i++) at = skipBlanks(text, tokenEnd(text, at));
  return at;
}

/** Page size from the first KernelPageSize line of /proc/PID/smaps ("4 kB"), in bytes. */
export function parsePageSize(smapsText: string): number | null {
  const kib = numberAfterKey(smapsText, 'KernelPageSize:');
  return kib === null || kib <= 0 ? null : kib * 1024;
}

/** Soft "Max open files" limit from /proc/PID/limits; null when absent. */
export function parseOpenFilesLimit(limitsText: string): number | null {
  const from = lineKeyEnd(limitsText, 'Max open files');
  return from < 0 ? null : numberAt(limitsText, from);
}
