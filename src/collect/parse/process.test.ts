import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  newPidStatScan,
  parseCmdline,
  parsePidIo,
  parsePidIoBytes,
  parsePidStat,
  PF_KTHREAD,
  scanPidStat,
  toProcessCounters,
} from './process.js';

const HOST = fileURLToPath(new URL('../../../test/fixtures/proc/host', import.meta.url));
const statOf = (pid: number) => {
  const buf = readFileSync(`${HOST}/${pid}/stat`);
  return parsePidStat(buf, buf.length);
};

describe('parsePidStat', () => {
  it('reads the kept fields of a user process', () => {
    // 4403 (node) S 4397 ... utime 10 stime 1 ... threads 7 ... starttime 47401 vsize rss 10066
    expect(statOf(4403)).toEqual({
      pid: 4403,
      comm: 'node',
      state: 'S',
      ppid: 4397,
      utime: 10,
      stime: 1,
      threads: 7,
      startTicks: 47401,
      rssPages: 10066,
    });
  });

  it('parses from the last ")" when comm holds spaces and parentheses', () => {
    // A real process that named itself "x) (y) z" through /proc/self/comm.
    expect(statOf(4401)).toMatchObject({
      pid: 4401,
      comm: 'x) (y) z',
      state: 'S',
      ppid: 4397,
      startTicks: 47400,
      rssPages: 764,
    });
  });

  it('reads kernel threads and zombies', () => {
    expect(statOf(12)).toMatchObject({
      comm: 'kworker/u8:0',
      state: 'I',
      ppid: 2,
      stime: 11,
      startTicks: 20,
      rssPages: 0,
    });
    expect(statOf(4406)).toMatchObject({ comm: 'sleep', state: 'Z', ppid: 4402, rssPages: 0 });
  });

  it('ignores bytes past len in a reused buffer', () => {
    const line = readFileSync(`${HOST}/4403/stat`);
    const buf = Buffer.alloc(1024, 0x29);
    line.copy(buf);
    expect(parsePidStat(buf, line.length)?.rssPages).toBe(10066);
  });

  it('returns null for content that is not a stat line', () => {
    const parse = (text: string) => parsePidStat(Buffer.from(text, 'latin1'), text.length);
    expect(parse('')).toBeNull();
    expect(parse('no parentheses at all')).toBeNull();
    expect(parse('(comm) S 1 2 3')).toBeNull();
    expect(parse('12 (comm)')).toBeNull();
    expect(parse('12 (comm) S 1 2 3 4 5')).toBeNull();
  });
});

describe('the name of a kernel workqueue worker', () => {
  const flagsAt = 9;
  /** A stat line of a process named comm with the given flags. */
  const line = (comm: string, flags: number) => {
    const fields = Array.from({ length: 50 }, (_, i) => (i === flagsAt - 4 ? flags : 1));
    return Buffer.from(`77 (${comm}) I ${fields.join(' ')}\n`, 'utf8');
  };
  const commOf = (comm: string, flags = PF_KTHREAD) => {
    const buf = line(comm, flags);
    return parsePidStat(buf, buf.length)?.comm;
  };

  it('stops before the workqueue it ran last or runs now', () => {
    expect(commOf('kworker/1:2-events')).toBe('kworker/1:2');
    expect(commOf('kworker/1:2+kblockd')).toBe('kworker/1:2');
    expect(commOf('kworker/u8:3-ext4-rsv-conversion')).toBe('kworker/u8:3');
    expect(commOf('kworker/0:1H-kblockd')).toBe('kworker/0:1H');
  });

  it('keeps whole names that are identities: rescuers, idle workers, other threads', () => {
    expect(commOf('kworker/R-kblockd')).toBe('kworker/R-kblockd');
    expect(commOf('kworker/u9:0')).toBe('kworker/u9:0');
    expect(commOf('ksoftirqd/0')).toBe('ksoftirqd/0');
    expect(commOf('kworker')).toBe('kworker');
    // Only the kernel names its threads this way; a user process may call itself anything.
    expect(commOf('kworker/1:2-events', 0)).toBe('kworker/1:2-events');
  });
});

describe('parsePidIo', () => {
  it('reads storage bytes, not cancelled_write_bytes', () => {
    expect(parsePidIo(readFileSync(`${HOST}/4404/io`, 'latin1'))).toEqual({
      read_bytes: 888832,
      write_bytes: 12288,
    });
  });
});

describe('scanPidStat', () => {
  it('reads the fields in place, with comm as a byte range and the kernel-thread flag', () => {
    const buf = readFileSync(`${HOST}/12/stat`);
    const scan = newPidStatScan();
    expect(scanPidStat(buf, buf.length, scan)).toBe(true);
    expect(buf.toString('utf8', scan.commStart, scan.commEnd)).toBe('kworker/u8:0');
    expect(String.fromCharCode(scan.stateCode)).toBe('I');
    expect(scan.flags & PF_KTHREAD).toBe(PF_KTHREAD);
    const user = readFileSync(`${HOST}/4403/stat`);
    expect(scanPidStat(user, user.length, scan)).toBe(true);
    expect(scan).toMatchObject({ pid: 4403, ppid: 4397, utime: 10, rssPages: 10066 });
    expect(scan.flags & PF_KTHREAD).toBe(0);
    expect(scanPidStat(Buffer.from('12 (comm) S 1 2'), 15, scan)).toBe(false);
  });
});

describe('parsePidIoBytes', () => {
  const io = readFileSync(`${HOST}/4404/io`);

  it('reads what parsePidIo reads, straight from bytes', () => {
    expect(parsePidIoBytes(io, io.length, null)).toEqual(parsePidIo(io.toString('latin1')));
  });

  it('returns the previous reading itself when nothing changed', () => {
    const prev = parsePidIoBytes(io, io.length, null);
    expect(parsePidIoBytes(io, io.length, prev)).toBe(prev);
    const more = Buffer.from(io.toString('latin1').replace('read_bytes: 888832', 'read_bytes: 1'));
    expect(parsePidIoBytes(more, more.length, prev)).toEqual({ read_bytes: 1, write_bytes: 12288 });
  });

  it('ignores bytes past len, keys inside other keys, and reads odd values as Number does', () => {
    const text = 'cancelled_write_bytes: 5\nread_bytes:\t 0x10\nwrite_bytes: 123456789012345678\n';
    const buf = Buffer.alloc(256, 0x31);
    buf.write(text, 'latin1');
    expect(parsePidIoBytes(buf, text.length, null)).toEqual({
      read_bytes: 16,
      write_bytes: Number('123456789012345678'),
    });
    expect(parsePidIoBytes(buf, 20, null)).toEqual({ read_bytes: null, write_bytes: null });
    const empty = Buffer.from('read_bytes: \nwrite_bytes:');
    expect(parsePidIoBytes(empty, empty.length, null)).toEqual({
      read_bytes: null,
      write_bytes: null,
    });
  });
});

describe('parseCmdline', () => {
  it('joins arguments with spaces and drops the trailing NUL', () => {
    const text = readFileSync(`${HOST}/4401/cmdline`, 'utf8');
    expect(parseCmdline(text)).toBe(
      'bash -c printf "x) (y) z" > /proc/self/comm; sleep 300 & wait',
    );
  });

  it('is empty for kernel threads and zombies', () => {
    expect(parseCmdline(readFileSync(`${HOST}/12/cmdline`, 'utf8'))).toBe('');
    expect(parseCmdline(readFileSync(`${HOST}/4406/cmdline`, 'utf8'))).toBe('');
  });
});

describe('toProcessCounters', () => {
  it('combines stat, identity and io', () => {
    const stat = statOf(4403);
    if (stat === null) throw new Error('fixture unreadable');
    expect(toProcessCounters(stat, { uid: 0, cmdline: 'node -e x' }, null)).toEqual({
      pid: 4403,
      start_ticks: 47401,
      ppid: 4397,
      uid: 0,
      comm: 'node',
      cmdline: 'node -e x',
      state: 'S',
      utime: 10,
      stime: 1,
      rss_pages: 10066,
      threads: 7,
      read_bytes: null,
      write_bytes: null,
    });
  });
});
