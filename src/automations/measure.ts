import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { combineCpu, type CpuSource } from './cpu.js';
import { RunAbortedError, RunMeasureError, RunSpawnError } from './errors.js';
import { hasChildrenFiles, readPageSize, readStat } from './proc.js';
import { TreeSampler } from './tree.js';

export { RunAbortedError, RunMeasureError, RunSpawnError } from './errors.js';
export type { CpuSource } from './cpu.js';

export interface RunMeasurement {
  pid: number;
  /** Epoch milliseconds from the injected clock. */
  startedAt: number;
  endedAt: number;
  /** Monotonic (performance.now) duration from just before spawn to the reaped exit. */
  wallMs: number;
  /** CPU of the whole process tree, user + system; a multiple of 10 ms (USER_HZ ticks). */
  cpuMs: number;
  peakRssBytes: number;
  exitCode: number | null;
  signal: string | null;
  status: 'ok' | 'failed';
  /** How CPU was obtained, e.g. 'rusage-children'; see CpuSource. */
  cpuSource: CpuSource;
}

export interface RunOptions {
  /** Called synchronously once the command runs, before its first sample. */
  onStart?: (pid: number, startedAt: number) => void;
  /** 'pipe' output is drained and discarded and stdin is closed, so the command never blocks on it. */
  stdio?: 'inherit' | 'ignore' | 'pipe';
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Abort sends SIGTERM, then SIGKILL after killGraceMs. */
  signal?: AbortSignal;
  killGraceMs?: number;
  /** Tree sampling interval (RSS, live CPU), default 100 ms. */
  pollMs?: number;
  procRoot?: string;
  /** Epoch-ms clock for startedAt/endedAt. */
  clock?: () => number;
}

// CPU fields of /proc are in USER_HZ ticks, 100 per second on every Linux ABI Node runs on.
const MS_PER_TICK = 10;
const DEFAULT_POLL_MS = 100;
const DEFAULT_KILL_GRACE_MS = 5000;
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Runs argv[0] with argv.slice(1) (no shell) and measures wall time, CPU of its whole process
 * tree, peak memory and exit status. Linux only: it reads /proc.
 *
 * Tree CPU is the growth of this process's cutime/cstime from before the spawn until the
 * child has been reaped, which covers every descendant that was waited for. The kernel adds
 * any reaped child to those counters, so runMeasured must not overlap with other child
 * processes of this process (nor with itself) exiting: when it sees one reaped it falls back
 * to live tree samples and says so in cpuSource. A child started and reaped between two
 * polls cannot be seen.
 */
export async function runMeasured(argv: string[], opts: RunOptions = {}): Promise<RunMeasurement> {
  const [command, ...args] = argv;
  if (command === undefined || command === '') {
    throw new RunSpawnError('no command given', '', null);
  }
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  if (!(pollMs > 0)) throw new RangeError(`pollMs must be a positive number, got ${pollMs}`);
  if (opts.signal?.aborted === true) {
    throw new RunAbortedError(`run of ${command} aborted before it started`, {
      cause: opts.signal.reason,
    });
  }
  const procRoot = opts.procRoot ?? '/proc';
  const clock = opts.clock ?? Date.now;

  const before = reapedTicks(procRoot, command);
  const sampler = new TreeSampler({
    procRoot,
    pageSize: readPageSize(procRoot),
    discovery: hasChildrenFiles(procRoot) ? 'children' : 'scan',
    selfPid: process.pid,
  });
  sampler.noteSelfChildren();

  const startedAt = clock();
  const t0 = performance.now();
  const child = start(command, args, opts);
  const pid = child.pid;
  if (pid === undefined) return spawnFailure(child, command, opts.cwd);

  return new Promise((resolve, reject) => {
    // First failure while the command runs; reported once it has exited.
    let pending: { error: unknown } | null = null;
    let pollTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let polls = 0;

    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(
        () => child.kill('SIGKILL'),
        opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
      );
    };
    const poll = (): void => {
      try {
        sampler.poll();
      } catch (err) {
        pending ??= { error: measureError(command, err) };
        return;
      }
      // Aim at multiples of pollMs from t0 so timer lateness does not accumulate.
      const now = performance.now();
      polls = Math.max(polls + 1, Math.ceil((now - t0) / pollMs));
      pollTimer = setTimeout(poll, t0 + polls * pollMs - now);
    };

    // Emitted only by a failed kill(); the exit still follows.
    child.on('error', (err) => {
      pending ??= { error: new RunMeasureError(`cannot signal ${command}`, { cause: err }) };
    });
    child.once('exit', (exitCode, signal) => {
      // 'exit' comes after libuv's waitpid, so cutime/cstime already hold the whole tree.
      const wallMs = performance.now() - t0;
      const endedAt = clock();
      clearTimeout(pollTimer);
      clearTimeout(killTimer);
      for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pending !== null) {
        reject(pending.error);
        return;
      }
      try {
        const after = reapedTicks(procRoot, command);
        const lastLiveTicks = sampler.lastTicksWithRoot;
        sampler.poll(); // now only what the command never waited for is left
        const cpu = combineCpu({
          reapedTicks: after - before,
          unreapedTicks: sampler.ticks,
          lastLiveTicks,
          otherChildReaped: sampler.otherChildReaped,
        });
        resolve({
          pid,
          startedAt,
          endedAt,
          wallMs: Math.round(wallMs * 1000) / 1000,
          cpuMs: cpu.ticks * MS_PER_TICK,
          peakRssBytes: sampler.peakRssBytes,
          exitCode,
          signal,
          status: exitCode === 0 ? 'ok' : 'failed',
          cpuSource: cpu.source,
        });
      } catch (err) {
        reject(err instanceof RunMeasureError ? err : measureError(command, err));
      }
    });

    for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sampler.setRoot(pid);
    try {
      opts.onStart?.(pid, startedAt);
    } catch (err) {
      // The command is running regardless; the caller's error is reported after it exits.
      pending = { error: err };
    }
    poll();
  });
}

function start(command: string, args: string[], opts: RunOptions): ChildProcess {
  const stdio = opts.stdio ?? 'inherit';
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio,
      ...(opts.env !== undefined && { env: opts.env }),
      ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    });
  } catch (err) {
    // Invalid arguments (e.g. a NUL byte) throw synchronously instead of emitting 'error'.
    throw new RunSpawnError(
      `cannot run ${command}: ${(err as Error).message}`,
      command,
      errnoCode(err),
      {
        cause: err,
      },
    );
  }
  if (stdio === 'pipe') {
    child.stdin?.end();
    child.stdout?.resume();
    child.stderr?.resume();
  }
  return child;
}

function spawnFailure(
  child: ChildProcess,
  command: string,
  cwd: string | undefined,
): Promise<never> {
  return new Promise((_, reject) => {
    child.once('error', (err) => {
      const code = errnoCode(err);
      let message = `cannot run ${command}: ${err.message}`;
      // uv_spawn reports a missing working directory as ENOENT too.
      if (code === 'ENOENT' && cwd !== undefined && !isDirectory(cwd)) {
        message = `working directory not found: ${cwd} (running ${command})`;
      } else if (code === 'ENOENT') message = `command not found: ${command}`;
      else if (code === 'EACCES') message = `permission denied: ${command} is not executable`;
      reject(new RunSpawnError(message, command, code, { cause: err }));
    });
  });
}

function reapedTicks(procRoot: string, command: string): number {
  let self;
  try {
    self = readStat(procRoot, 'self');
  } catch (err) {
    throw measureError(command, err);
  }
  if (self === null) {
    throw new RunMeasureError(`cannot measure ${command}: ${procRoot}/self/stat is unreadable`);
  }
  return self.cutime + self.cstime;
}

function measureError(command: string, err: unknown): RunMeasureError {
  return new RunMeasureError(`cannot measure ${command}: ${(err as Error).message}`, {
    cause: err,
  });
}

function errnoCode(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
