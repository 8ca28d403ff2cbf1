import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The single-writer lock: one recorder per data directory. The lock file names its owner by
 * pid and by the kernel's start time of that pid, so a pid reused after a crash is not
 * mistaken for the owner.
 */

export const LOCK_FILE = 'recorder.lock';

export interface LockOwner {
  pid: number;
  /** Field 22 (starttime, clock ticks after boot) of /proc/PID/stat; null where there is no procfs. */
  startTicks: number | null;
  /** ISO-8601. */
  startedAt: string;
  hostname: string;
  command: string;
  /**
   * How the recorder writes its samples, for readers that want the ones it holds in memory:
   * send it `signal` and they are written (see samples-fresh.ts). Absent in locks of
   * recorders that write each sample at once or cannot be asked (then never signal them).
   */
  flush?: FlushInfo;
}

/** What a recorder that holds samples in memory listens to (Recorder.flush on receipt). */
export const FLUSH_SIGNAL = 'SIGUSR2';

export interface FlushInfo {
  signal: typeof FLUSH_SIGNAL;
  intervalMs: number;
  flushMs: number;
}

export interface LockOptions {
  procRoot?: string;
  clock?: () => number;
  /** Written into the lock for readers (LockOwner.flush). */
  flush?: FlushInfo;
}

export interface RecorderLock {
  readonly owner: LockOwner;
  readonly path: string;
  /** Removes the lock file if it is still this lock's; safe to call more than once. */
  release(): void;
}

export class LockError extends Error {
  override readonly name: string = 'LockError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class LockHeldError extends LockError {
  override readonly name = 'LockHeldError';

  constructor(
    readonly owner: LockOwner,
    readonly dataDir: string,
    readonly lockPath: string,
  ) {
    const who = `pid ${owner.pid}, started ${owner.startedAt}`;
    super(
      owner.hostname === os.hostname()
        ? `another recorder (${who}) is recording into ${dataDir}; stop it or use --data-dir`
        : `a recorder on host ${owner.hostname} (${who}) holds ${lockPath}, which cannot be checked from here; ` +
            'stop it or use --data-dir, or delete the file if that recorder is gone',
    );
  }
}

type Liveness = 'alive' | 'dead' | 'unknown';

const ATTEMPTS = 50;
const RETRY_MS = 10;
/** Successive claims on one stale lock, each allowed only once the previous claimant died. */
const CLAIM_GENERATIONS = 8;
/** Errors meaning "no such process" when reading /proc/PID/stat. */
const NO_PROCESS = new Set(['ENOENT', 'ESRCH', 'ENOTDIR']);
/** Errors of filesystems without hard links. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Takes the lock or throws LockHeldError naming the live owner; stale locks are taken over. */
export function acquireRecorderLock(dataDir: string, opts: LockOptions = {}): RecorderLock {
  const procRoot = opts.procRoot ?? '/proc';
  const clock = opts.clock ?? Date.now;
  const lockPath = path.join(dataDir, LOCK_FILE);
  const owner = currentOwner(procRoot, clock, opts.flush);
  const text = `${JSON.stringify(owner)}\n`;
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (createExclusive(lockPath, text)) return handle(lockPath, owner, text);
      const seen = readIfExists(lockPath);
      if (seen === undefined) continue; // released in between: try again
      const held = parseOwner(seen);
      if (held !== undefined && liveness(held, procRoot) !== 'dead') {
        throw new LockHeldError(held, dataDir, lockPath);
      }
      if (!removeStale(lockPath, seen, text, procRoot)) sleep(RETRY_MS);
    }
  } catch (err) {
    if (err instanceof LockError) throw err;
    throw new LockError(
      `cannot lock ${lockPath}: ${(err as Error).message}; check that the data directory is writable`,
      { cause: err },
    );
  }
  throw new LockError(
    `could not take over the stale lock ${lockPath}: other processes kept claiming it; retry, ` +
      `and if this persists while no kmpm is running, delete ${lockPath} and its .takeover files`,
  );
}

/** The lock's owner and whether it is still running (a lock from another host counts as running). */
export function readLockOwner(
  dataDir: string,
  opts: Pick<LockOptions, 'procRoot'> = {},
): { owner: LockOwner; alive: boolean } | null {
  const text = readIfExists(path.join(dataDir, LOCK_FILE));
  const owner = text === undefined ? undefined : parseOwner(text);
  if (owner === undefined) return null;
  return { owner, alive: liveness(owner, opts.procRoot ?? '/proc') !== 'dead' };
}

function handle(lockPath: string, owner: LockOwner, text: string): RecorderLock {
  let held = true;
  return {
    owner,
    path: lockPath,
    release() {
      if (!held) return;
      held = false;
      // If the file was deleted and another recorder took the lock since, it is not ours to remove.
      if (readIfExists(lockPath) === text) fs.rmSync(lockPath, { force: true });
    },
  };
}

/**
 * Removes the stale lock whose content is `stale`. Contenders first claim that particular
 * lock with an exclusive file, and the claimant removes it only if it still has that content,
 * so two contenders can never remove each other's fresh lock. Returns false while another
 * live process holds the claim.
 */
function removeStale(lockPath: string, stale: string, self: string, procRoot: string): boolean {
  const id = createHash('sha256').update(stale).digest('hex').slice(0, 16);
  for (let generation = 1; generation <= CLAIM_GENERATIONS; generation++) {
    const claim = `${lockPath}.${id}.takeover.${generation}`;
    if (createExclusive(claim, self)) {
      try {
        if (readIfExists(lockPath) === stale) fs.rmSync(lockPath, { force: true });
      } finally {
        fs.rmSync(claim, { force: true });
      }
      return true;
    }
    const claimant = readIfExists(claim);
    if (claimant === undefined) return true; // that claim just finished: look at the lock again
    const owner = parseOwner(claimant);
    if (owner !== undefined && liveness(owner, procRoot) !== 'dead') return false;
    // The claimant died mid-takeover; the next generation may claim.
  }
  return false;
}

/**
 * Creates `target` with `text` only if it does not exist. The file is written aside and
 * hard-linked into place, so it never exists half-written: an unparseable lock is junk,
 * not a contender between open and write.
 */
function createExclusive(target: string, text: string): boolean {
  const aside = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(aside, text, { flag: 'wx' });
  try {
    fs.linkSync(aside, target);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    if (!NO_LINKS.has(errorCode(err))) throw err;
    return createWithOpen(target, text);
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** Fallback where hard links are unsupported: atomic, but visible empty until written. */
function createWithOpen(target: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(target, 'wx');
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * The lock's owner when it is certainly running: this host, and the pid's start time in
 * /proc matches the lock's (a reused pid is another program, never to be signalled).
 */
export function verifiedLockOwner(dataDir: string, procRoot = '/proc'): LockOwner | null {
  const text = readIfExists(path.join(dataDir, LOCK_FILE));
  const owner = text === undefined ? undefined : parseOwner(text);
  if (owner === undefined || owner.hostname !== os.hostname() || owner.startTicks === null) {
    return null;
  }
  const stat = readProcStat(procRoot, owner.pid);
  const running = stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
  return running && stat.startTicks === owner.startTicks ? owner : null;
}

function liveness(owner: LockOwner, procRoot: string): Liveness {
  if (owner.hostname !== os.hostname()) return 'unknown';
  const stat = readProcStat(procRoot, owner.pid);
  if (stat === undefined) return fs.existsSync(procRoot) ? 'dead' : signalProbe(owner.pid);
  if (stat.state === 'Z' || stat.state === 'X') return 'dead'; // exited, not yet reaped
  const reused =
    owner.startTicks !== null && stat.startTicks !== null && stat.startTicks !== owner.startTicks;
  return reused ? 'dead' : 'alive';
}

/** Where there is no procfs: signal 0 only tests that the pid exists. */
function signalProbe(pid: number): Liveness {
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (err) {
    return errorCode(err) === 'ESRCH' ? 'dead' : 'alive'; // EPERM: exists, another user's
  }
}

/** State and starttime from /proc/PID/stat, or undefined when there is no such process. */
function readProcStat(
  procRoot: string,
  pid: number,
): { state: string; startTicks: number | null } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
  } catch (err) {
    if (NO_PROCESS.has(errorCode(err))) return undefined;
    return { state: '', startTicks: null }; // exists but unreadable (e.g. hidepid=1)
  }
  // comm (field 2) may contain spaces and parentheses; the fields after it do not.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  // split() always yields at least one element.
  return { state: String(fields[0]), startTicks: Number.isSafeInteger(ticks) ? ticks : null };
}

function currentOwner(procRoot: string, clock: () => number, flush?: FlushInfo): LockOwner {
  return {
    pid: process.pid,
    startTicks: readProcStat(procRoot, process.pid)?.startTicks ?? null,
    startedAt: new Date(clock()).toISOString(),
    hostname: os.hostname(),
    command: process.argv.slice(1).join(' ').slice(0, 300),
    ...(flush === undefined ? {} : { flush }),
  };
}

function parseOwner(text: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTicks, startedAt, hostname, command, flush } = value as Record<string, unknown>;
  const valid =
    typeof pid === 'number' &&
    Number.isSafeInteger(pid) &&
    pid > 0 &&
    (startTicks === null || Number.isSafeInteger(startTicks)) &&
    typeof startedAt === 'string' &&
    typeof hostname === 'string' &&
    typeof command === 'string';
  if (!valid) return undefined;
  const owner: LockOwner = {
    pid,
    startTicks: startTicks as number | null,
    startedAt,
    hostname,
    command,
  };
  const info = parseFlush(flush);
  return info === undefined ? owner : { ...owner, flush: info };
}

/** Only a complete, known flush description is taken (else readers never signal). */
function parseFlush(value: unknown): FlushInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { signal, intervalMs, flushMs } = value as Record<string, unknown>;
  const ms = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  return signal === FLUSH_SIGNAL && ms(intervalMs) && ms(flushMs)
    ? { signal, intervalMs, flushMs }
    : undefined;
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new LockError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function errorCode(err: unknown): string {
  return String((err as { code?: unknown } | null)?.code);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
