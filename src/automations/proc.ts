import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/** The fields of /proc/PID/stat a run measurement needs. CPU times are in USER_HZ ticks. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  /** CPU of children this process has reaped (waitpid), including their reaped descendants. */
  cutime: number;
  cstime: number;
  startTicks: number;
  rssPages: number;
}

/**
 * Parses /proc/PID/stat. comm sits in parentheses and may itself contain spaces and ')',
 * so the numeric fields are counted from the last ')'.
 */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  // Fields 3.. follow ") "; rest[i] is field i + 3 of proc(5).
  const rest =
    close > open && open > 0
      ? text
          .slice(close + 2)
          .trim()
          .split(' ')
      : [];
  if (rest.length < 22) throw new Error(`malformed /proc stat line: ${text.slice(0, 80)}`);
  const num = (i: number): number => Number(rest[i]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: String(rest[0]),
    ppid: num(1),
    utime: num(11),
    stime: num(12),
    cutime: num(13),
    cstime: num(14),
    startTicks: num(19),
    rssPages: num(21),
  };
}

/** VmHWM (peak resident set) from /proc/PID/status, in bytes; null for zombies and threads without memory. */
export function parseVmHwmBytes(status: string): number | null {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match?.[1] === undefined ? null : Number(match[1]) * 1024;
}

/** The first KernelPageSize in /proc/self/smaps, in bytes. */
export function parseKernelPageSize(smaps: string): number | null {
  const match = /^KernelPageSize:\s+(\d+) kB$/m.exec(smaps);
  return match?.[1] === undefined ? null : Number(match[1]) * 1024;
}

/** Parses a /proc/PID/task/TID/children file: space-separated PIDs. */
export function parseChildren(text: string): number[] {
  return text
    .split(' ')
    .filter((s) => s.trim() !== '')
    .map(Number);
}

// ENOENT/ESRCH: the process exited between listing and reading. EACCES/EPERM: hidden from
// us (hidepid mounts, another user's setuid process); it cannot be measured, only skipped.
const NOT_READABLE = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM']);

function isNotReadable(err: unknown): boolean {
  return NOT_READABLE.has(String((err as NodeJS.ErrnoException).code));
}

/** Reads a /proc file; null when the process is gone or hidden, other errors are thrown. */
export function readProcText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isNotReadable(err)) return null;
    throw err;
  }
}

/** Lists a /proc directory; empty when the process is gone or hidden. */
export function readProcDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (err) {
    if (isNotReadable(err)) return [];
    throw err;
  }
}

export function readStat(procRoot: string, pid: number | 'self'): ProcStat | null {
  const text = readProcText(`${procRoot}/${pid}/stat`);
  return text === null ? null : parseStat(text);
}

const SMAPS_PREFIX_BYTES = 8192;
const DEFAULT_PAGE_SIZE = 4096;

/** Page size for RSS pages. Only the first mapping of smaps is needed; the whole file is large. */
export function readPageSize(procRoot: string): number {
  let fd: number;
  try {
    fd = openSync(`${procRoot}/self/smaps`, 'r');
  } catch {
    // No smaps (kernel without CONFIG_PROC_PAGE_MONITOR, or not Linux): the common page size.
    return DEFAULT_PAGE_SIZE;
  }
  try {
    const buf = Buffer.alloc(SMAPS_PREFIX_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return parseKernelPageSize(buf.toString('utf8', 0, n)) ?? DEFAULT_PAGE_SIZE;
  } finally {
    closeSync(fd);
  }
}

/** Whether the kernel has /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN). */
export function hasChildrenFiles(procRoot: string): boolean {
  const tid = readProcDir(`${procRoot}/self/task`)[0];
  return tid !== undefined && existsSync(`${procRoot}/self/task/${tid}/children`);
}
