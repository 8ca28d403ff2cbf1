import {
  parseChildren,
  parseStat,
  parseVmHwmBytes,
  readProcDir,
  readProcText,
  readStat,
} from './proc.js';
import type { ProcStat } from './proc.js';

/**
 * How descendants are found: the kernel's per-thread children lists (cheap, needs
 * CONFIG_PROC_CHILDREN), or one scan of every /proc/PID/stat per poll following ppid links.
 */
export type Discovery = 'children' | 'scan';

export interface TreeSamplerOptions {
  procRoot: string;
  pageSize: number;
  discovery: Discovery;
  /** This process: its other children are watched to detect shared cutime/cstime. */
  selfPid: number;
}

interface Tracked {
  startTicks: number;
  /** utime + stime + cutime + cstime at the last sighting. */
  ticks: number;
  /** Its parent was outside the tree at the last sighting, so no tree member will reap it. */
  orphan: boolean;
}

type ChildLookup = (pid: number) => number[];

/**
 * Samples the live process tree of one command: CPU ticks, summed RSS and VmHWM. Processes
 * are identified by (pid, start ticks) so a reused PID never merges two processes, and
 * descendants stay tracked after being reparented away from the tree (daemonized or
 * orphaned), since the command's own waits will never account for them.
 */
export class TreeSampler {
  /** max(summed RSS of one poll, VmHWM of any single process), in bytes. */
  peakRssBytes = 0;
  /** CPU ticks of the tree at the last poll that still saw the root process. */
  lastTicksWithRoot = 0;
  /** CPU ticks at the latest poll; after the root is reaped this counts only what it never waited for. */
  ticks = 0;
  /** Another child of this process disappeared (was reaped) while the command ran. */
  otherChildReaped = false;
  /** Processes of the tree alive at the latest poll. */
  processes = 0;

  private root: number | null = null;
  private rootSeen = false;
  private readonly tracked = new Map<number, Tracked>();
  private readonly selfChildren = new Map<number, number>();
  private deadOrphanTicks = 0;

  constructor(private readonly opts: TreeSamplerOptions) {}

  /** Records this process's existing children; call before spawning the command. */
  noteSelfChildren(): void {
    const lookup = this.lookup();
    this.watchSelfChildren(lookup);
  }

  /** Starts following the command's process; polls before this see nothing. */
  setRoot(pid: number): void {
    this.root = pid;
  }

  poll(): void {
    if (this.root === null) return;
    const alive = new Map<number, ProcStat>();
    const vanished: number[] = [];
    for (const [pid, known] of this.tracked) {
      const stat = readStat(this.opts.procRoot, pid);
      if (stat !== null && stat.startTicks === known.startTicks) alive.set(pid, stat);
      else vanished.push(pid);
    }
    if (!this.rootSeen) {
      this.rootSeen = true;
      const stat = readStat(this.opts.procRoot, this.root);
      if (stat !== null) alive.set(this.root, stat);
    }

    const lookup = this.lookup();
    this.discover(alive, lookup);
    this.watchSelfChildren(lookup);

    for (const pid of vanished) {
      const known = this.tracked.get(pid);
      // Whoever reaped an orphan is outside the tree, so its last sighting is all that remains.
      if (known?.orphan === true) this.deadOrphanTicks += known.ticks;
      this.tracked.delete(pid);
    }

    let ticks = this.deadOrphanTicks;
    let rssBytes = 0;
    for (const [pid, stat] of alive) {
      const total = stat.utime + stat.stime + stat.cutime + stat.cstime;
      ticks += total;
      rssBytes += stat.rssPages * this.opts.pageSize;
      const orphan = pid !== this.root && !alive.has(stat.ppid);
      this.tracked.set(pid, { startTicks: stat.startTicks, ticks: total, orphan });
      this.notePeak(this.readHwm(pid));
    }
    this.notePeak(rssBytes);
    this.ticks = ticks;
    this.processes = alive.size;
    if (alive.has(this.root)) this.lastTicksWithRoot = ticks;
  }

  /** Adds every not yet known descendant of the alive processes, level by level. */
  private discover(alive: Map<number, ProcStat>, lookup: ChildLookup): void {
    let frontier = [...alive.keys()];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const parent of frontier) {
        for (const pid of lookup(parent)) {
          if (alive.has(pid)) continue;
          const stat = readStat(this.opts.procRoot, pid);
          // The ppid check drops a stale children entry racing with a reparent.
          if (stat === null || stat.ppid !== parent) continue;
          alive.set(pid, stat);
          next.push(pid);
        }
      }
      frontier = next;
    }
  }

  /**
   * cutime/cstime of this process grow when it reaps any child, not only the command.
   * A child of ours seen earlier and gone now was reaped during the run.
   */
  private watchSelfChildren(lookup: ChildLookup): void {
    const current = new Map<number, number>();
    for (const pid of lookup(this.opts.selfPid)) {
      if (pid === this.root) continue;
      const stat = readStat(this.opts.procRoot, pid);
      if (stat !== null) current.set(pid, stat.startTicks);
    }
    for (const [pid, start] of this.selfChildren) {
      if (current.get(pid) !== start) this.otherChildReaped = true;
    }
    this.selfChildren.clear();
    for (const [pid, start] of current) this.selfChildren.set(pid, start);
  }

  private readHwm(pid: number): number {
    // A process gone since its stat was read simply has no peak to add.
    return parseVmHwmBytes(readProcText(`${this.opts.procRoot}/${pid}/status`) ?? '') ?? 0;
  }

  private notePeak(bytes: number): void {
    if (bytes > this.peakRssBytes) this.peakRssBytes = bytes;
  }

  private lookup(): ChildLookup {
    const { procRoot } = this.opts;
    if (this.opts.discovery === 'children') {
      // A child belongs to the thread that forked it, so every thread's list is read.
      return (pid) =>
        readProcDir(`${procRoot}/${pid}/task`).flatMap((tid) => {
          return parseChildren(readProcText(`${procRoot}/${pid}/task/${tid}/children`) ?? '');
        });
    }
    const byParent = new Map<number, number[]>();
    for (const entry of readProcDir(procRoot)) {
      if (!/^\d+$/.test(entry)) continue;
      const text = readProcText(`${procRoot}/${entry}/stat`);
      if (text === null) continue;
      const { pid, ppid } = parseStat(text);
      const siblings = byParent.get(ppid);
      if (siblings === undefined) byParent.set(ppid, [pid]);
      else siblings.push(pid);
    }
    return (pid) => byParent.get(pid) ?? [];
  }
}
