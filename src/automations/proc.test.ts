import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hasChildrenFiles,
  parseChildren,
  parseKernelPageSize,
  parseStat,
  parseVmHwmBytes,
  readPageSize,
  readProcDir,
  readProcText,
  readStat,
} from './proc.js';

// Copied from a real machine; comm rewritten to contain spaces and parentheses.
const STAT =
  '8146 (we (ird)) name) R 8138 8138 2778 0 -1 4194304 100 0 0 0 12 34 56 78 20 0 1 0 50387 3133440 409 ' +
  '18446744073709551615 94671765655552 94671765675433 140735417205488 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n';

const tmp = mkdtempSync(join(tmpdir(), 'kmpm-proc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parsers', () => {
  it('parses stat fields counted from the last parenthesis', () => {
    expect(parseStat(STAT)).toEqual({
      pid: 8146,
      comm: 'we (ird)) name',
      state: 'R',
      ppid: 8138,
      utime: 12,
      stime: 34,
      cutime: 56,
      cstime: 78,
      startTicks: 50387,
      rssPages: 409,
    });
  });

  it.each(['', '12 (x) S 1 2 3', 'garbage without parens'])('rejects malformed stat %j', (text) => {
    expect(() => parseStat(text)).toThrow(/malformed/);
  });

  it('reads VmHWM and KernelPageSize in bytes', () => {
    expect(
      parseVmHwmBytes('Name:\tnode\nVmPeak:\t  9 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1 kB\n'),
    ).toBe(200 * 2 ** 20);
    expect(parseVmHwmBytes('Name:\tkworker\nState:\tZ (zombie)\n')).toBeNull();
    expect(parseKernelPageSize('Size:   4 kB\nKernelPageSize:       64 kB\n')).toBe(65536);
    expect(parseKernelPageSize('Size:   4 kB\n')).toBeNull();
  });

  it('parses children lists', () => {
    expect(parseChildren('')).toEqual([]);
    expect(parseChildren('12 345 ')).toEqual([12, 345]);
  });
});

describe('readers', () => {
  it('read the real /proc', () => {
    expect(readStat('/proc', 'self')?.pid).toBe(process.pid);
    expect(readStat('/proc', 999_999_999)).toBeNull();
    expect(readPageSize('/proc')).toBeGreaterThanOrEqual(4096);
    expect(readProcDir('/proc/999999999/task')).toEqual([]);
  });

  it('treat a vanished process as absent and throw anything else', () => {
    const file = join(tmp, 'file');
    writeFileSync(file, 'x');
    expect(readProcText(join(tmp, 'missing'))).toBeNull();
    expect(() => readProcText(tmp)).toThrow(/EISDIR/);
    expect(() => readProcDir(file)).toThrow(/ENOTDIR/);
  });

  it('take the page size from smaps and fall back to 4096', () => {
    const root = join(tmp, 'pages');
    mkdirSync(join(root, 'self'), { recursive: true });
    expect(readPageSize(root)).toBe(4096);
    writeFileSync(join(root, 'self/smaps'), 'Size: 4 kB\nKernelPageSize: 16 kB\n');
    expect(readPageSize(root)).toBe(16384);
    writeFileSync(join(root, 'self/smaps'), 'Size: 4 kB\n');
    expect(readPageSize(root)).toBe(4096);
  });

  it('detect per-thread children files', () => {
    const root = join(tmp, 'children');
    expect(hasChildrenFiles(root)).toBe(false);
    mkdirSync(join(root, 'self/task/7'), { recursive: true });
    expect(hasChildrenFiles(root)).toBe(false);
    writeFileSync(join(root, 'self/task/7/children'), '');
    expect(hasChildrenFiles(root)).toBe(true);
  });
});
