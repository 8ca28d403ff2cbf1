import type { MachineInfo, ProcessCounters } from '../types.js';
import { SourceUnavailableError } from './collectors/source.js';
import { parseCmdline, parsePidIo, parsePidStat, toProcessCounters } from './parse/process.js';
import { countCores, parseOpenFilesLimit, parsePageSize } from './parse/system.js';
import { DEFAULT_MAX_KEPT_FDS, ProcFs } from './procfs.js';
import { createLinuxCollectors } from './registry.js';
import { Sampler, type CollectorErrorHandler } from './sampler.js';

export interface SamplerOptions {
  /** false leaves per-process collection out (snapshot.processes stays null). */
  processes: boolean;
  /** Read /proc/PID/io every Nth tick (default 10). */
  ioEvery?: number;
  onError?: CollectorErrorHandler;
}

/** What the rest of kmpm needs from an operating system. */
export interface PlatformBackend {
  readonly name: string;
  machineInfo(): MachineInfo;
  /** A sampler with its own collectors and kept fds; close it when done. */
  createSampler(options: SamplerOptions): Sampler;
  /** One process read fresh, io included: for following a specific PID. Null when gone. */
  readProcess(pid: number): ProcessCounters | null;
  /** One full scan of every process, cmdline and io included. */
  listProcesses(): ProcessCounters[];
  /** Open file descriptors of a process; null when it is gone or not ours to inspect. */
  countOpenFds(pid: number): number | null;
}

export class UnsupportedPlatformError extends Error {
  constructor(readonly platform: string) {
    super(
      `cannot record on platform "${platform}": recording is implemented for Linux; ` +
        'macOS and Windows backends are not available yet',
    );
    this.name = 'UnsupportedPlatformError';
  }
}

export interface BackendOptions {
  platform?: NodeJS.Platform;
  /** Defaults to /proc; a recorded tree for tests. */
  procRoot?: string;
  /**
   * sysfs root; null decides whole disks by name. Defaults to /sys with the live /proc and to
   * null with any other procRoot, so that a recorded tree is never mixed with this machine.
   */
  sysRoot?: string | null;
}

export function createBackend(options: BackendOptions = {}): PlatformBackend {
  const platform = options.platform ?? process.platform;
  if (platform !== 'linux') throw new UnsupportedPlatformError(platform);
  const procRoot = options.procRoot ?? '/proc';
  const sysRoot =
    options.sysRoot !== undefined ? options.sysRoot : procRoot === '/proc' ? '/sys' : null;
  return new LinuxBackend(procRoot, sysRoot);
}

/** USER_HZ, the unit of every tick count in /proc; the kernel fixes it at 100 on Linux. */
const LINUX_CLOCK_TICKS = 100;
const DEFAULT_PAGE_SIZE = 4096;
/** The first mapping's KernelPageSize line sits within the first few hundred bytes. */
const SMAPS_HEAD_BYTES = 4096;

/**
 * How many fds a sampler may keep open: a quarter of this process's limit, leaving the rest
 * to SQLite, sockets and other samplers, and at most DEFAULT_MAX_KEPT_FDS. (Node raises the
 * soft limit to the hard one at startup; the hard one can be as low as 4096.)
 */
export function keptFdBudget(openFilesLimit: number | null): number {
  if (openFilesLimit === null) return DEFAULT_MAX_KEPT_FDS;
  return Math.max(0, Math.min(DEFAULT_MAX_KEPT_FDS, Math.floor(openFilesLimit / 4)));
}

/** Reads /proc and /sys directly, synchronously, without starting any process. */
export class LinuxBackend implements PlatformBackend {
  readonly name = 'linux';
  /** For one-off reads; samplers get their own, with their own kept fds. */
  private readonly procfs: ProcFs;

  constructor(
    readonly procRoot: string,
    readonly sysRoot: string | null,
  ) {
    this.procfs = new ProcFs(procRoot);
  }

  machineInfo(): MachineInfo {
    const stat = this.procfs.read('stat');
    if (stat === null) throw new SourceUnavailableError(this.procfs.path('stat'));
    const smaps = this.procfs.readHead('self/smaps', SMAPS_HEAD_BYTES);
    return {
      clockTicks: LINUX_CLOCK_TICKS,
      pageSize: (smaps === null ? null : parsePageSize(smaps)) ?? DEFAULT_PAGE_SIZE,
      cores: countCores(stat),
    };
  }

  createSampler(options: SamplerOptions): Sampler {
    const limits = new ProcFs().read('self/limits');
    const maxKeptFds = keptFdBudget(limits === null ? null : parseOpenFilesLimit(limits));
    const collectors = createLinuxCollectors({
      procfs: new ProcFs(this.procRoot, { maxKeptFds }),
      sysRoot: this.sysRoot,
      processes: options.processes,
      ...(options.ioEvery === undefined ? {} : { ioEvery: options.ioEvery }),
    });
    return new Sampler(collectors, options.onError);
  }

  readProcess(pid: number): ProcessCounters | null {
    const procfs = this.procfs;
    const len = procfs.readRecord(`${pid}/stat`);
    const stat = len === null ? null : parsePidStat(procfs.buffer, len);
    if (stat === null) return null;
    const uid = procfs.ownerUid(pid);
    const cmdline = procfs.read(`${pid}/cmdline`, 'utf8');
    if (uid === null || cmdline === null) return null;
    const ioText = procfs.read(`${pid}/io`);
    const io = ioText === null ? null : parsePidIo(ioText);
    return toProcessCounters(stat, { uid, cmdline: parseCmdline(cmdline) }, io);
  }

  listProcesses(): ProcessCounters[] {
    const processes: ProcessCounters[] = [];
    for (const pid of this.procfs.listPids()) {
      const counters = this.readProcess(pid);
      if (counters !== null) processes.push(counters);
    }
    return processes;
  }

  countOpenFds(pid: number): number | null {
    return this.procfs.countEntries(`${pid}/fd`);
  }
}
