import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../types.js';
import { emptySnapshot, type Collector } from '../collector.js';
import { ProcFs } from '../procfs.js';
import { DiskstatsCollector, WholeDiskRule } from './diskstats.js';
import { LoadavgCollector } from './loadavg.js';
import { MeminfoCollector } from './meminfo.js';
import { NetDevCollector } from './netdev.js';
import { PressureCollector } from './pressure.js';
import { SnmpCollector } from './snmp.js';
import { SourceUnavailableError } from './source.js';
import { StatCollector } from './stat.js';
import { VmstatCollector } from './vmstat.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc', import.meta.url));
const ctx = { tick: 0, now: 0 };

function run(collector: Collector): Snapshot {
  const snapshot = emptySnapshot(1);
  collector.collect(snapshot, ctx);
  return snapshot;
}

describe('system collectors on the host fixture', () => {
  const procfs = new ProcFs(`${FIXTURES}/host`);

  it('stat fills cpu times, cores and counters', () => {
    const snapshot = run(new StatCollector(procfs));
    expect(snapshot.system).toMatchObject({ cpu_user: 19383, forks: 4420, boot_time: 1795661185 });
    expect(snapshot.cores).toHaveLength(2);
  });

  it('loadavg, meminfo, vmstat and snmp fill their fields', () => {
    const snapshot = emptySnapshot(1);
    const collectors: Collector[] = [
      new LoadavgCollector(procfs),
      new MeminfoCollector(procfs),
      new VmstatCollector(procfs),
      new SnmpCollector(procfs),
    ];
    for (const c of collectors) c.collect(snapshot, ctx);
    expect(snapshot.system).toMatchObject({
      load1: 0.21,
      mem_total_bytes: 24683620 * 1024,
      pgmajfault: 552,
      tcp_out_segs: 9883,
    });
  });

  it('pressure fills all twelve PSI fields', () => {
    const { system } = run(new PressureCollector(procfs));
    expect(system).toMatchObject({
      psi_cpu_some_avg10: 0.8,
      psi_cpu_some_total_us: 17217208,
      psi_cpu_full_avg10: 0,
      psi_cpu_full_total_us: 0,
      psi_memory_some_total_us: 0,
      psi_io_some_total_us: 1796787,
      psi_io_full_avg10: 0,
      psi_io_full_total_us: 1496644,
    });
  });

  it('netdev keeps lo; diskstats keeps only vda, with sysfs or by name', () => {
    expect(run(new NetDevCollector(procfs)).nets.map((n) => n.name)).toContain('lo');
    const withSys = run(new DiskstatsCollector(procfs, `${FIXTURES}/sys`));
    expect(withSys.disks.map((d) => d.name)).toEqual(['vda']);
    const byName = run(new DiskstatsCollector(procfs, null));
    expect(byName.disks.map((d) => d.name)).toEqual(['vda']);
  });
});

describe('pressure without PSI', () => {
  it('leaves every psi field null and does not fail', () => {
    const { system } = run(new PressureCollector(new ProcFs(`${FIXTURES}/nopsi`)));
    const psi = Object.entries(system).filter(([key]) => key.startsWith('psi_'));
    expect(psi).toHaveLength(12);
    expect(psi.every(([, value]) => value === null)).toBe(true);
  });

  it('leaves cpu full null when the kernel has no cpu full line', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmpm-psi-'));
    cpSync(`${FIXTURES}/host/pressure`, `${root}/pressure`, { recursive: true });
    cpSync(`${FIXTURES}/edge/pressure-cpu-nofull`, `${root}/pressure/cpu`);
    const { system } = run(new PressureCollector(new ProcFs(root)));
    expect(system.psi_cpu_some_total_us).toBe(123456789);
    expect(system.psi_cpu_full_avg10).toBeNull();
    expect(system.psi_cpu_full_total_us).toBeNull();
    expect(system.psi_io_full_total_us).toBe(1496644);
    writeFileSync(`${root}/pressure/memory`, 'full avg10=2.00 avg60=0 avg300=0 total=5\n');
    const partial = run(new PressureCollector(new ProcFs(root))).system;
    expect(partial.psi_memory_some_avg10).toBeNull();
    expect(partial.psi_memory_some_total_us).toBeNull();
    expect(partial.psi_memory_full_total_us).toBe(5);
    rmSync(root, { recursive: true });
  });
});

describe('WholeDiskRule', () => {
  it('uses /sys/block when there is one', () => {
    const rule = new WholeDiskRule(`${FIXTURES}/edge/sys`);
    expect(rule.usesSysfs).toBe(true);
    // vdb1 has a hand-made /sys/block entry with a partition attribute.
    const names = ['sda', 'sda1', 'nvme0n1', 'nvme0n1p1', 'vdb1', 'dm-0', 'zram0', 'vda'];
    expect(names.filter((n) => rule.isWholeDisk(n))).toEqual(['sda', 'nvme0n1']);
    expect(rule.isWholeDisk('sda')).toBe(true);
  });

  it('goes by name without sysfs, or when the sysfs root has no block directory', () => {
    for (const rule of [new WholeDiskRule(null), new WholeDiskRule(`${FIXTURES}/host`)]) {
      expect(rule.usesSysfs).toBe(false);
      expect(['sda', 'sda1', 'vdb1', 'loop0', 'vda'].filter((n) => rule.isWholeDisk(n))).toEqual([
        'sda',
        'vda',
      ]);
    }
  });

  it('maps "/" in device names to "!" as sysfs does', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmpm-sys-'));
    cpSync(`${FIXTURES}/sys`, root, { recursive: true });
    cpSync(`${root}/block/vda`, `${root}/block/cciss!c0d0`, { recursive: true });
    expect(new WholeDiskRule(root).isWholeDisk('cciss/c0d0')).toBe(true);
    rmSync(root, { recursive: true });
  });

  it('reads the partition edge fixture with sysfs', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmpm-disk-'));
    cpSync(`${FIXTURES}/edge/diskstats-partitions`, `${root}/diskstats`);
    const { disks } = run(new DiskstatsCollector(new ProcFs(root), `${FIXTURES}/edge/sys`));
    expect(disks.map((d) => d.name)).toEqual(['sda', 'nvme0n1', 'mmcblk0', 'xvda']);
    rmSync(root, { recursive: true });
  });
});

describe('kept system files', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('see new content every tick and are released on close', () => {
    root = mkdtempSync(join(tmpdir(), 'kmpm-sys-'));
    cpSync(`${FIXTURES}/host`, root, { recursive: true });
    const procfs = new ProcFs(root);
    const collectors: Collector[] = [
      new StatCollector(procfs),
      new LoadavgCollector(procfs),
      new PressureCollector(procfs),
      new MeminfoCollector(procfs),
      new VmstatCollector(procfs),
      new DiskstatsCollector(procfs, null),
      new NetDevCollector(procfs),
      new SnmpCollector(procfs),
    ];
    const tick = () => {
      const snapshot = emptySnapshot(0);
      for (const c of collectors) c.collect(snapshot, ctx);
      return snapshot;
    };
    expect(tick().system.load1).toBe(0.21);
    expect(procfs.keptCount).toBe(10);
    writeFileSync(`${root}/loadavg`, '9.50 0.47 0.30 1/97 4420\n');
    expect(tick().system.load1).toBe(9.5);
    for (const c of collectors) c.close?.();
    expect(procfs.keptCount).toBe(0);
  });

  it('a missing required file is an error naming it', () => {
    root = mkdtempSync(join(tmpdir(), 'kmpm-sys-'));
    cpSync(`${FIXTURES}/nopsi`, root, { recursive: true });
    unlinkSync(`${root}/net/snmp`);
    const procfs = new ProcFs(root);
    const collector = new SnmpCollector(procfs);
    expect(() => run(collector)).toThrow(SourceUnavailableError);
    expect(() => run(collector)).toThrow(`${root}/net/snmp is missing or unreadable`);
  });
});
