import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parseLoadavg } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/** /proc/loadavg: load averages over 1, 5 and 15 minutes. */
export class LoadavgCollector implements Collector {
  readonly name = 'loadavg';
  private readonly source: KeptSource;

  constructor(procfs: ProcFs) {
    this.source = new KeptSource(procfs, 'loadavg', true);
  }

  collect(snapshot: Snapshot): void {
    Object.assign(snapshot.system, parseLoadavg(this.source.read()));
  }

  close(): void {
    this.source.close();
  }
}
