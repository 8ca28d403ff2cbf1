import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parseNetDev } from '../parse/devices.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/** /proc/net/dev: per-interface bytes, packets, errors and drops (lo included). */
export class NetDevCollector implements Collector {
  readonly name = 'netdev';
  private readonly source: KeptSource;

  constructor(procfs: ProcFs) {
    this.source = new KeptSource(procfs, 'net/dev');
  }

  collect(snapshot: Snapshot): void {
    snapshot.nets = parseNetDev(this.source.read());
  }

  close(): void {
    this.source.close();
  }
}
