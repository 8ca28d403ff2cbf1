import type { DiskCounters, NetCounters } from '../../types.js';
import { numbersOnLine, skipBlanks, tokenEnd } from './text.js';

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
  const f: number[] = new Array<number>(11).fill(0);
  for (let start = 0; start < text.length;) {
    const newline = text.indexOf('\n', start);
    const next = newline < 0 ? text.length : newline + 1;
    // major minor name, then the counters: a whole line has at least 11 of them.
    const nameAt = skipBlanks(
      text,
      tokenEnd(text, skipBlanks(text, tokenEnd(text, skipBlanks(text, start)))),
    );
    const nameEnd = tokenEnd(text, nameAt);
    if (nameEnd > nameAt && numbersOnLine(text, nameEnd, f) === f.length) {
      const name = text.slice(nameAt, nameEnd);
      if (isWholeDisk(name)) {
        disks.push({
          name,
          reads: f[0]!,
          read_sectors: f[2]!,
          read_ms: f[3]!,
          writes: f[4]!,
          write_sectors: f[6]!,
          write_ms: f[7]!,
          in_flight: f[8]!,
          io_ms: f[9]!,
          weighted_ms: f[10]!,
        });
      }
    }
    start = next;
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
  const f: number[] = new Array<number>(16).fill(0);
  for (let start = 0; start < text.length;) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline;
    const colon = text.indexOf(':', start);
    if (colon >= 0 && colon < end && numbersOnLine(text, colon + 1, f) === f.length) {
      nets.push({
        name: text.slice(start, colon).trim(),
        rx_bytes: f[0]!,
        rx_packets: f[1]!,
        rx_errs: f[2]!,
        rx_drop: f[3]!,
        tx_bytes: f[8]!,
        tx_packets: f[9]!,
        tx_errs: f[10]!,
        tx_drop: f[11]!,
      });
    }
    start = end + 1;
  }
  return nets;
}
