import { spawn, type ChildProcess } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readlinkSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGoneError, ProcFs, ProcFsError } from './procfs.js';

const HOST = fileURLToPath(new URL('../../test/fixtures/proc/host', import.meta.url));

/** fds of this process whose target is `path`: proves what is really open. */
function fdsOpenOn(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) count++;
    } catch {
      // the fd readdir itself used is gone by now
    }
  }
  return count;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('ProcFs on a recorded tree', () => {
  const procfs = new ProcFs(HOST);

  it('reads a whole file as latin1', () => {
    expect(procfs.read('loadavg')).toBe('0.21 0.47 0.30 1/97 4420\n');
  });

  it('returns null for a file that does not exist', () => {
    expect(procfs.read('nonexistent')).toBeNull();
    expect(procfs.readKept('nonexistent')).toBeNull();
    expect(procfs.readKeptRecord('99999/stat')).toBeNull();
    expect(procfs.readHead('nonexistent', 64)).toBeNull();
    expect(procfs.countEntries('99999/fd')).toBeNull();
    expect(procfs.ownerUid(99999)).toBeNull();
    expect(procfs.keptCount).toBe(0);
  });

  it('throws ProcFsError with the cause for other failures', () => {
    let caught: unknown;
    try {
      procfs.read('net');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProcFsError);
    const error = caught as ProcFsError;
    expect(error.path).toBe(`${HOST}/net`);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EISDIR');
  });

  it('decodes utf8 on request', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmpm-procfs-'));
    writeFileSync(join(root, 'cmdline'), 'caf\u00e9\0', 'utf8');
    const fs = new ProcFs(root);
    expect(fs.read('cmdline', 'utf8')).toBe('caf\u00e9\0');
    expect(fs.read('cmdline')).toBe('caf\u00c3\u00a9\0');
    rmSync(root, { recursive: true });
  });

  it('lists numeric entries only', () => {
    expect(procfs.listPids().sort((a, b) => a - b)).toEqual([
      2, 12, 15, 45, 4401, 4402, 4403, 4404, 4405, 4406,
    ]);
  });

  it('reads only the head of a file, with a buffer large enough for it', () => {
    expect(procfs.readHead('self/smaps', 16)).toBe('556bf2e93000-556');
    const head = new ProcFs(HOST).readHead('self/smaps', 64 * 1024);
    expect(head).toBe(readFileSync(`${HOST}/self/smaps`, 'latin1'));
  });
});

describe('ProcFs kept fds', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kmpm-procfs-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('re-reads a kept file from the start and sees new content', () => {
    const procfs = new ProcFs(root);
    writeFileSync(join(root, 'a'), 'first version\n');
    expect(procfs.readKept('a')).toBe('first version\n');
    expect(procfs.keptCount).toBe(1);
    writeFileSync(join(root, 'a'), 'second\n');
    expect(procfs.readKept('a')).toBe('second\n');
    expect(fdsOpenOn(join(root, 'a'))).toBe(1);
    procfs.release('a');
    procfs.release('a');
    expect(procfs.keptCount).toBe(0);
    expect(fdsOpenOn(join(root, 'a'))).toBe(0);
  });

  it('grows the buffer for files larger than it, kept or not', () => {
    const big = 'x'.repeat(100_000) + '\n';
    writeFileSync(join(root, 'big'), big);
    const procfs = new ProcFs(root);
    expect(procfs.read('big')).toBe(big);
    const fresh = new ProcFs(root);
    expect(fresh.readKeptRecord('big')).toBe(big.length);
    expect(fresh.buffer.toString('latin1', 0, big.length)).toBe(big);
    expect(fresh.readKept('big')).toBe(big);
    expect(new ProcFs(root).readKeptWhole('big')).toBe(big);
  });

  it('reads a file generated whole in one read, and keeps its fd', () => {
    writeFileSync(join(root, 'w'), 'whole\n');
    const procfs = new ProcFs(root);
    expect(procfs.readKeptWhole('w')).toBe('whole\n');
    writeFileSync(join(root, 'w'), 'again\n');
    expect(procfs.readKeptWhole('w')).toBe('again\n');
    expect(procfs.keptCount).toBe(1);
    expect(procfs.readKeptWhole('missing')).toBeNull();
  });

  it('gets all of a file the live kernel generates whole from one read', () => {
    // Values change between reads; the lines (by their first word) must all be there.
    const keys = (text: string | null) => text?.split('\n').map((line) => line.split(/[\s:]/)[0]);
    const procfs = new ProcFs('/proc');
    for (const rel of ['stat', 'meminfo', 'loadavg', 'net/snmp']) {
      expect(keys(procfs.readKeptWhole(rel))).toEqual(keys(procfs.read(rel)));
    }
    procfs.close();
  });

  it('falls back to open/read/close above the cap', () => {
    writeFileSync(join(root, 'a'), 'A');
    writeFileSync(join(root, 'b'), 'B');
    const procfs = new ProcFs(root, { maxKeptFds: 1 });
    expect(procfs.readKept('a')).toBe('A');
    expect(procfs.readKept('b')).toBe('B');
    expect(procfs.readKept('b')).toBe('B');
    expect(procfs.keptCount).toBe(1);
    expect(fdsOpenOn(join(root, 'b'))).toBe(0);
    procfs.close();
    expect(procfs.keptCount).toBe(0);
    expect(fdsOpenOn(join(root, 'a'))).toBe(0);
  });

  it('does not keep fds for one-off reads', () => {
    writeFileSync(join(root, 'a'), 'A');
    const procfs = new ProcFs(root);
    expect(procfs.readRecord('a')).toBe(1);
    expect(procfs.read('a')).toBe('A');
    expect(procfs.keptCount).toBe(0);
  });
});

describe('ProcFs on the live /proc', () => {
  it('returns null and closes the kept fd once the process has exited', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid;
    if (pid === undefined) throw new Error('sleep did not start');
    const procfs = new ProcFs();
    const rel = `${pid}/stat`;
    const len = procfs.readKeptRecord(rel);
    expect(len).not.toBeNull();
    expect(procfs.buffer.toString('latin1', 0, len ?? 0)).toMatch(
      new RegExp(`^${pid} \\(sleep\\) `),
    );
    expect(fdsOpenOn(`/proc/${pid}/stat`)).toBe(1);
    const gone = exited(child);
    child.kill('SIGKILL');
    await gone;
    expect(procfs.readKeptRecord(rel)).toBeNull();
    expect(procfs.keptCount).toBe(0);
    expect(fdsOpenOn(`/proc/${pid}/stat`)).toBe(0);
  });

  it('reads the owner of a process and counts directory entries', () => {
    const procfs = new ProcFs();
    expect(procfs.ownerUid(process.pid)).toBe(process.getuid?.());
    expect(procfs.countEntries(`${process.pid}/fd`)).toBeGreaterThan(2);
    expect(procfs.listPids()).toContain(process.pid);
  });

  const pid1IoUnreadable = (() => {
    try {
      readFileSync('/proc/1/io');
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EACCES';
    }
  })();

  it.runIf(pid1IoUnreadable)('treats a file we may not read as absent (EACCES)', () => {
    expect(new ProcFs().read('1/io')).toBeNull();
  });
});

describe('isGoneError', () => {
  const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

  it.each(['ENOENT', 'ESRCH', 'EACCES', 'EPERM'])('%s means the file is gone for us', (code) => {
    expect(isGoneError(errno(code))).toBe(true);
  });

  it.each([errno('EIO'), errno('EMFILE'), new Error('plain'), null, 'text'])(
    '%s is a real failure',
    (err) => {
      expect(isGoneError(err)).toBe(false);
    },
  );
});
