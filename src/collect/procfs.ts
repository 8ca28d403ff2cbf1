import { closeSync, constants, openSync, readdirSync, readSync, statSync } from 'node:fs';

/** A read of a /proc or /sys file failed for a reason other than the file being gone. */
export class ProcFsError extends Error {
  constructor(
    message: string,
    readonly path: string,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ProcFsError';
  }
}

/**
 * Errors that mean "this file or process is not there for us": it never existed or has
 * exited (ENOENT, and ESRCH from an fd kept on a process that exited) or belongs to another
 * user (EACCES, EPERM). Everything else is a real failure.
 */
const GONE_CODES = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM']);

export function isGoneError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code !== undefined && GONE_CODES.has(code);
}

const INITIAL_BUFFER_BYTES = 16 * 1024;
export const DEFAULT_MAX_KEPT_FDS = 4096;

export interface ProcFsOptions {
  /** Above this many kept fds, reads fall back to open/read/close. */
  maxKeptFds?: number;
}

/**
 * Reads /proc (or a recorded copy of it) into one reused buffer. Reads are synchronous on
 * purpose: /proc files are generated in memory, and the promise machinery costs far more
 * than the read (see REFERENCE.md). Paths are relative to the root, e.g. `123/stat`.
 *
 * The buffer is shared by every read; a caller must finish with `buffer` before the next
 * read, which may also replace it with a larger one.
 */
export class ProcFs {
  readonly root: string;
  readonly maxKeptFds: number;
  private buf = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private readonly kept = new Map<string, number>();

  constructor(procRoot = '/proc', options: ProcFsOptions = {}) {
    this.root = procRoot;
    this.maxKeptFds = options.maxKeptFds ?? DEFAULT_MAX_KEPT_FDS;
  }

  get buffer(): Buffer {
    return this.buf;
  }

  get keptCount(): number {
    return this.kept.size;
  }

  path(rel: string): string {
    return `${this.root}/${rel}`;
  }

  /** Whole file as a string, or null when it is gone or unreadable. */
  read(rel: string, encoding: 'latin1' | 'utf8' = 'latin1'): string | null {
    const len = this.readBytes(rel, true, false);
    return len === null ? null : this.buf.toString(encoding, 0, len);
  }

  /**
   * Like read, but keeps the file open and re-reads it at position 0 next time, which
   * /proc answers with fresh content. For multi-record files (stat, meminfo, net/dev...).
   */
  readKept(rel: string): string | null {
    const len = this.readBytes(rel, true, true);
    return len === null ? null : this.buf.toString('latin1', 0, len);
  }

  /**
   * Like readKept, for files the kernel generates whole on every read, those it serves
   * with single_open (stat, meminfo, loadavg, pressure/*, net/snmp, unlike the line-by-line
   * diskstats, net/dev and vmstat): a read shorter than the buffer is the end of the file,
   * so the usual extra read that returns 0 bytes is skipped.
   */
  readKeptWhole(rel: string): string | null {
    const len = this.readBytes(rel, false, true);
    return len === null ? null : this.buf.toString('latin1', 0, len);
  }

  /**
   * Hot path for single-record files (/proc/PID/stat, /proc/PID/io): one kept-fd read into
   * `buffer`, returning the byte count. The kernel generates such a file whole, so a read
   * shorter than the buffer is the end of it and the usual extra read that returns 0 bytes
   * is skipped.
   */
  readKeptRecord(rel: string): number | null {
    return this.readBytes(rel, false, true);
  }

  /** Like readKeptRecord without keeping the fd: for one-off reads of a process. */
  readRecord(rel: string): number | null {
    return this.readBytes(rel, false, false);
  }

  /** At most the first `maxBytes` of a file, for long files whose head is enough. */
  readHead(rel: string, maxBytes: number): string | null {
    const fd = this.guard(rel, () => openSync(this.path(rel), constants.O_RDONLY));
    if (fd === null) return null;
    try {
      if (this.buf.length < maxBytes) this.buf = Buffer.allocUnsafe(maxBytes);
      const len = this.guard(rel, () => readSync(fd, this.buf, 0, maxBytes, 0));
      return len === null ? null : this.buf.toString('latin1', 0, len);
    } finally {
      closeSync(fd);
    }
  }

  /** Number of entries in a directory (e.g. `PID/fd`), or null when it is gone. */
  countEntries(rel: string): number | null {
    return this.guard(rel, () => readdirSync(this.path(rel)).length);
  }

  /** Closes the kept fd for rel, if any. */
  release(rel: string): void {
    const fd = this.kept.get(rel);
    if (fd === undefined) return;
    this.kept.delete(rel);
    closeSync(fd);
  }

  close(): void {
    for (const fd of this.kept.values()) closeSync(fd);
    this.kept.clear();
  }

  /** The numeric entries of the root (live PIDs), in the order the kernel lists them. */
  listPids(): number[] {
    const pids: number[] = [];
    const names = readdirSync(this.root);
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const first = name.charCodeAt(0);
      if (first >= 0x30 && first <= 0x39) pids.push(Number(name));
    }
    return pids;
  }

  /** Owner of `/proc/PID`: the process's effective uid. Null when the process is gone. */
  ownerUid(pid: number): number | null {
    const rel = String(pid);
    return this.guard(rel, () => statSync(this.path(rel)).uid);
  }

  // No closures here (see guard): this runs for every process on every tick.
  private readBytes(rel: string, untilEof: boolean, keep: boolean): number | null {
    const keptFd = this.kept.get(rel);
    if (keptFd !== undefined) {
      try {
        return this.fill(keptFd, untilEof);
      } catch (err) {
        this.unlessGone(rel, err);
      }
      // The process behind the fd exited (ESRCH). Open the path afresh below: it is gone
      // (ENOENT) or now belongs to a new process that reused the PID.
      this.release(rel);
    }
    let fd: number;
    try {
      fd = openSync(this.path(rel), constants.O_RDONLY);
    } catch (err) {
      this.unlessGone(rel, err);
      return null;
    }
    const canKeep = keep && this.kept.size < this.maxKeptFds;
    let len: number | null = null;
    try {
      len = this.fill(fd, untilEof);
    } catch (err) {
      this.unlessGone(rel, err);
    } finally {
      if (len !== null && canKeep) this.kept.set(rel, fd);
      else closeSync(fd);
    }
    return len;
  }

  /** Reads from position 0 into the buffer, growing it when the content fills it. */
  private fill(fd: number, untilEof: boolean): number {
    let total = 0;
    for (;;) {
      if (total === this.buf.length) this.grow();
      const want = this.buf.length - total;
      const n = readSync(fd, this.buf, total, want, total);
      total += n;
      if (n === 0 || (!untilEof && n < want)) return total;
    }
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(bigger);
    this.buf = bigger;
  }

  private guard<T>(rel: string, read: () => T): T | null {
    try {
      return read();
    } catch (err) {
      this.unlessGone(rel, err);
      return null;
    }
  }

  /** Returns when err means the file is gone or not ours (see isGoneError); throws otherwise. */
  private unlessGone(rel: string, err: unknown): void {
    if (isGoneError(err)) return;
    throw new ProcFsError(`cannot read ${this.path(rel)}`, this.path(rel), { cause: err });
  }
}
