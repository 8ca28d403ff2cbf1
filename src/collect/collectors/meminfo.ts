import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parseMeminfo } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/** /proc/meminfo: memory and swap totals and free amounts, in bytes. */
export class MeminfoCollector implements Collector {
  readonly name = 'meminfo';
  private readonly source: KeptSource;

  constructor(procfs: ProcFs) {
    this.source = new KeptSource(procfs, 'meminfo', true);
  }

  collect(snapshot: Snapshot): void {
    Object.assign(snapshot.system, parseMeminfo(this.source.read()));
  }

  close(): void {
    this.source.close();
  }
}
