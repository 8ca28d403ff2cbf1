import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isVirtualDisk, looksLikePartition, parseDiskstats, parseNetDev } from './devices.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc', import.meta.url));
const fixture = (rel: string): string => readFileSync(`${FIXTURES}/${rel}`, 'latin1');
const byName = (name: string): boolean => !isVirtualDisk(name) && !looksLikePartition(name);

describe('parseDiskstats', () => {
  it('reads the first 11 counters of a whole disk (20-field kernel format)', () => {
    // 254 0 vda 13100 5160 1371306 8485 3111 25312 1052040 3194 0 3472 12866 ...
    expect(parseDiskstats(fixture('host/diskstats'), byName)).toEqual([
      {
        name: 'vda',
        reads: 13100,
        read_sectors: 1371306,
        read_ms: 8485,
        writes: 3111,
        write_sectors: 1052040,
        write_ms: 3194,
        in_flight: 0,
        io_ms: 3472,
        weighted_ms: 12866,
      },
    ]);
  });

  it('keeps whole disks of every kind by name, and reads the 14-field format', () => {
    const disks = parseDiskstats(fixture('edge/diskstats-partitions'), byName);
    expect(disks.map((d) => d.name)).toEqual(['sda', 'nvme0n1', 'mmcblk0', 'xvda']);
    expect(disks[2]).toMatchObject({ name: 'mmcblk0', reads: 10, io_ms: 5, weighted_ms: 5 });
  });

  it('skips short lines', () => {
    expect(parseDiskstats('   8 0 sda 1 2 3\n\n', () => true)).toEqual([]);
  });

  it('reads a last line without a newline', () => {
    const disks = parseDiskstats('   8 0 sda 1 2 3 4 5 6 7 8 9 10 11', () => true);
    expect(disks).toMatchObject([{ name: 'sda', reads: 1, weighted_ms: 11 }]);
  });
});

describe('whole-disk name rules', () => {
  it.each(['loop0', 'ram0', 'zram0', 'dm-0', 'md0', 'md127', 'sr0'])('%s is virtual', (name) => {
    expect(isVirtualDisk(name)).toBe(true);
  });

  it.each(['sda', 'vda', 'nvme0n1', 'mmcblk0', 'xvda', 'loopy'])('%s is not virtual', (name) => {
    expect(isVirtualDisk(name)).toBe(false);
  });

  it.each(['sda1', 'sdaa12', 'vdb1', 'xvda1', 'hda2', 'nvme0n1p1', 'mmcblk0p2', 'nbd0p1'])(
    '%s is a partition',
    (name) => {
      expect(looksLikePartition(name)).toBe(true);
    },
  );

  it.each(['sda', 'nvme0n1', 'mmcblk0', 'nbd0', 'vda'])('%s is not a partition', (name) => {
    expect(looksLikePartition(name)).toBe(false);
  });
});

describe('parseNetDev', () => {
  it('reads a last line without a newline', () => {
    const nets = parseNetDev('  lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16');
    expect(nets).toMatchObject([{ name: 'lo', rx_bytes: 1, tx_drop: 12 }]);
  });

  it('reads every interface, lo included', () => {
    const nets = parseNetDev(fixture('host/net/dev'));
    expect(nets.map((n) => n.name)).toEqual(['lo', 'ifb0', 'ifb1', 'eth0']);
    // eth0: 308995620 14836 0 0 0 0 0 0  1265678 9960 0 0 0 0 0 0
    expect(nets[3]).toEqual({
      name: 'eth0',
      rx_bytes: 308995620,
      rx_packets: 14836,
      rx_errs: 0,
      rx_drop: 0,
      tx_bytes: 1265678,
      tx_packets: 9960,
      tx_errs: 0,
      tx_drop: 0,
    });
    expect(nets[0]).toMatchObject({ name: 'lo', rx_bytes: 3193, tx_packets: 29 });
  });

  it('maps receive and transmit columns, and reads names glued to their first number', () => {
    const line = 'eth1:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n';
    expect(parseNetDev(line)).toEqual([
      {
        name: 'eth1',
        rx_bytes: 1,
        rx_packets: 2,
        rx_errs: 3,
        rx_drop: 4,
        tx_bytes: 9,
        tx_packets: 10,
        tx_errs: 11,
        tx_drop: 12,
      },
    ]);
    expect(parseNetDev('eth2: 1 2 3\n')).toEqual([]);
  });
});
