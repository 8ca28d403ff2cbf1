import type { Readable, Writable } from 'node:stream';
import { createBackend, type PlatformBackend } from '../collect/backend.js';
import { resolveDataDir } from '../config/paths.js';
import { createLogger, type Logger } from '../log.js';
import { Store } from '../store/index.js';
import type { MachineInfo } from '../types.js';

/** Exit codes: 0 ok, 1 failure, 2 bad arguments. */
export const EXIT_USAGE = 2;

/** Ends a command with a given exit status, after it has printed what it had to say. */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = 'ExitStatus';
  }
}

/** Bad command-line input: printed as one line, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Streams the MCP stdio transport uses (default: the process's own). */
  stdin?: Readable;
  stdout?: Writable;
  /** Lets an embedding program stop long-running commands without signals. */
  shutdown?: AbortSignal;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

export interface Runtime {
  dataDir: string;
  store: Store;
  logger: Logger;
}

export function openRuntime(dataDirFlag: string | undefined, logger?: Logger): Runtime {
  const dataDir = resolveDataDir({ flag: dataDirFlag });
  return { dataDir, store: Store.open(dataDir), logger: logger ?? createLogger() };
}

export function openBackend(): { backend: PlatformBackend; machine: MachineInfo } {
  const backend = createBackend();
  return { backend, machine: backend.machineInfo() };
}

/** Parses a number option within a range, or throws a UsageError naming it. */
export function numberOption(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(
      `${name} must be a number from ${min} to ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return v;
}

/** Resolves once the process is asked to stop: SIGINT/SIGTERM, io.shutdown, or `extra`. */
export function untilStopped(io: Io, extra?: (stop: () => void) => void): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (why: string) => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (io.shutdown?.aborted) done('shutdown');
    io.shutdown?.addEventListener('abort', () => done('shutdown'));
    extra?.(() => done('close'));
  });
}
