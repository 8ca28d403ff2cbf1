import type { ProcessCounters } from '../../types.js';
import { numberAfterKey, toNumber } from './text.js';

/** The fields of /proc/PID/stat this project keeps. */
export interface PidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  threads: number;
  /** Field 22, clock ticks after boot: with pid it identifies a process across PID reuse. */
  startTicks: number;
  rssPages: number;
}

/**
 * The numeric fields of /proc/PID/stat read in place, without allocating: the collector
 * runs this for every process on every tick and decodes comm only when its bytes changed.
 */
export interface PidStatScan {
  pid: number;
  ppid: number;
  /** Field 9, the kernel's PF_* flags of the task. */
  flags: number;
  utime: number;
  stime: number;
  threads: number;
  startTicks: number;
  rssPages: number;
  /**
   * comm is buf[commStart, commEnd), UTF-8 as the kernel keeps it, except that a kernel
   * workqueue worker's name stops before the work it runs (see workerCommEnd).
   */
  commStart: number;
  commEnd: number;
  /** The state letter's byte (R, S, D, Z...). */
  stateCode: number;
}

/** PF_KTHREAD in the flags field: a kernel thread, which never execs another program. */
export const PF_KTHREAD = 0x00200000;

export function newPidStatScan(): PidStatScan {
  return {
    pid: 0,
    ppid: 0,
    flags: 0,
    utime: 0,
    stime: 0,
    threads: 0,
    startTicks: 0,
    rssPages: 0,
    commStart: 0,
    commEnd: 0,
    stateCode: 0,
  };
}

const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const TAB = 0x09;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** The last field we keep (rss); the scan stops there. */
const LAST_FIELD = 24;

/**
 * Parses /proc/PID/stat straight from the read buffer into `out`: this runs for every
 * process on every tick, so it avoids building a string and splitting it. comm sits in
 * parentheses and may itself contain spaces and ')', so the fields start after the LAST ')'.
 * Returns false for content that is not a stat line (`out` is then partly overwritten).
 */
export function scanPidStat(buf: Buffer, len: number, out: PidStatScan): boolean {
  // The shortest possible line is far longer; this also keeps lastIndexOf's offset >= 0.
  if (len < 8) return false;
  const open = buf.indexOf(OPEN_PAREN);
  const close = buf.lastIndexOf(CLOSE_PAREN, len - 1);
  if (open <= 0 || open >= len || close < open) return false;
  // Field 3 (state) is at close + 2; numeric fields start at close + 4 with field 4.
  const stateAt = close + 2;
  if (stateAt + 2 >= len) return false;
  out.pid = digits(buf, 0, open - 1);
  out.commStart = open + 1;
  out.commEnd = close;
  out.stateCode = buf[stateAt]!;
  let field = 4;
  let value = 0;
  // Bounds are checked by the loop conditions, hence the non-null assertions on buf[i].
  for (let i = stateAt + 2; i < len; i++) {
    const c = buf[i]!;
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      value = value * 10 + (c - DIGIT_0);
      continue;
    }
    // Besides digits and separators there is only the '-' of fields we never keep
    // (tpgid, priority, nice).
    if (c !== SPACE && c !== NEWLINE) continue;
    if (field === 4) out.ppid = value;
    else if (field === 9) out.flags = value;
    else if (field === 14) out.utime = value;
    else if (field === 15) out.stime = value;
    else if (field === 20) out.threads = value;
    else if (field === 22) out.startTicks = value;
    else if (field === LAST_FIELD) {
      out.rssPages = value;
      if ((out.flags & PF_KTHREAD) !== 0) out.commEnd = workerCommEnd(buf, out.commStart, close);
      return true;
    }
    field++;
    value = 0;
  }
  return false;
}

const KWORKER = Buffer.from('kworker/', 'latin1');
const RESCUER = 0x52; // 'R'
const PLUS = 0x2b;
const MINUS = 0x2d;

/**
 * A workqueue worker's comm is its name plus '-' or '+' and the workqueue it ran last or
 * runs now ("kworker/1:2-events", then "kworker/1:2+kblockd"), which changes many times a
 * second: the name alone ("kworker/1:2") is the process. A rescuer ("kworker/R-kblockd") is
 * named after its workqueue for good and keeps it.
 */
function workerCommEnd(buf: Buffer, start: number, end: number): number {
  const name = start + KWORKER.length;
  if (end <= name || buf.compare(KWORKER, 0, KWORKER.length, start, name) !== 0) return end;
  if (buf[name] === RESCUER && buf[name + 1] === MINUS) return end;
  for (let i = name; i < end; i++) {
    const c = buf[i];
    if (c === MINUS || c === PLUS) return i;
  }
  return end;
}

/**
 * Parses /proc/PID/stat into a new record, comm decoded. Returns null for content that is
 * not a stat line.
 */
export function parsePidStat(buf: Buffer, len: number): PidStat | null {
  const scan = newPidStatScan();
  if (!scanPidStat(buf, len, scan)) return null;
  return {
    pid: scan.pid,
    comm: buf.toString('utf8', scan.commStart, scan.commEnd),
    state: String.fromCharCode(scan.stateCode),
    ppid: scan.ppid,
    utime: scan.utime,
    stime: scan.stime,
    threads: scan.threads,
    startTicks: scan.startTicks,
    rssPages: scan.rssPages,
  };
}

function digits(buf: Buffer, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c >= DIGIT_0 && c <= DIGIT_9) value = value * 10 + (c - DIGIT_0);
  }
  return value;
}

export interface PidIo {
  read_bytes: number | null;
  write_bytes: number | null;
}

/** /proc/PID/io: bytes this process caused to be fetched from / sent to storage. */
export function parsePidIo(text: string): PidIo {
  return {
    read_bytes: numberAfterKey(text, 'read_bytes:'),
    write_bytes: numberAfterKey(text, 'write_bytes:'),
  };
}

const READ_BYTES = Buffer.from('read_bytes:', 'latin1');
const WRITE_BYTES = Buffer.from('write_bytes:', 'latin1');

/**
 * parsePidIo straight from the read buffer. Returns `prev` itself when both values are
 * unchanged, so that an unchanged reading keeps its identity and nothing is allocated.
 */
export function parsePidIoBytes(buf: Buffer, len: number, prev: PidIo | null): PidIo {
  const read = numberAfterKeyBytes(buf, len, READ_BYTES);
  const write = numberAfterKeyBytes(buf, len, WRITE_BYTES);
  if (prev !== null && prev.read_bytes === read && prev.write_bytes === write) return prev;
  return { read_bytes: read, write_bytes: write };
}

/** numberAfterKey over buf[0, len): the number after `key` where key starts a line. */
function numberAfterKeyBytes(buf: Buffer, len: number, key: Buffer): number | null {
  let at = buf.indexOf(key);
  while (at > 0 && buf[at - 1] !== NEWLINE) at = buf.indexOf(key, at + 1);
  if (at < 0 || at + key.length > len) return null;
  let start = at + key.length;
  while (start < len && (buf[start] === SPACE || buf[start] === TAB)) start++;
  let end = start;
  let value = 0;
  let plain = true;
  while (end < len) {
    const c = buf[end]!;
    if (c === SPACE || c === TAB || c === NEWLINE) break;
    if (c >= DIGIT_0 && c <= DIGIT_9) value = value * 10 + (c - DIGIT_0);
    else plain = false;
    end++;
  }
  if (end === start) return null;
  // Digits only and short enough to be exact: the common case. Anything else as Number() does.
  if (plain && end - start <= 15) return value;
  return toNumber(buf.toString('latin1', start, end));
}

/** /proc/PID/cmdline: NUL-separated arguments, joined with spaces; empty for kernel threads. */
export function parseCmdline(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0) end--;
  return text.slice(0, end).replaceAll('\0', ' ');
}

/** Assembles the stored record of a process from its parsed stat and what else we know. */
export function toProcessCounters(
  stat: PidStat,
  identity: { uid: number; cmdline: string },
  io: PidIo | null,
): ProcessCounters {
  return {
    pid: stat.pid,
    start_ticks: stat.startTicks,
    ppid: stat.ppid,
    uid: identity.uid,
    comm: stat.comm,
    cmdline: identity.cmdline,
    state: stat.state,
    utime: stat.utime,
    stime: stat.stime,
    rss_pages: stat.rssPages,
    threads: stat.threads,
    read_bytes: io?.read_bytes ?? null,
    write_bytes: io?.write_bytes ?? null,
  };
}
