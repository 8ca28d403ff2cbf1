import { existsSync } from 'node:fs';
import type { Snapshot } from '../../types.js';
import type { Collector } from '../collector.js';
import { isVirtualDisk, looksLikePartition, parseDiskstats } from '../parse/devices.js';
import type { ProcFs } from '../procfs.js';
import { KeptSource } from './source.js';

/**
 * Decides which /proc/diskstats devices are whole disks. Virtual devices (loop, ram, zram,
 * dm, md, sr) never are. Otherwise, with a sysfs root that has a `block` directory, a device
 * is a whole disk when /sys/block/NAME exists and has no `partition` attribute (partitions
 * live under their disk, not in /sys/block); without sysfs, partitions are recognised by
 * name (sda1, nvme0n1p1, mmcblk0p1...). Answers are cached: a name's kind does not change.
 */
export class WholeDiskRule {
  private readonly blockDir: string | null;
  private readonly known = new Map<string, boolean>();

  constructor(sysRoot: string | null) {
    const blockDir = sysRoot === null ? null : `${sysRoot}/block`;
    this.blockDir = blockDir !== null && existsSync(blockDir) ? blockDir : null;
  }

  get usesSysfs(): boolean {
    return this.blockDir !== null;
  }

  isWholeDisk(name: string): boolean {
    let whole = this.known.get(name);
    if (whole === undefined) {
      whole = !isVirtualDisk(name) && this.isDisk(name);
      this.known.set(name, whole);
    }
    return whole;
  }

  private isDisk(name: string): boolean {
    if (this.blockDir === null) return !looksLikePartition(name);
    // sysfs spells '/' in device names (cciss/c0d0) as '!'.
    const dir = `${this.blockDir}/${name.replaceAll('/', '!')}`;
    return existsSync(dir) && !existsSync(`${dir}/partition`);
  }
}

/** /proc/diskstats for whole disks only, so that summed I/O counts each byte once. */
export class DiskstatsCollector implements Collector {
  readonly name = 'diskstats';
  private readonly source: KeptSource;
  private readonly rule: WholeDiskRule;
  private readonly isWholeDisk: (name: string) => boolean;

  constructor(procfs: ProcFs, sysRoot: string | null) {
    this.source = new KeptSource(procfs, 'diskstats');
    this.rule = new WholeDiskRule(sysRoot);
    this.isWholeDisk = (name) => this.rule.isWholeDisk(name);
  }

  collect(snapshot: Snapshot): void {
    snapshot.disks = parseDiskstats(this.source.read(), this.isWholeDisk);
  }

  close(): void {
    this.source.close();
  }
}
