import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  countCores,
  parseLoadavg,
  parseMeminfo,
  parseOpenFilesLimit,
  parsePageSize,
  parsePressure,
  parseSnmp,
  parseStat,
  parseVmstat,
} from './system.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc', import.meta.url));
const fixture = (rel: string): string => readFileSync(`${FIXTURES}/${rel}`, 'latin1');

describe('parseStat', () => {
  const { system, cores } = parseStat(fixture('host/stat'));

  it('reads the aggregate cpu line in USER_HZ ticks', () => {
    // cpu  19383 0 4948 69973 221 0 218 0 0 0
    expect(system).toMatchObject({
      cpu_user: 19383,
      cpu_nice: 0,
      cpu_system: 4948,
      cpu_idle: 69973,
      cpu_iowait: 221,
      cpu_irq: 0,
      cpu_softirq: 218,
      cpu_steal: 0,
    });
  });

  it('reads one entry per core', () => {
    expect(cores).toEqual([
      {
        user: 6981,
        nice: 0,
        system: 2095,
        idle: 38141,
        iowait: 31,
        irq: 0,
        softirq: 117,
        steal: 0,
      },
      {
        user: 12402,
        nice: 0,
        system: 2852,
        idle: 31831,
        iowait: 190,
        irq: 0,
        softirq: 101,
        steal: 0,
      },
    ]);
    expect(countCores(fixture('host/stat'))).toBe(2);
  });

  it('reads the scheduler counters and boot time', () => {
    expect(system).toMatchObject({
      procs_running: 1,
      procs_blocked: 0,
      forks: 4420,
      ctxt: 606062,
      boot_time: 1795661185,
    });
  });

  it('leaves fields null when lines are missing and short cpu lines read 0', () => {
    const parsed = parseStat('cpu  1 2 3 4\ncpu0 1 2 3 4');
    expect(parsed.system.cpu_idle).toBe(4);
    expect(parsed.system.cpu_steal).toBe(0);
    expect(parsed.system.forks).toBeNull();
    expect(parsed.cores).toHaveLength(1);
    expect(parseStat('').system.cpu_user).toBeNull();
  });
});

describe('parseLoadavg', () => {
  it('reads the three averages', () => {
    expect(parseLoadavg(fixture('host/loadavg'))).toEqual({
      load1: 0.21,
      load5: 0.47,
      load15: 0.3,
    });
  });

  it('gives null for a malformed file', () => {
    expect(parseLoadavg('')).toEqual({ load1: null, load5: null, load15: null });
  });
});

describe('parsePressure', () => {
  it('reads some and full, avg10 and total in microseconds', () => {
    expect(parsePressure(fixture('host/pressure/cpu'))).toEqual({
      some: { avg10: 0.8, total_us: 17217208 },
      full: { avg10: 0, total_us: 0 },
    });
    expect(parsePressure(fixture('host/pressure/io'))).toEqual({
      some: { avg10: 0, total_us: 1796787 },
      full: { avg10: 0, total_us: 1496644 },
    });
  });

  it('gives full = null for a cpu file without a full line (kernels before 5.13)', () => {
    expect(parsePressure(fixture('edge/pressure-cpu-nofull'))).toEqual({
      some: { avg10: 1.25, total_us: 123456789 },
      full: null,
    });
  });

  it('gives null values for keys it cannot find', () => {
    expect(parsePressure('some avg60=1')).toEqual({
      some: { avg10: null, total_us: null },
      full: null,
    });
  });
});

describe('parseMeminfo', () => {
  it('converts kB to bytes', () => {
    expect(parseMeminfo(fixture('host/meminfo'))).toEqual({
      mem_total_bytes: 24683620 * 1024,
      mem_available_bytes: 24388612 * 1024,
      mem_free_bytes: 24429376 * 1024,
      mem_buffers_bytes: 3272 * 1024,
      mem_cached_bytes: 131544 * 1024,
      swap_total_bytes: 0,
      swap_free_bytes: 0,
    });
  });

  it('does not take SwapCached for Cached', () => {
    expect(parseMeminfo('SwapCached:  5 kB\nCached:  7 kB\n').mem_cached_bytes).toBe(7 * 1024);
    expect(parseMeminfo('SwapCached:  5 kB\n').mem_cached_bytes).toBeNull();
  });
});

describe('parseVmstat', () => {
  it('reads swap, fault and OOM counters', () => {
    expect(parseVmstat(fixture('host/vmstat'))).toEqual({
      pswpin: 0,
      pswpout: 0,
      pgfault: 1979171,
      pgmajfault: 552,
      oom_kill: 0,
    });
  });

  it('gives oom_kill = null on kernels without it', () => {
    const old = fixture('host/vmstat')
      .split('\n')
      .filter((line) => !line.startsWith('oom_kill '))
      .join('\n');
    expect(parseVmstat(old).oom_kill).toBeNull();
    expect(parseVmstat(old).pgmajfault).toBe(552);
  });
});

describe('parseSnmp', () => {
  it('finds the Tcp columns by name', () => {
    // Tcp: ... InSegs OutSegs RetransSegs ... = 14766 9883 0
    expect(parseSnmp(fixture('host/net/snmp'))).toEqual({
      tcp_retrans_segs: 0,
      tcp_out_segs: 9883,
    });
  });

  it('follows the header when columns move', () => {
    expect(parseSnmp('Tcp: RetransSegs OutSegs\nTcp: 7 9\n')).toEqual({
      tcp_retrans_segs: 7,
      tcp_out_segs: 9,
    });
  });

  it('gives null without a Tcp section or its value line', () => {
    const none = { tcp_retrans_segs: null, tcp_out_segs: null };
    expect(parseSnmp('Ip: Forwarding\nIp: 1\n')).toEqual(none);
    expect(parseSnmp('Tcp: RetransSegs OutSegs\nUdp: 1 2\n')).toEqual(none);
    expect(parseSnmp('Tcp: RetransSegs\nTcp: 3')).toEqual({
      tcp_retrans_segs: 3,
      tcp_out_segs: null,
    });
  });
});

describe('parsePageSize', () => {
  it('reads the first KernelPageSize of smaps', () => {
    expect(parsePageSize(fixture('host/self/smaps'))).toBe(4096);
    expect(parsePageSize(fixture('edge/smaps-64k'))).toBe(65536);
  });

  it('gives null when there is none', () => {
    expect(parsePageSize('Size: 4 kB\n')).toBeNull();
    expect(parsePageSize('KernelPageSize: 0 kB\n')).toBeNull();
  });
});

describe('parseOpenFilesLimit', () => {
  it('reads the soft limit', () => {
    expect(parseOpenFilesLimit(fixture('host/self/limits'))).toBe(20000);
    expect(parseOpenFilesLimit('Max processes 10 10 processes\n')).toBeNull();
  });
});
