import { describe, expect, it } from 'vitest';
import { MACHINE, cpu, proc, snap } from '../../test/helpers/snapshots.js';
import {
  counterDelta,
  cpuShares,
  deriveCores,
  deriveProcess,
  deriveSystem,
  processKey,
} from './derive.js';

describe('counterDelta', () => {
  it.each([
    [10, 15, 5],
    [10, 10, 0],
    [15, 10, null], // reset: a gap, never a negative or huge rate
    [null, 10, null],
    [10, null, null],
  ])('%s → %s = %s', (a, b, want) => expect(counterDelta(a, b)).toBe(want));
});

describe('cpuShares', () => {
  it('computes busy, iowait and steal over the interval', () => {
    const s = cpuShares(cpu(100, 100), cpu(160, 120, { iowait: 10, steal: 10 }));
    // total 100 ticks: 60 user, 20 idle, 10 iowait, 10 steal → busy counts steal, not iowait
    expect(s).toEqual({ busy: 70, iowait: 10, steal: 10 });
  });
  it('returns null when a counter went backwards or no time passed', () => {
    expect(cpuShares(cpu(100, 100), cpu(90, 200))).toBeNull();
    expect(cpuShares(cpu(100, 100), cpu(100, 100))).toBeNull();
  });
});

describe('deriveSystem', () => {
  const base = {
    cpu_user: 1000,
    cpu_nice: 0,
    cpu_system: 0,
    cpu_idle: 1000,
    cpu_iowait: 0,
    cpu_irq: 0,
    cpu_softirq: 0,
    cpu_steal: 0,
    mem_total_bytes: 8e9,
    mem_available_bytes: 6e9,
    swap_total_bytes: 2e9,
    swap_free_bytes: 1.5e9,
    pgmajfault: 100,
    tcp_retrans_segs: 50,
    psi_cpu_some_total_us: 1_000_000,
    psi_memory_some_total_us: 0,
    psi_io_some_total_us: 0,
    load1: 0.5,
    load5: 0.4,
    load15: 0.3,
  };
  const disk = (name: string, sectors: number, ioMs: number, ops: number, ms: number) => ({
    name,
    reads: ops,
    read_sectors: sectors,
    read_ms: ms,
    writes: 0,
    write_sectors: 0,
    write_ms: 0,
    in_flight: 0,
    io_ms: ioMs,
    weighted_ms: 0,
  });
  const net = (name: string, rx: number, tx: number) => ({
    name,
    rx_bytes: rx,
    rx_packets: 0,
    rx_errs: 0,
    rx_drop: 0,
    tx_bytes: tx,
    tx_packets: 0,
    tx_errs: 1,
    tx_drop: 2,
  });

  it('turns counters into rates and gauges into catalog values', () => {
    const a = snap(0, base, {
      disks: [disk('sda', 0, 0, 0, 0), disk('sdb', 0, 0, 0, 0)],
      nets: [net('eth0', 0, 0), net('lo', 0, 0)],
    });
    const b = snap(
      2000,
      {
        ...base,
        cpu_user: 1150,
        cpu_idle: 1050,
        pgmajfault: 110,
        tcp_retrans_segs: 54,
        psi_cpu_some_total_us: 1_500_000,
      },
      {
        disks: [disk('sda', 4096, 500, 10, 50), disk('sdb', 0, 1500, 0, 0)],
        nets: [net('eth0', 2000, 1000), net('lo', 1e9, 1e9)],
      },
    );
    const v = deriveSystem(a, b);
    expect(v.cpu_percent).toBeCloseTo(75);
    expect(v.memory_used_bytes).toBe(2e9);
    expect(v.memory_used_percent).toBe(25);
    expect(v.memory_available_bytes).toBe(6e9);
    expect(v.swap_used_percent).toBe(25);
    expect(v.major_faults_per_second).toBe(5);
    expect(v.tcp_retransmits_per_second).toBe(2);
    expect(v.cpu_pressure_some_percent).toBe(25);
    expect(v.disk_read_bytes_per_second).toBe((4096 * 512) / 2);
    expect(v.disk_busy_percent).toBe(75); // the busiest disk, not the sum
    expect(v.disk_await_ms).toBe(5);
    expect(v.network_receive_bytes_per_second).toBe(1000); // lo excluded
    expect(v.network_transmit_bytes_per_second).toBe(500);
    expect(v.load1).toBe(0.5);
  });

  it('gives gaps, not spikes, across counter resets and missing sources', () => {
    const a = snap(0, { ...base, pgmajfault: 1e9 }, { disks: [disk('sda', 1e9, 1e9, 1e9, 1e9)] });
    const b = snap(
      1000,
      { ...base, psi_cpu_some_total_us: null },
      { disks: [disk('sda', 10, 10, 10, 10)] },
    );
    const v = deriveSystem(a, b);
    expect(v.major_faults_per_second).toBeNull();
    expect(v.disk_read_bytes_per_second).toBeNull();
    expect(v.cpu_pressure_some_percent).toBeNull();
    expect(v.network_receive_bytes_per_second).toBeNull();
    expect(v.cpu_percent).toBeNull(); // no time passed in cpu ticks
  });

  it('reports no swap as 0 % and no await without I/O', () => {
    const a = snap(
      0,
      { ...base, swap_total_bytes: 0, swap_free_bytes: 0 },
      { disks: [disk('sda', 0, 0, 0, 0)] },
    );
    const b = snap(
      1000,
      { ...base, swap_total_bytes: 0, swap_free_bytes: 0 },
      { disks: [disk('sda', 0, 0, 0, 0)] },
    );
    const v = deriveSystem(a, b);
    expect(v.swap_used_percent).toBe(0);
    expect(v.disk_await_ms).toBeNull();
    expect(v.disk_busy_percent).toBe(0);
  });

  it('matches devices by name however many there are, and leaves them out when asked', () => {
    // More devices than a scan looks through (then a Map finds them), in another order.
    const names = Array.from({ length: 20 }, (_, i) => `veth${i}`);
    const a = snap(0, base, { nets: names.map((n) => net(n, 0, 0)) });
    const b = snap(1000, base, {
      nets: [...names].reverse().map((n, i) => net(n, 100 * (i + 1), 0)),
    });
    const v = deriveSystem(a, b);
    expect(v.network_receive_bytes_per_second).toBe(100 * ((20 * 21) / 2));
    expect(v.network_errors_per_second).toBe(0);
    expect(v.network_drops_per_second).toBe(0);
    const without = deriveSystem(a, b, false);
    expect(without.network_receive_bytes_per_second).toBeNull();
    expect(without.disk_busy_percent).toBeNull();
    // Everything else is as with the devices.
    const rest = (x: typeof v) =>
      Object.entries(x).filter(([k]) => !k.startsWith('disk_') && !k.startsWith('network_'));
    expect(rest(without)).toEqual(rest(v));
    expect(rest(v).length).toBeGreaterThan(10);
  });

  it('has no CPU share when a CPU mode is missing', () => {
    const a = snap(0, base);
    const b = snap(1000, { ...base, cpu_user: 1100, cpu_steal: null });
    expect(deriveSystem(a, b).cpu_percent).toBeNull();
    expect(deriveSystem(a, snap(1000, { ...base, cpu_user: 1100 })).cpu_percent).toBe(100);
  });

  it('derives per-core busy shares', () => {
    const a = snap(0, {}, { cores: [cpu(0, 0), cpu(0, 0)] });
    const b = snap(1000, {}, { cores: [cpu(50, 50), cpu(100, 0), cpu(1, 1)] });
    expect(deriveCores(a, b)).toEqual([50, 100, null]);
  });
});

describe('deriveProcess', () => {
  it('computes CPU of one core and bytes from pages', () => {
    const a = proc(10, { utime: 100, stime: 50, read_bytes: 0, write_bytes: 0 });
    const b = proc(10, {
      utime: 200,
      stime: 100,
      rss_pages: 256,
      read_bytes: 4096,
      write_bytes: 8192,
      threads: 4,
    });
    const v = deriveProcess(a, b, 1000, MACHINE, 7);
    expect(v.process_cpu_percent).toBe(150); // 1.5 s of CPU in 1 s: more than one core
    expect(v.process_rss_bytes).toBe(256 * 4096);
    expect(v.process_read_bytes_per_second).toBe(4096);
    expect(v.process_write_bytes_per_second).toBe(8192);
    expect(v.process_threads).toBe(4);
    expect(v.process_open_fds).toBe(7);
  });
  it('never mixes two processes that share a PID', () => {
    const old = proc(10, { utime: 5000 });
    const reused = proc(10, { start_ticks: 99999, utime: 10 });
    expect(processKey(old)).not.toBe(processKey(reused));
    const v = deriveProcess(old, reused, 1000, MACHINE);
    expect(v.process_cpu_percent).toBeNull();
    expect(v.process_rss_bytes).toBe(100 * 4096);
  });
});
