import type { Collector } from './collector.js';
import { DiskstatsCollector } from './collectors/diskstats.js';
import { LoadavgCollector } from './collectors/loadavg.js';
import { MeminfoCollector } from './collectors/meminfo.js';
import { NetDevCollector } from './collectors/netdev.js';
import { PressureCollector } from './collectors/pressure.js';
import { ProcessesCollector } from './collectors/processes.js';
import { SnmpCollector } from './collectors/snmp.js';
import { StatCollector } from './collectors/stat.js';
import { VmstatCollector } from './collectors/vmstat.js';
import type { ProcFs } from './procfs.js';

export interface LinuxCollectorOptions {
  procfs: ProcFs;
  /** sysfs root for telling whole disks from partitions; null to go by device names. */
  sysRoot: string | null;
  /** false leaves processes out entirely (snapshot.processes stays null). */
  processes: boolean;
  ioEvery?: number;
}

/**
 * The Linux collectors in the order they run. stat comes first because processes, last,
 * reads the fork counter it leaves in the snapshot.
 */
export function createLinuxCollectors(options: LinuxCollectorOptions): Collector[] {
  const { procfs } = options;
  const collectors: Collector[] = [
    new StatCollector(procfs),
    new LoadavgCollector(procfs),
    new PressureCollector(procfs),
    new MeminfoCollector(procfs),
    new VmstatCollector(procfs),
    new DiskstatsCollector(procfs, options.sysRoot),
    new NetDevCollector(procfs),
    new SnmpCollector(procfs),
  ];
  if (options.processes) {
    const ioEvery = options.ioEvery;
    collectors.push(new ProcessesCollector(procfs, ioEvery === undefined ? {} : { ioEvery }));
  }
  return collectors;
}
