import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MACHINE, cpu, diskCounters, proc, snap } from '../../../test/helpers/snapshots.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { Store } from '../../store/index.js';
import type { DiskCounters, NetCounters, ProcessCounters } from '../../types.js';
import { linkSpeeds, loadRuns, loadSystemInput } from './load.js';
import type { RunInfo, SystemInput } from './types.js';

// MACHINE: 2 cores, 100 ticks/s, 4 KiB pages.
const T0 = Date.UTC(2026, 0, 1, 12);
const BOOT = T0 / 1000 - 100;
const N = 30;
const FROM = T0;
const TO = T0 + N * 1000;
const MEM_USED = 400_000_000;

const disk = (name: string, weighted: number): DiskCounters =>
  diskCounters(name, { weighted_ms: weighted });
const net = (name: string, rx: number, tx: number): NetCounters => ({
  name,
  rx_bytes: rx,
  rx_packets: 0,
  rx_errs: 0,
  rx_drop: 0,
  tx_bytes: tx,
  tx_packets: 0,
  tx_errs: 0,
  tx_drop: 0,
});

/**
 * Snapshot i (ts T0 + i s): core 0 always busy, core 1 idle until i = 15 then busy, so the
 * machine is 50 % busy for 15 s and 100 % for 15 s — 45 busy CPU seconds in all.
 * Processes: p10 'busy' 0.9 CPU, p20 'steady' 0.3 CPU (utime + stime, io unreadable),
 * p30 'late' starts at i = 10 with 0.2 CPU, p40 'gone' exits after i = 15 with 0.1 CPU.
 */
function processesAt(i: number): ProcessCounters[] {
  const out = [
    proc(10, {
      comm: 'busy',
      utime: 5000 + 90 * i,
      rss_pages: i === 20 ? 5000 : 1000,
      read_bytes: 1000 * i,
      write_bytes: 0,
    }),
    proc(20, { comm: 'steady', utime: 3000 + 20 * i, stime: 10 * i, rss_pages: 2000 }),
  ];
  if (i >= 10) {
    out.push(
      proc(30, {
        comm: 'late',
        start_ticks: 11_000, // boot + 110 s = T0 + 10 s
        utime: 20 * (i - 9),
        rss_pages: 300,
        read_bytes: 0,
        write_bytes: 4096 * (i - 9),
      }),
    );
  }
  if (i <= 15) {
    out.push(
      proc(40, {
        comm: 'gone',
        utime: 500 + 10 * i,
        rss_pages: 400,
        read_bytes: 0,
        write_bytes: 100 * i,
      }),
    );
  }
  return out;
}

function snapshotAt(i: number) {
  const user1 = i <= 15 ? 0 : 100 * (i - 15);
  const idle1 = i <= 15 ? 100 * i : 1500;
  return snap(
    T0 + i * 1000,
    {
      cpu_user: 100 * i + user1,
      cpu_nice: 0,
      cpu_system: 0,
      cpu_idle: idle1,
      cpu_iowait: 0,
      cpu_irq: 0,
      cpu_softirq: 0,
      cpu_steal: 0,
      procs_running: 3,
      pswpin: 4 * i,
      pswpout: 6 * i,
      oom_kill: i < 12 ? 0 : 1,
      mem_total_bytes: 1_000_000_000,
      mem_available_bytes: 1_000_000_000 - MEM_USED,
      boot_time: BOOT,
    },
    {
      cores: [cpu(100 * i, 0), cpu(user1, idle1)],
      disks: [disk('sda', 2000 * i), disk('nvme0n1', 500 * i)],
      nets: [
        net('eth0', 1_000_000 * i, 200_000 * i),
        net('lo', 500_000 * i, 500_000 * i),
        net('wlan0', 0, 0),
        net('br0', 10 * i, 10 * i),
      ],
      processes: processesAt(i),
    },
  );
}

function fakeSys(): string {
  const root = tempDir('kmpm-sys-');
  const speed = (name: string, text: string) => {
    fs.mkdirSync(path.join(root, 'class/net', name), { recursive: true });
    fs.writeFileSync(path.join(root, 'class/net', name, 'speed'), text);
  };
  speed('eth0', '1000\n');
  speed('wlan0', '-1\n');
  speed('lo', '10000\n');
  fs.mkdirSync(path.join(root, 'class/net/br0'), { recursive: true });
  return root;
}

let store: Store;
let input: SystemInput & { samples: number };
let runIds: Record<'a' | 'b' | 'c' | 'd' | 'old', number>;

// A fresh store per test: tempDir() removes its directories after each test.
beforeEach(() => {
  store = Store.open(tempDir('kmpm-load-'));
  const w = store.createWriter();
  for (let i = 0; i <= N; i++) w.write(snapshotAt(i));
  const finish = (id: number, endedAt: number, wallMs: number, cpuMs: number, ok = true) =>
    store.runs.finish(id, {
      endedAt,
      wallMs,
      cpuMs,
      peakRssBytes: 0,
      exitCode: ok ? 0 : 1,
      signal: null,
      status: ok ? 'ok' : 'failed',
    });
  runIds = {
    a: store.runs.start('backup', 'backup.sh', 10, T0 - 10_000),
    b: store.runs.start('backup', 'backup.sh', 999, T0 + 12_000),
    c: store.runs.start('index', 'index.sh', 30, T0 + 20_000),
    d: store.runs.start('watch', 'watch.sh', null, T0 + 25_000),
    old: store.runs.start('old', 'old.sh', 5, T0 - 20_000),
  };
  finish(runIds.a, T0 + 10_000, 20_000, 4000);
  finish(runIds.b, T0 + 14_000, 2000, 1000, false);
  finish(runIds.c, T0 + 40_000, 20_000, 8000);
  finish(runIds.old, T0 - 15_000, 5000, 5000);
  input = loadSystemInput(store, MACHINE, FROM, TO, fakeSys());
});
afterEach(() => store.close());

const values = (name: string) => input.metrics[name]?.values ?? [];
const fill = (n: number, v: number | null) => Array<number | null>(n).fill(v);

describe('loadSystemInput: system series', () => {
  it('has one interval per snapshot pair, ending at the later snapshot', () => {
    expect(input.samples).toBe(N);
    expect(input.resolutionMs).toBe(1000);
    expect(input.cores).toBe(2);
    expect([input.from, input.to]).toEqual([FROM, TO]);
    expect(input.metrics.cpu_percent?.ts).toEqual(
      Array.from({ length: N }, (_, i) => T0 + (i + 1) * 1000),
    );
  });

  it('derives cpu, run queue, swap, OOM kills, disk queue and memory', () => {
    expect(values('cpu_percent')).toEqual([...fill(15, 50), ...fill(15, 100)]);
    expect(values('run_queue_per_core')).toEqual(fill(N, 1.5));
    expect(values('swap_pages_per_second')).toEqual(fill(N, 10));
    expect(values('oom_kills')).toEqual(fill(N, 0).map((_, i) => (i === 11 ? 1 : 0)));
    expect(values('disk_queue_depth')).toEqual(fill(N, 2.5));
    expect(values('memory_used_percent')).toEqual(fill(N, 40));
    expect(values('cpu_pressure_some_percent')).toEqual(fill(N, null));
  });

  it('has a busy series per core', () => {
    expect(input.perCore.map((s) => s.values)).toEqual([
      fill(N, 100),
      [...fill(15, 0), ...fill(15, 100)],
    ]);
  });

  it('keeps only links with a known speed, in bytes per second', () => {
    expect(input.links.map((l) => [l.name, l.bytesPerSecond])).toEqual([['eth0', 125e6]]);
    expect(input.links[0]?.rx.values).toEqual(fill(N, 1e6));
    expect(input.links[0]?.tx.values).toEqual(fill(N, 2e5));
  });
});

describe('loadSystemInput: attribution', () => {
  it('ranks processes by their share of the busy CPU seconds', () => {
    expect(
      input.processes.cpu.map((p) => [p.pid, p.command, p.amount, +p.share.toFixed(6)]),
    ).toEqual([
      [10, 'busy', 27, 0.6],
      [20, 'steady', 9, 0.2],
      [30, 'late', 4.2, +(4.2 / 45).toFixed(6)], // started inside: all of its CPU
      [40, 'gone', 1.5, +(1.5 / 45).toFixed(6)], // exited mid-window: up to its last row
    ]);
    expect(input.processes.cpu[0]).toMatchObject({
      cmdline: '/usr/bin/p10 --flag',
      start_ticks: 1010,
      unit: 'cpu_seconds',
    });
  });

  it('memory is the largest resident set in the window against the mean memory in use', () => {
    expect(input.processes.memory.map((p) => [p.pid, p.amount, p.unit])).toEqual([
      [10, 5000 * 4096, 'bytes'],
      [20, 2000 * 4096, 'bytes'],
      [40, 400 * 4096, 'bytes'],
      [30, 300 * 4096, 'bytes'],
    ]);
    expect(input.processes.memory[0]?.share).toBeCloseTo((5000 * 4096) / MEM_USED, 12);
  });

  it('io counts bytes read and written in the window; unreadable io is left out', () => {
    const total = 4096 * 21 + 30_000 + 1500;
    expect(input.processes.io.map((p) => [p.pid, p.amount])).toEqual([
      [30, 4096 * 21],
      [10, 30_000],
      [40, 1500],
    ]);
    expect(input.processes.io[1]?.share).toBeCloseTo(30_000 / total, 12);
  });

  it('automations get the CPU of their finished runs, prorated to the window', () => {
    expect(input.automations).toEqual([
      { automation: 'index', runs: 1, share: 4 / 45, amount: 4, unit: 'cpu_seconds' },
      { automation: 'backup', runs: 2, share: 3 / 45, amount: 3, unit: 'cpu_seconds' },
    ]);
  });
});

describe('loadRuns', () => {
  let runs: RunInfo[];
  beforeEach(() => {
    runs = loadRuns(store, MACHINE, input);
  });
  const byId = (id: number) => runs.find((r) => r.id === id) as RunInfo;

  it('returns every run active in the range, running ones included', () => {
    expect(runs.map((r) => r.id)).toEqual([runIds.a, runIds.b, runIds.c, runIds.d]);
    expect(byId(runIds.b)).toMatchObject({ status: 'failed', wall_ms: 2000, cpu_ms: 1000 });
    expect(byId(runIds.d)).toMatchObject({ status: 'running', ended_at: null, wall_ms: null });
  });

  it('means the system series over each run', () => {
    expect(byId(runIds.a).during).toEqual({
      cpu_percent: 50,
      cpu_iowait_percent: 0,
      io_pressure_some_percent: null,
      cpu_pressure_some_percent: null,
    });
    expect(byId(runIds.c).during.cpu_percent).toBe(100);
    // b ran 12-14 s: intervals ending at 13, 14 and 15 s, all half busy.
    expect(byId(runIds.b).during.cpu_percent).toBe(50);
    // d runs from 25 s to the end of the range.
    expect(byId(runIds.d).during.cpu_percent).toBe(100);
  });

  it('lists what ran alongside, without the run itself', () => {
    const a = byId(runIds.a).alongside;
    expect(a.map((p) => [p.pid, p.amount])).toEqual([
      [20, 3], // first stored at T0, after the run started: counted from its first row
      [40, 1],
      [30, 0.2],
    ]);
    expect(a[0]?.share).toBeCloseTo(3 / 4.2, 12);
    const c = byId(runIds.c).alongside;
    expect(c.map((p) => [p.pid, p.amount])).toEqual([
      [10, 9],
      [20, 3],
    ]);
    expect(byId(runIds.b).alongside.map((p) => p.pid)).toEqual([10, 20, 30, 40]);
  });
});

describe('linkSpeeds', () => {
  it('reads Mb/s and converts to bytes/s; unknown, missing, lo and odd names are absent', () => {
    const root = fakeSys();
    fs.mkdirSync(path.join(root, 'class/net/eth1'));
    fs.writeFileSync(path.join(root, 'class/net/eth1/speed'), 'garbage');
    fs.mkdirSync(path.join(root, 'class/net/eth2'));
    fs.writeFileSync(path.join(root, 'class/net/eth2/speed'), '0');
    fs.mkdirSync(path.join(root, 'class/net/bond0.10'));
    fs.writeFileSync(path.join(root, 'class/net/bond0.10/speed'), '25000');
    const got = linkSpeeds(
      ['eth0', 'wlan0', 'lo', 'br0', 'eth1', 'eth2', 'nope', 'bond0.10', '../net/eth0', 'a b'],
      root,
    );
    expect([...got]).toEqual([
      ['eth0', 125e6],
      ['bond0.10', 3125e6],
    ]);
  });
});

describe('loadSystemInput on a range after the recorder stopped', () => {
  it('has no samples, the default resolution and no CPU or I/O attribution', () => {
    const empty = loadSystemInput(store, MACHINE, T0 + 3600_000, T0 + 7200_000, fakeSys());
    expect(empty.samples).toBe(0);
    expect(empty.resolutionMs).toBe(1000);
    expect(empty.metrics).toEqual({});
    expect(empty.perCore).toEqual([]);
    expect(empty.links).toEqual([]);
    expect(empty.processes.cpu).toEqual([]);
    expect(empty.processes.io).toEqual([]);
    // Processes never seen exiting keep their last resident set, but no memory in use was measured.
    expect(empty.processes.memory.map((p) => [p.pid, p.share])).toEqual([
      [20, 0],
      [10, 0],
      [30, 0],
    ]);
    expect(empty.automations).toEqual([]);
  });
});

describe('loadSystemInput over sparse history', () => {
  /** Gaps, a late snapshot, devices that come and go, and a counter reset. */
  function sparse(): Store {
    const st = Store.open(tempDir('kmpm-sparse-'));
    const w = st.createWriter();
    const full = (i: number) => ({
      cpu_user: 100 * i,
      cpu_nice: 0,
      cpu_system: 0,
      cpu_idle: 100 * i,
      cpu_iowait: 0,
      cpu_irq: 0,
      cpu_softirq: 0,
      cpu_steal: 0,
      procs_running: 2,
      pswpin: 10 * i,
      pswpout: 10 * i,
      mem_total_bytes: 1000,
      mem_available_bytes: 500,
    });
    // Before the range: only the second starts an interval inside it.
    w.write(snap(T0 - 2000, full(1), { cores: [cpu(100, 100)], disks: [disk('sda', 0)] }));
    w.write(
      snap(T0 - 1000, full(2), {
        cores: [cpu(200, 200)],
        disks: [disk('sda', 1000)],
        nets: [net('eth0', 5000, 0)],
      }),
    );
    // 2 s later, without CPU, memory or per-core counters.
    w.write(
      snap(
        T0 + 1000,
        { procs_running: 2, pswpin: 50, pswpout: 50 },
        { disks: [disk('sda', 5000)], nets: [net('eth0', 9000, 0)] },
      ),
    );
    // sda is gone and sdb new; eth0's counter reset and eth9 new; no run queue or swap.
    w.write(
      snap(
        T0 + 2000,
        { ...full(5), procs_running: null, pswpin: null },
        {
          cores: [cpu(500, 500)],
          disks: [disk('sdb', 100)],
          nets: [net('eth0', 10, 0), net('eth9', 0, 0)],
        },
      ),
    );
    w.write(
      snap(
        T0 + 3000,
        { ...full(6), pswpin: null },
        {
          cores: [cpu(600, 600)],
          disks: [disk('sda', 9000), disk('sdb', 1600)],
          nets: [net('eth0', 1010, 0), net('eth9', 2000, 0)],
        },
      ),
    );
    return st;
  }

  it('turns gaps, new devices and resets into null intervals, not spikes', () => {
    const st = sparse();
    const root = fakeSys();
    fs.mkdirSync(path.join(root, 'class/net/eth9'));
    fs.writeFileSync(path.join(root, 'class/net/eth9/speed'), '1000');
    const got = loadSystemInput(st, MACHINE, T0, T0 + 5000, root);
    st.close();
    const v = (name: string) => got.metrics[name]?.values;
    expect(got.samples).toBe(3);
    expect(got.resolutionMs).toBe(1000); // median of 2 s, 1 s, 1 s
    expect(got.metrics.cpu_percent?.ts).toEqual([T0 + 1000, T0 + 2000, T0 + 3000]);
    expect(v('cpu_percent')).toEqual([null, null, 50]);
    expect(v('run_queue_per_core')).toEqual([1, null, 1]);
    expect(v('swap_pages_per_second')).toEqual([(60 * 1000) / 2000, null, null]);
    expect(v('disk_queue_depth')).toEqual([4000 / 2000, null, 1500 / 1000]);
    expect(got.perCore.map((c) => c.values)).toEqual([[null, 50]]);
    expect(got.links.map((l) => [l.name, l.rx.values])).toEqual([
      ['eth0', [4000 / 2, null, 1000]],
      ['eth9', [null, 2000]],
    ]);
  });

  it('a range without samples has no system series, so runs in it have no conditions', () => {
    const st = Store.open(tempDir('kmpm-empty-'));
    const id = st.runs.start('lonely', 'x', 1, T0 + 1000);
    st.runs.finish(id, {
      endedAt: T0 + 3000,
      wallMs: 2000,
      cpuMs: 500,
      peakRssBytes: 0,
      exitCode: 0,
      signal: null,
      status: 'ok',
    });
    const empty = loadSystemInput(st, MACHINE, T0, T0 + 5000, fakeSys());
    expect(empty.automations).toEqual([
      { automation: 'lonely', runs: 1, share: 0, amount: 0.5, unit: 'cpu_seconds' },
    ]);
    const [run] = loadRuns(st, MACHINE, empty);
    st.close();
    expect(run?.during).toEqual({
      cpu_percent: null,
      cpu_iowait_percent: null,
      io_pressure_some_percent: null,
      cpu_pressure_some_percent: null,
    });
    expect(run?.alongside).toEqual([]);
  });
});
