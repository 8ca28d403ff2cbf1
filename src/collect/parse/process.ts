import type { ProcessCounters } from '../../types.js';
import { numberAfterKey } from './text.js';

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

const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** The last field we keep (rss); the scan stops there. */
const LAST_FIELD = 24;

/**
 * Parses /proc/PID/stat straight from the read buffer: this runs for every process on every
 * tick, so it avoids building a string and splitting it. comm sits in parentheses and may
 * itself contain spaces and ')', so the fields start after the LAST ')'.
 * Returns null for content that is not a stat line.
 */
export function parsePidStat(buf: Buffer, len: number): PidStat | null {
  // The shortest possible line is far longer; this also keeps lastIndexOf's offset >= 0.
  if (len < 8) return null;
  const open = buf.indexOf(OPEN_PAREN);
  const close = buf.lastIndexOf(CLOSE_PAREN, len - 1);
  if (open <= 0 || open >= len || close < open) return null;
  // Field 3 (state) is at close + 2; numeric fields start at close + 4 with field 4.
  const stateAt = close + 2;
  if (stateAt + 2 >= len) return null;
  const stat: PidStat = {
    pid: digits(buf, 0, open - 1),
    comm: buf.toString('utf8', open + 1, close),
    state: String.fromCharCode(buf[stateAt]!),
    ppid: 0,
    utime: 0,
    stime: 0,
    threads: 0,
    startTicks: 0,
    rssPages: 0,
  };
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
    if (field === 4) stat.ppid = value;
    else if (field === 14) stat.utime = value;
    else if (field === 15) stat.stime = value;
    else if (field === 20) stat.threads = value;
    else if (field === 22) stat.startTicks = value;
    else if (field === LAST_FIELD) {
      stat.rssPages = value;
      return stat;
    }
    field++;
    value = 0;
  }
  return null;
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
