import type { DiskCounters, NetCounters } from '../../types.js';
import { tokens } from './text.js';

/**
 * Block devices whose I/O is not a disk's own: loop files, RAM disks, zram, device-mapper
 * and md volumes (their I/O is counted again on the disks beneath them) and optical drives.
 */
const VIRTUAL_DISK = /^(loop|ram|zram|dm-|md|sr)\d/;

/** Partition names, for when /sys is not available: sda1, xvda2, nvme0n1p3, mmcblk0p1. */
const PARTITION_NAME = [/^(sd|hd|vd|xvd)[a-z]+\d+$/, /^(nvme\d+n\d+|mmcblk\d+|nbd\d+)p\d+$/];

export function isVirtualDisk(name: string): boolean {
  return VIRTUAL_DISK.test(name);
}

export function looksLikePartition(name: string): boolean {
  return PARTITION_NAME.some((pattern) => pattern.test(name));
}

/**
 * /proc/diskstats, keeping the devices `isWholeDisk` accepts. Lines have 14 fields up to
 * kernel 4.18, then 18 (discards) and 20 (flushes); only the first 14 are used.
 */
export function parseDiskstats(
  text: string,
  isWholeDisk: (name: string) => boolean,
): DiskCounters[] {
  const disks: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = tokens(line);
    const name = f[2];
    if (f.length < 14 || name === undefined || !isWholeDisk(name)) continue;
    const n = (i: number): number => Number(f[i]);
    disks.push({
      name,
      reads: n(3),
      read_sectors: n(5),
      read_ms: n(6),
      writes: n(7),
      write_sectors: n(9),
      write_ms: n(10),
      in_flight: n(11),
      io_ms: n(12),
      weighted_ms: n(13),
    });
  }
  return disks;
}

/**
 * /proc/net/dev, every interface including `lo` (consumers decide what to sum). After the
 * "name:" come 8 receive columns (bytes packets errs drop fifo frame compressed multicast)
 * and 8 transmit columns (bytes packets errs drop fifo colls carrier compressed).
 */
export function parseNetDev(text: string): NetCounters[] {
  const nets: NetCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = tokens(line.slice(colon + 1));
    if (f.length < 16) continue;
    const n = (i: number): number => Number(f[i]);
    nets.push({
      name: line.slice(0, colon).trim(),
      rx_bytes: n(0),
      rx_packets: n(1),
      rx_errs: n(2),
      rx_drop: n(3),
      tx_bytes: n(8),
      tx_packets: n(9),
      tx_errs: n(10),
      tx_drop: n(11),
    });
  }
  return nets;
}
