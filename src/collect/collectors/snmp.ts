import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { parseSnmp } from '../parse/system.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/** /proc/net/snmp: TCP segments sent and retransmitted. */
export class SnmpCollector implements Collector {
  readonly name = 'snmp';
  private readonly source: KeptSource;

  constructor(procfs: ProcFs) {
    this.source = new KeptSource(procfs, 'net/snmp', true);
  }

  collect(snapshot: Snapshot): void {
    Object.assign(snapshot.system, parseSnmp(this.source.read()));
  }

  close(): void {
    this.source.close();
  }
}
