import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parseVmstat } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/** /proc/vmstat: swapping, page faults and OOM kills. */
export class VmstatCollector implements Collector {
  readonly name = 'vmstat';
  private readonly source: KeptSource;

  constructor(procfs: ProcFs) {
    this.source = new KeptSource(procfs, 'vmstat');
  }

  collect(snapshot: Snapshot): void {
    Object.assign(snapshot.system, parseVmstat(this.source.read()));
  }

  close(): void {
    this.source.close();
  }
}
