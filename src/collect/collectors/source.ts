import type { ProcFs } from '../procfs.js';

/** A /proc file a collector cannot do without is missing or unreadable. */
export class SourceUnavailableError extends Error {
  constructor(readonly path: string) {
    super(`${path} is missing or unreadable`);
    this.name = 'SourceUnavailableError';
  }
}

/**
 * One system-wide /proc file read through a kept fd, re-read at position 0 each tick.
 * Collectors hold one per file and release it on close. `whole`: the kernel generates the
 * file whole on each read (see ProcFs.readKeptWhole), which saves a read per tick.
 */
export class KeptSource {
  constructor(
    private readonly procfs: ProcFs,
    readonly rel: string,
    private readonly whole = false,
  ) {}

  /** Content, or null when the file does not exist here (e.g. no PSI on this kernel). */
  readOptional(): string | null {
    return this.whole ? this.procfs.readKeptWhole(this.rel) : this.procfs.readKept(this.rel);
  }

  read(): string {
    const text = this.readOptional();
    if (text === null) throw new SourceUnavailableError(this.procfs.path(this.rel));
    return text;
  }

  close(): void {
    this.procfs.release(this.rel);
  }
}
