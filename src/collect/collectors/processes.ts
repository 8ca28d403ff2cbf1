import type { ProcessCounters, Snapshot } from '../../types.js';
import type { CollectContext, Collector } from '../collector.js';
import {
  newPidStatScan,
  parseCmdline,
  parsePidIoBytes,
  PF_KTHREAD,
  scanPidStat,
  type PidIo,
  type PidStatScan,
} from '../parse/process.js';
import type { ProcFs } from '../procfs.js';

export const DEFAULT_IO_EVERY = 10;

export interface ProcessesOptions {
  /** Read /proc/PID/io on every Nth tick (and when a process is first seen). */
  ioEvery?: number;
}

/** What we remember about one live process between ticks. */
interface Tracked {
  pid: number;
  startTicks: number;
  statRel: string;
  ioRel: string;
  comm: string;
  /** comm as the kernel wrote it: compared each tick, decoded only when it changed. */
  commBytes: Buffer;
  cmdline: string;
  uid: number;
  /** Last io read; carried forward between io ticks, null when unreadable. */
  io: PidIo | null;
  /** The record last reported; reported again, not rebuilt, while nothing in it changed. */
  last: ProcessCounters | null;
  /** The pass that last saw it; a listing pass forgets entries it did not see. */
  seenPass: number;
}

/**
 * Every live process from /proc/PID/{stat,io,cmdline}, kernel threads included.
 *
 * This is the costly collector, so it does the least work that keeps the data exact
 * (figures in REFERENCE.md): each /proc/PID/stat stays open and is re-read at position 0;
 * /proc is listed only when the kernel's fork counter moved, because no new process can
 * appear otherwise, while exits show up as failed reads of the kept fds; cmdline and owner
 * are read once per process (again when exec changes its comm); io every `ioEvery` ticks.
 * The stat collector must run first: it provides `snapshot.system.forks`.
 *
 * Steady state allocates next to nothing per process: stat is scanned in place, comm is
 * decoded only when its bytes change, and a process whose counters did not change is
 * reported with the same (never mutated) record as on the previous tick.
 *
 * A process is (pid, start_ticks): when a PID's stat shows another start time, the PID was
 * reused and the new process is treated as new. Processes that exit while being read are
 * dropped without an error.
 */
export class ProcessesCollector implements Collector {
  readonly name = 'processes';
  readonly ioEvery: number;
  private readonly tracked = new Map<number, Tracked>();
  private forksAtListing: number | null = null;
  private pass = 0;
  private listingCount = 0;
  private readonly scan = newPidStatScan();

  constructor(
    private readonly procfs: ProcFs,
    options: ProcessesOptions = {},
  ) {
    const ioEvery = options.ioEvery ?? DEFAULT_IO_EVERY;
    if (!Number.isInteger(ioEvery) || ioEvery < 1) {
      throw new RangeError(`ioEvery must be a whole number of ticks >= 1, got ${ioEvery}`);
    }
    this.ioEvery = ioEvery;
  }

  /** How many times /proc was listed (the other ticks reused the known PIDs). */
  get listings(): number {
    return this.listingCount;
  }

  /** Number of processes followed from the previous tick. */
  get trackedCount(): number {
    return this.tracked.size;
  }

  collect(snapshot: Snapshot, ctx: CollectContext): void {
    const pass = ++this.pass;
    const forks = snapshot.system.forks;
    const readIo = ctx.tick % this.ioEvery === 0;
    const out: ProcessCounters[] = [];
    if (this.listingCount === 0 || forks === null || forks !== this.forksAtListing) {
      const pids = this.procfs.listPids();
      this.listingCount++;
      this.forksAtListing = forks;
      for (let i = 0; i < pids.length; i++) this.visit(pids[i]!, pass, readIo, out);
      this.tracked.forEach((entry) => {
        if (entry.seenPass !== pass) this.forget(entry);
      });
    } else {
      // Deleting the current key while iterating a Map is safe; visit never adds keys here.
      // (forEach and indexed loops: at 1 Hz this code runs unoptimized, where every step
      // of a for-of loop allocates an iterator result.)
      this.tracked.forEach((_entry, pid) => this.visit(pid, pass, readIo, out));
    }
    snapshot.processes = out;
  }

  close(): void {
    for (const entry of this.tracked.values()) this.forget(entry);
  }

  private visit(pid: number, pass: number, readIo: boolean, out: ProcessCounters[]): void {
    let entry = this.tracked.get(pid);
    const statRel = entry?.statRel ?? `${pid}/stat`;
    const len = this.procfs.readKeptRecord(statRel);
    const buf = this.procfs.buffer;
    const stat = this.scan;
    if (len === null || !scanPidStat(buf, len, stat)) {
      if (entry !== undefined) this.forget(entry);
      else this.procfs.release(statRel);
      return;
    }
    // Reading cmdline, owner or io below reuses the buffer: comm is copied out first.
    let fresh = false;
    if (entry === undefined || entry.startTicks !== stat.startTicks) {
      // A different start time on the same PID is a new process (PID reuse).
      if (entry !== undefined) this.procfs.release(entry.ioRel);
      const admitted = this.admit(stat, buf, statRel);
      if (admitted === null) {
        if (entry !== undefined) this.tracked.delete(pid);
        this.procfs.release(statRel);
        return;
      }
      entry = admitted;
      this.tracked.set(pid, entry);
      fresh = true;
    } else if (!sameBytes(buf, stat.commStart, stat.commEnd, entry.commBytes)) {
      if (!this.reidentify(entry, stat, buf)) {
        this.forget(entry);
        return;
      }
    }
    entry.seenPass = pass;
    if (readIo || fresh) this.readIo(entry);
    const last = entry.last;
    if (
      last !== null &&
      last.ppid === stat.ppid &&
      last.utime === stat.utime &&
      last.stime === stat.stime &&
      last.rss_pages === stat.rssPages &&
      last.threads === stat.threads &&
      last.state.charCodeAt(0) === stat.stateCode
    ) {
      out.push(last);
      return;
    }
    const counters: ProcessCounters = {
      pid: stat.pid,
      start_ticks: stat.startTicks,
      ppid: stat.ppid,
      uid: entry.uid,
      comm: entry.comm,
      cmdline: entry.cmdline,
      // One-character strings come from V8's single-character cache: no allocation.
      state: String.fromCharCode(stat.stateCode),
      utime: stat.utime,
      stime: stat.stime,
      rss_pages: stat.rssPages,
      threads: stat.threads,
      read_bytes: entry.io?.read_bytes ?? null,
      write_bytes: entry.io?.write_bytes ?? null,
    };
    entry.last = counters;
    out.push(counters);
  }

  /** First sight of a process: owner and cmdline. Null when it exited meanwhile. */
  private admit(stat: PidStatScan, buf: Buffer, statRel: string): Tracked | null {
    const pid = stat.pid;
    const startTicks = stat.startTicks;
    const commBytes = Buffer.from(buf.subarray(stat.commStart, stat.commEnd));
    const uid = this.procfs.ownerUid(pid);
    const cmdline = this.readCmdline(pid);
    if (uid === null || cmdline === null) return null;
    return {
      pid,
      startTicks,
      statRel,
      ioRel: `${pid}/io`,
      comm: commBytes.toString('utf8'),
      commBytes,
      cmdline,
      uid,
      io: null,
      last: null,
      seenPass: 0,
    };
  }

  /**
   * comm changed, so the process exec'd another program (a forked child is first seen still
   * running its parent's): re-read cmdline, and the owner, which a setuid program changes.
   * A kernel thread cannot exec; it renames itself (kworkers name the work they run), so
   * only its comm changes.
   */
  private reidentify(entry: Tracked, stat: PidStatScan, buf: Buffer): boolean {
    const commBytes = Buffer.from(buf.subarray(stat.commStart, stat.commEnd));
    if ((stat.flags & PF_KTHREAD) === 0) {
      const uid = this.procfs.ownerUid(entry.pid);
      const cmdline = this.readCmdline(entry.pid);
      if (uid === null || cmdline === null) return false;
      entry.uid = uid;
      entry.cmdline = cmdline;
    }
    entry.comm = commBytes.toString('utf8');
    entry.commBytes = commBytes;
    entry.last = null;
    return true;
  }

  private readCmdline(pid: number): string | null {
    const text = this.procfs.read(`${pid}/cmdline`, 'utf8');
    return text === null ? null : parseCmdline(text);
  }

  /** Other users' io is unreadable (and /proc/1/io even for root in some sandboxes): null. */
  private readIo(entry: Tracked): void {
    const len = this.procfs.readKeptRecord(entry.ioRel);
    const io = len === null ? null : parsePidIoBytes(this.procfs.buffer, len, entry.io);
    if (io !== entry.io) {
      entry.io = io;
      entry.last = null;
    }
  }

  private forget(entry: Tracked): void {
    this.tracked.delete(entry.pid);
    this.procfs.release(entry.statRel);
    this.procfs.release(entry.ioRel);
  }
}

/** buf[start, end) holds the same bytes as `bytes`. */
function sameBytes(buf: Buffer, start: number, end: number, bytes: Buffer): boolean {
  return end - start === bytes.length && buf.compare(bytes, 0, bytes.length, start, end) === 0;
}
