import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  acquireRecorderLock,
  LOCK_FILE,
  LockError,
  LockHeldError,
  readLockOwner,
  type LockOwner,
} from './lock.js';

let dir: string;
let dataDir: string;
let lockPath: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-lock-'));
  dataDir = path.join(dir, 'data');
  lockPath = path.join(dataDir, LOCK_FILE);
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('acquire and release', () => {
  it('writes the owner, refuses a second recorder, and releases', () => {
    const lock = acquireRecorderLock(dataDir, { clock: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
    const expected: LockOwner = {
      pid: process.pid,
      startTicks: startTicksOf(process.pid),
      startedAt: '2026-01-02T03:04:05.000Z',
      hostname: os.hostname(),
      command: expect.any(String) as string,
    };
    expect(lock.owner).toEqual(expected);
    expect(lock.path).toBe(lockPath);
    expect(JSON.parse(fs.readFileSync(lockPath, 'utf8'))).toEqual(expected);
    expect(readLockOwner(dataDir)).toEqual({ owner: lock.owner, alive: true });

    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.message).toBe(
      `another recorder (pid ${process.pid}, started 2026-01-02T03:04:05.000Z) is recording into ${dataDir}; stop it or use --data-dir`,
    );
    expect((err as LockHeldError).owner).toEqual(lock.owner);
    expect((err as LockHeldError).lockPath).toBe(lockPath);

    lock.release();
    lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);
    expect(readLockOwner(dataDir)).toBeNull();
    expect(fs.readdirSync(dataDir)).toEqual([]);
    acquireRecorderLock(dataDir).release();
  });

  it('tells readers how the recorder writes, and drops a description it does not know', () => {
    const flush = { signal: 'SIGUSR2', intervalMs: 1000, flushMs: 10_000 } as const;
    const lock = acquireRecorderLock(dataDir, { flush });
    expect(readLockOwner(dataDir)?.owner.flush).toEqual(flush);
    lock.release();
    for (const junk of [{ ...flush, signal: 'SIGKILL' }, { ...flush, flushMs: -1 }, 'SIGUSR2']) {
      writeLock({ ...ownerFor(process.pid), flush: junk as never });
      const read = readLockOwner(dataDir);
      expect(read?.owner.pid).toBe(process.pid); // the lock still counts
      expect(read?.owner).not.toHaveProperty('flush');
    }
  });

  it('refuses while another process records, and succeeds once it stops', async () => {
    const holder = await startHolder(dataDir);
    expect(holder.result).toEqual({ won: expect.objectContaining({ pid: holder.child.pid }) });
    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.message).toContain(`another recorder (pid ${holder.child.pid}, started `);

    await stop(holder.child, 'SIGTERM');
    expect(fs.existsSync(lockPath)).toBe(false);
    acquireRecorderLock(dataDir).release();
  });

  it('does not remove a lock that another process took over', async () => {
    const lock = acquireRecorderLock(dataDir);
    fs.rmSync(lockPath); // e.g. deleted by hand, then a new recorder started
    const holder = await startHolder(dataDir);
    lock.release();
    expect(readLockOwner(dataDir)).toEqual({
      owner: expect.objectContaining({ pid: holder.child.pid }) as LockOwner,
      alive: true,
    });
  });

  it('explains a data directory that cannot be created', () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    const err = catchError(() => acquireRecorderLock(path.join(dir, 'file', 'data')));
    expect(err).toBeInstanceOf(LockError);
    expect(err.message).toMatch(
      /^cannot lock .*recorder\.lock: .*check that the data directory is writable$/,
    );
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });

  it('explains a lock path that cannot be read', () => {
    fs.mkdirSync(lockPath, { recursive: true });
    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockError);
    expect(err.message).toMatch(/^cannot read .*recorder\.lock: EISDIR/);
  });
});

describe('stale locks', () => {
  it('takes over the lock of a killed recorder', async () => {
    const holder = await startHolder(dataDir);
    await stop(holder.child, 'SIGKILL');
    expect(readLockOwner(dataDir)).toEqual({
      owner: expect.objectContaining({ pid: holder.child.pid }) as LockOwner,
      alive: false,
    });
    const lock = acquireRecorderLock(dataDir);
    expect(readLockOwner(dataDir)).toEqual({ owner: lock.owner, alive: true });
    lock.release();
  });

  it('takes over when the pid now belongs to another process', () => {
    const self = ownerFor(process.pid, { startTicks: (startTicksOf(process.pid) ?? 0) + 1 });
    writeLock(self);
    expect(readLockOwner(dataDir)?.alive).toBe(false);
    expect(acquireRecorderLock(dataDir).owner.startTicks).toBe(startTicksOf(process.pid));
  });

  it('takes over from a process that exited but was not reaped', async () => {
    const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(parent);
    const zombie = Number(await firstLine(parent));
    await waitFor(() => statFields(zombie)?.[0] === 'Z');
    writeLock(ownerFor(zombie, { startTicks: startTicksOf(zombie) }));
    expect(acquireRecorderLock(dataDir).owner.pid).toBe(process.pid);
  });

  it.each([
    ['empty', ''],
    ['not JSON', 'pid=1234'],
    ['JSON null', 'null'],
    ['a string pid', '{"pid":"1234"}'],
    ['pid 0', JSON.stringify({ ...ownerFor(1), pid: 0 })],
    ['fractional start ticks', JSON.stringify({ ...ownerFor(1), startTicks: 1.5 })],
    ['no startedAt', JSON.stringify({ ...ownerFor(1), startedAt: 5 })],
    ['no hostname', JSON.stringify({ ...ownerFor(1), hostname: null })],
    ['no command', JSON.stringify({ ...ownerFor(1), command: [] })],
  ])('takes over a lock file that is %s', (_what, content) => {
    fs.mkdirSync(dataDir);
    fs.writeFileSync(lockPath, content);
    expect(readLockOwner(dataDir)).toBeNull();
    expect(acquireRecorderLock(dataDir).owner.pid).toBe(process.pid);
  });

  it('lets exactly one of several simultaneous contenders take over', async () => {
    const dead = await deadPid();
    writeLock(ownerFor(dead, { startTicks: 1 }));
    const startAt = Date.now() + 1500;
    const holders = await Promise.all(
      Array.from({ length: 6 }, () => startHolder(dataDir, startAt)),
    );
    const winners = holders.filter((h) => 'won' in h.result);
    expect(winners).toHaveLength(1);
    const winner = winners[0]?.child.pid;
    for (const h of holders) if (h.child.pid !== winner) expect(h.result).toEqual({ held: winner });
    expect(readLockOwner(dataDir)?.owner.pid).toBe(winner);
    expect(fs.readdirSync(dataDir)).toEqual([LOCK_FILE]); // no claims or temporary files left
  });
});

describe('liveness checks', () => {
  it('cannot judge a lock from another host and treats it as held', () => {
    writeLock({ ...ownerFor(process.pid), hostname: 'elsewhere.example' });
    expect(readLockOwner(dataDir)?.alive).toBe(true);
    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.message).toMatch(
      /^a recorder on host elsewhere\.example \(pid \d+, started .*\) holds .*recorder\.lock, which cannot be checked from here; stop it or use --data-dir, or delete the file/,
    );
  });

  it('reads start ticks after a command name containing spaces and parentheses', () => {
    const procRoot = path.join(dir, 'proc');
    fakeStat(procRoot, 4242, '4242 (a) b (c) S 1 ' + '0 '.repeat(17) + '777 0 0');
    writeLock(ownerFor(4242, { startTicks: 777 }));
    expect(readLockOwner(dataDir, { procRoot })?.alive).toBe(true);
    expect(() => acquireRecorderLock(dataDir, { procRoot })).toThrow(LockHeldError);
    writeLock(ownerFor(4242, { startTicks: 778 }));
    expect(readLockOwner(dataDir, { procRoot })?.alive).toBe(false);
  });

  it('treats a process whose stat is unreadable or unparseable as alive', () => {
    const procRoot = path.join(dir, 'proc');
    fs.mkdirSync(path.join(procRoot, '4242', 'stat'), { recursive: true });
    fakeStat(procRoot, 4343, '4343 (short) S 1');
    writeLock(ownerFor(4242, { startTicks: 5 }));
    expect(() => acquireRecorderLock(dataDir, { procRoot })).toThrow(LockHeldError);
    writeLock(ownerFor(4343, { startTicks: 5 }));
    expect(readLockOwner(dataDir, { procRoot })?.alive).toBe(true);
  });

  it('probes pids with signal 0 where there is no procfs', async () => {
    const procRoot = path.join(dir, 'no-proc');
    const lock = acquireRecorderLock(dataDir, { procRoot });
    expect(lock.owner.startTicks).toBeNull();
    expect(() => acquireRecorderLock(dataDir, { procRoot })).toThrow(LockHeldError);
    lock.release();

    writeLock(ownerFor(await deadPid(), { startTicks: null }));
    expect(readLockOwner(dataDir, { procRoot })?.alive).toBe(false);
    expect(acquireRecorderLock(dataDir, { procRoot }).owner.pid).toBe(process.pid);

    writeLock(ownerFor(1, { startTicks: null }));
    vi.spyOn(process, 'kill').mockImplementation(() => {
      throw errno('EPERM');
    });
    expect(readLockOwner(dataDir, { procRoot })?.alive).toBe(true); // another user's process
  });
});

describe('contention and unusual filesystems', () => {
  it('waits for a live contender taking over the same stale lock, then gives up', () => {
    const stale = `${JSON.stringify(ownerFor(999_999, { startTicks: 1 }))}\n`;
    writeRaw(stale);
    fs.writeFileSync(claimPath(stale, 1), JSON.stringify(ownerFor(process.pid)));
    const started = Date.now();
    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockError);
    expect(err.message).toMatch(
      /could not take over the stale lock .*other processes kept claiming it; retry/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(fs.readFileSync(lockPath, 'utf8')).toBe(stale);
  });

  it('claims past contenders that died mid-takeover, up to a limit', () => {
    const stale = `${JSON.stringify(ownerFor(999_999, { startTicks: 1 }))}\n`;
    writeRaw(stale);
    fs.writeFileSync(claimPath(stale, 1), JSON.stringify(ownerFor(999_998)));
    fs.writeFileSync(claimPath(stale, 2), 'garbage');
    const lock = acquireRecorderLock(dataDir);
    expect(fs.existsSync(claimPath(stale, 3))).toBe(false);
    lock.release();

    writeRaw(stale);
    for (let g = 3; g <= 8; g++) fs.writeFileSync(claimPath(stale, g), '');
    expect(() => acquireRecorderLock(dataDir)).toThrow(/could not take over the stale lock/);
  });

  it('retries when the lock or a claim disappears between two looks', () => {
    const link = fs.linkSync;
    const stale = `${JSON.stringify(ownerFor(999_999, { startTicks: 1 }))}\n`;
    const claim = claimPath(stale, 1);
    const vanished = new Set<string>();
    vi.spyOn(fs, 'linkSync').mockImplementation((from, to) => {
      // The first link to each target fails as if another process had just created and removed it.
      if (!vanished.has(String(to))) {
        vanished.add(String(to));
        throw errno('EEXIST');
      }
      link(from, to);
    });
    acquireRecorderLock(dataDir).release();
    expect(vanished).toEqual(new Set([lockPath]));

    writeRaw(stale);
    vanished.clear();
    vanished.add(lockPath);
    acquireRecorderLock(dataDir).release();
    expect(vanished).toEqual(new Set([lockPath, claim]));
  });

  it('never removes a lock that changed after it was judged stale', () => {
    const link = fs.linkSync;
    const stale = `${JSON.stringify(ownerFor(999_999, { startTicks: 1 }))}\n`;
    writeRaw(stale);
    vi.spyOn(fs, 'linkSync').mockImplementation((from, to) => {
      // Just before this process claims the stale lock, another recorder replaces it.
      if (to === claimPath(stale, 1)) writeLock(ownerFor(process.pid, { command: 'other' }));
      link(from, to);
    });
    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockHeldError);
    expect(readLockOwner(dataDir)?.owner.command).toBe('other');
  });

  it('works where hard links are unsupported', () => {
    const open = fs.openSync;
    vi.spyOn(fs, 'linkSync').mockImplementation(() => {
      throw errno('EPERM');
    });
    const lock = acquireRecorderLock(dataDir);
    expect(readLockOwner(dataDir)?.owner).toEqual(lock.owner);
    expect(() => acquireRecorderLock(dataDir)).toThrow(LockHeldError);
    lock.release();

    vi.spyOn(fs, 'openSync').mockImplementation((file, ...rest) => {
      if (file === lockPath) throw errno('EIO');
      return open(file, ...rest);
    });
    expect(() => acquireRecorderLock(dataDir)).toThrow(/^cannot lock .*EIO/);
  });

  it('reports other link failures', () => {
    vi.spyOn(fs, 'linkSync').mockImplementation(() => {
      throw errno('EIO');
    });
    const err = catchError(() => acquireRecorderLock(dataDir));
    expect(err).toBeInstanceOf(LockError);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EIO');
    expect(fs.readdirSync(dataDir)).toEqual([]); // the file written aside is cleaned up
  });
});

// ---------------------------------------------------------------------------------------------

function ownerFor(pid: number, extra: Partial<LockOwner> = {}): LockOwner {
  return {
    pid,
    startTicks: startTicksOf(pid),
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    command: 'kmpm daemon',
    ...extra,
  };
}

function writeLock(owner: LockOwner): void {
  writeRaw(`${JSON.stringify(owner)}\n`);
}

function writeRaw(text: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(lockPath, text);
}

function claimPath(staleText: string, generation: number): string {
  const id = createHash('sha256').update(staleText).digest('hex').slice(0, 16);
  return `${lockPath}.${id}.takeover.${generation}`;
}

function statFields(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function startTicksOf(pid: number): number | null {
  const ticks = statFields(pid)?.[19];
  return ticks === undefined ? null : Number(ticks);
}

function fakeStat(procRoot: string, pid: number, content: string): void {
  fs.mkdirSync(path.join(procRoot, String(pid)), { recursive: true });
  fs.writeFileSync(path.join(procRoot, String(pid), 'stat'), content);
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

type HolderResult = { won: LockOwner } | { held: number | string };

/**
 * A separate node process running the real lock module: it reports whether it got the lock,
 * holds it until SIGTERM (then releases) or SIGKILL, and exits at once if it did not.
 */
async function startHolder(
  data: string,
  startAt = 0,
): Promise<{ child: ChildProcess; result: HolderResult }> {
  const child = spawn(process.execPath, [holderScript(), data, String(startAt)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return { child, result: JSON.parse(await firstLine(child)) as HolderResult };
}

function holderScript(): string {
  const out = path.join(dir, 'lock-js');
  const script = path.join(out, 'holder.mjs');
  if (fs.existsSync(script)) return script;
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  const source = fs.readFileSync(fileURLToPath(new URL('./lock.ts', import.meta.url)), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  fs.writeFileSync(path.join(out, 'lock.js'), outputText);
  fs.writeFileSync(
    script,
    `import { acquireRecorderLock, LockHeldError } from './lock.js';
     const [dataDir, startAt] = process.argv.slice(2);
     while (Date.now() < Number(startAt));
     try {
       const lock = acquireRecorderLock(dataDir);
       process.on('SIGTERM', () => { lock.release(); process.exit(0); });
       setInterval(() => {}, 1000);
       console.log(JSON.stringify({ won: lock.owner }));
     } catch (err) {
       console.log(JSON.stringify({ held: err instanceof LockHeldError ? err.owner.pid : String(err) }));
     }`,
  );
  return script;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
