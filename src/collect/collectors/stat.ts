import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parseStat } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/** /proc/stat: CPU times (total and per core), forks, context switches, boot time. */
export class StatCollector implements Collector {
  readonly name = 'stat';
  private readonly source: KeptSource;

  constructor(procfs: ProcFs) {
    this.source = new KeptSource(procfs, 'stat', true);
  }

  collect(snapshot: Snapshot): void {
    const { system, cores } = parseStat(this.source.read());
    Object.assign(snapshot.system, system);
    snapshot.cores = cores;
  }

  close(): void {
    this.source.close();
  }
}
