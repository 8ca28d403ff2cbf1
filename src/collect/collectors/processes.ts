import type { ProcessCounters, Snapshot } from '../../types.js';
import type { CollectContext, Collector } from '../collector.js';
import {
  parseCmdline,
  parsePidIo,
  parsePidStat,
  toProcessCounters,
  type PidIo,
  type PidStat,
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
  cmdline: string;
  uid: number;
  /** Last io read; carried forward between io ticks, null when unreadable. */
  io: PidIo | null;
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
      for (const pid of pids) this.visit(pid, pass, readIo, out);
      for (const entry of this.tracked.values()) {
        if (entry.seenPass !== pass) this.forget(entry);
      }
    } else {
      // Deleting the current key while iterating a Map is safe; visit never adds keys here.
      for (const pid of this.tracked.keys()) this.visit(pid, pass, readIo, out);
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
    const stat = len === null ? null : parsePidStat(this.procfs.buffer, len);
    if (stat === null) {
      if (entry !== undefined) this.forget(entry);
      else this.procfs.release(statRel);
      return;
    }
    let fresh = false;
    if (entry === undefined || entry.startTicks !== stat.startTicks) {
      // A different start time on the same PID is a new process (PID reuse).
      if (entry !== undefined) this.procfs.release(entry.ioRel);
      const admitted = this.admit(stat, statRel);
      if (admitted === null) {
        if (entry !== undefined) this.tracked.delete(pid);
        this.procfs.release(statRel);
        return;
      }
      entry = admitted;
      this.tracked.set(pid, entry);
      fresh = true;
    } else if (entry.comm !== stat.comm && !this.reidentify(entry, stat.comm)) {
      this.forget(entry);
      return;
    }
    entry.seenPass = pass;
    if (readIo || fresh) this.readIo(entry);
    out.push(toProcessCounters(stat, entry, entry.io));
  }

  /** First sight of a process: owner and cmdline. Null when it exited meanwhile. */
  private admit(stat: PidStat, statRel: string): Tracked | null {
    const uid = this.procfs.ownerUid(stat.pid);
    const cmdline = this.readCmdline(stat.pid);
    if (uid === null || cmdline === null) return null;
    return {
      pid: stat.pid,
      startTicks: stat.startTicks,
      statRel,
      ioRel: `${stat.pid}/io`,
      comm: stat.comm,
      cmdline,
      uid,
      io: null,
      seenPass: 0,
    };
  }

  /**
   * comm changed, so the process exec'd another program (a forked child is first seen still
   * running its parent's): re-read cmdline, and the owner, which a setuid program changes.
   */
  private reidentify(entry: Tracked, comm: string): boolean {
    const uid = this.procfs.ownerUid(entry.pid);
    const cmdline = this.readCmdline(entry.pid);
    if (uid === null || cmdline === null) return false;
    entry.comm = comm;
    entry.uid = uid;
    entry.cmdline = cmdline;
    return true;
  }

  private readCmdline(pid: number): string | null {
    const text = this.procfs.read(`${pid}/cmdline`, 'utf8');
    return text === null ? null : parseCmdline(text);
  }

  /** Other users' io is unreadable (and /proc/1/io even for root in some sandboxes): null. */
  private readIo(entry: Tracked): void {
    const len = this.procfs.readKeptRecord(entry.ioRel);
    entry.io = len === null ? null : parsePidIo(this.procfs.buffer.toString('latin1', 0, len));
  }

  private forget(entry: Tracked): void {
    this.tracked.delete(entry.pid);
    this.procfs.release(entry.statRel);
    this.procfs.release(entry.ioRel);
  }
}
