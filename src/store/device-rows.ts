import type { DiskCounters, NetCounters } from '../types.js';

/**
 * Disk and network rows are stored only when a device's counters changed, and a reader
 * carries each device's last row forward. Two rules keep that exact and cheap to read:
 *
 * - Keyframes: at least every DEVICE_KEYFRAME_MS of sample time, and on a writer's first
 *   write, every present device is stored whether it changed or not. A reader therefore
 *   finds the state of every device at `ts` among the rows in [ts - DEVICE_KEYFRAME_MS, ts],
 *   and retention keeps that much more of these tables.
 * - Tombstones: a device that is no longer listed gets a row with every counter NULL at the
 *   first sample without it. (A device whose collector failed for one tick is absent from
 *   that sample, as it was when every row was stored.)
 *
 * Never lower this constant: rows already stored were written for its old value.
 */
export const DEVICE_KEYFRAME_MS = 60_000;

export const DISK_COUNTERS = [
  'reads',
  'read_sectors',
  'read_ms',
  'writes',
  'write_sectors',
  'write_ms',
  'in_flight',
  'io_ms',
  'weighted_ms',
] as const satisfies readonly (keyof DiskCounters)[];

export const NET_COUNTERS = [
  'rx_bytes',
  'rx_packets',
  'rx_errs',
  'rx_drop',
  'tx_bytes',
  'tx_packets',
  'tx_errs',
  'tx_drop',
] as const satisfies readonly (keyof NetCounters)[];

export type DeviceKind = 'disk' | 'net';

/** The raw table and counter columns of each kind of device. */
export const DEVICE_TABLES = {
  disk: { table: 'disk_raw', counters: DISK_COUNTERS },
  net: { table: 'net_raw', counters: NET_COUNTERS },
} as const;

/** True when every counter of a stored row is null: the device was gone from then on. */
export function isTombstone(row: Record<string, unknown>, kind: DeviceKind): boolean {
  for (const column of DEVICE_TABLES[kind].counters) if (row[column] !== null) return false;
  return true;
}
