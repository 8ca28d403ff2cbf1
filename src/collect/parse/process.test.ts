import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCmdline, parsePidIo, parsePidStat, toProcessCounters } from './process.js';

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
      comm: 'kworker/u8:0-events_unbound',
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

describe('parsePidIo', () => {
  it('reads storage bytes, not cancelled_write_bytes', () => {
    expect(parsePidIo(readFileSync(`${HOST}/4404/io`, 'latin1'))).toEqual({
      read_bytes: 888832,
      write_bytes: 12288,
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
