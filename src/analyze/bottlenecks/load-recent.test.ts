import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MACHINE, cpu, proc, snap } from '../../../test/helpers/snapshots.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { Store } from '../../store/index.js';
import { rollupMinutes } from '../../store/rollup.js';
import { analyzeBottlenecks, type BottleneckQuery } from './index.js';
import { loadRolledInput } from './load-rolled.js';
import { loadRuns, loadSystemInput } from './load.js';
import { statsOf } from './range-stats.js';
import { analyzeSystem } from './system.js';

// MACHINE: 2 cores, 100 ticks/s, 4 KiB pages. 40 minutes of 1 s samples from T0.
const T0 = Date.UTC(2026, 0, 1, 12);
const BOOT = T0 / 1000 - 100;
const MIN = 60_000;
const N = 40 * 60;
const FROM = T0 + 5 * MIN;
const TO = T0 + 40 * MIN;

/**
 * Core 0 pinned by 'spinner' (pid 77) throughout, core 1 busy 20 % (30 % from minute 20);
 * 3 tasks runnable on 2 cores; one OOM kill at minute 25, and 'eth0' (1 Gb/s) sending at
 * 100 MB/s between minutes 30 and 35. Rolled up to minute 30: the rest is raw only.
 */
function snapshotAt(i: number) {
  const idle1 = i < 20 * 60 ? 80 * i : 80 * 20 * 60 + 70 * (i - 20 * 60);
  const eth = 1e8 * Math.min(5 * 60, Math.max(0, i - 30 * 60));
  return snap(
    T0 + i * 1000,
    {
      cpu_user: 100 * i + (100 * i - idle1),
      cpu_nice: 0,
      cpu_system: 0,
      cpu_idle: idle1,
      cpu_iowait: 0,
      cpu_irq: 0,
      cpu_softirq: 0,
      cpu_steal: 0,
      procs_running: 3,
      oom_kill: i < 25 * 60 ? 0 : 1,
      mem_total_bytes: 8e9,
      mem_available_bytes: 6e9,
      boot_time: BOOT,
    },
    {
      cores: [cpu(100 * i, 0), cpu(100 * i - idle1, idle1)],
      nets: [
        {
          name: 'eth0',
          rx_bytes: 0,
          rx_packets: 0,
          rx_errs: 0,
          rx_drop: 0,
          tx_bytes: eth,
          tx_packets: 0,
          tx_errs: 0,
          tx_drop: 0,
        },
      ],
      processes: [
        proc(77, { comm: 'spinner', utime: 100 * i, rss_pages: 1000 }),
        proc(78, { comm: 'helper', utime: 5 * i, rss_pages: 50_000 }),
      ],
    },
  );
}

let store: Store;
let sys: string;
beforeEach(() => {
  store = Store.open(tempDir());
  const w = store.createWriter();
  for (let i = 0; i <= N; i++) w.write(snapshotAt(i));
  for (let r = rollupMinutes(store.db, { now: T0 + 30 * MIN + 5000, machine: MACHINE }); r.more;) {
    r = rollupMinutes(store.db, { now: T0 + 30 * MIN + 5000, machine: MACHINE });
  }
  sys = tempDir();
  fs.mkdirSync(path.join(sys, 'class/net/eth0'), { recursive: true });
  fs.writeFileSync(path.join(sys, 'class/net/eth0/speed'), '1000\n');
});
afterEach(() => store.close());

const query = (over: Partial<BottleneckQuery> = {}): BottleneckQuery => ({
  scope: 'system',
  from: FROM,
  to: TO,
  label: 'custom',
  types: ['cpu', 'memory', 'io', 'network'],
  severityThreshold: 'low',
  includeRecommendations: false,
  ...over,
});

describe('a recent range past the raw limit', () => {
  it('reads minute rows up to the watermark and raw samples after, each sample once', () => {
    const input = loadRolledInput(store, MACHINE, FROM, TO, { detail: true, sysRoot: sys });
    // A sample at a minute's start is in that minute, as rolled up: intervals ending in
    // [FROM, TO), where the raw analysis of (FROM - 1 ms, TO - 1 ms] takes the same ones.
    const raw = loadSystemInput(store, MACHINE, FROM - 1, TO - 1, sys);
    expect(input?.resolutionMs).toBe(MIN);
    expect(input?.samples).toBe(35);
    const rolled = statsOf(input!, 'cpu_percent');
    const exact = statsOf(raw, 'cpu_percent');
    // Every 1 s interval ending in the range once, whichever side of the watermark.
    expect(rolled?.count).toBe(exact?.count);
    expect(rolled?.sum).toBeCloseTo(exact!.sum, 6);
    expect(rolled?.max).toBeCloseTo(exact!.max, 9);
    expect(Math.abs(rolled!.quantile(0.95) / exact!.quantile(0.95) - 1)).toBeLessThan(0.01);
  });

  it('finds what the raw analysis finds, at minute steps, with processes by PID', () => {
    const rolled = analyzeBottlenecks(store, MACHINE, query());
    const raw = analyzeBottlenecks(store, MACHINE, { ...query(), from: TO - 15 * MIN });
    expect(rolled.data).toMatchObject({ samples: 35, resolution_s: 60, sufficient: true });
    const ids = rolled.findings.map((f) => f.id).sort();
    expect(ids).toEqual(
      expect.arrayContaining(['cpu.concentration', 'cpu.run_queue', 'cpu.single_core']),
    );
    expect(raw.findings.map((f) => f.id)).toEqual(expect.arrayContaining(['cpu.single_core']));
    const core = rolled.findings.find((f) => f.id === 'cpu.single_core');
    expect(core?.evidence[0]).toMatchObject({ metric: 'core0_busy_percent', observed: 100 });
    expect(core?.window?.duration_s).toBe(35 * 60);
    expect(core?.attribution.processes[0]).toMatchObject({ pid: 77, command: 'spinner' });
    const queue = rolled.findings.find((f) => f.id === 'cpu.run_queue');
    expect(queue?.evidence[0]?.observed).toBe(1.5);
    const oom = rolled.findings.find((f) => f.id === 'memory.oom_kills');
    expect(oom?.evidence[0]?.observed).toBe(1);
    expect(
      rolled.findings.find((f) => f.id === 'cpu.concentration')?.attribution.processes[0]?.pid,
    ).toBe(77);
  });

  it('sees link utilisation per step from the raw counters at each step end', () => {
    const input = loadRolledInput(store, MACHINE, FROM, TO, { detail: true, sysRoot: sys });
    const link = input?.links.find((l) => l.name === 'eth0');
    expect(link?.bytesPerSecond).toBe(125e6);
    // 100 MB/s for minutes 30-35, the steps ending 31:00 to 35:00 (and 35:59 holds none).
    const busy = link?.tx.ts.filter((_, i) => (link.tx.values[i] ?? 0) > 9e7) ?? [];
    expect(busy).toHaveLength(5);
    const f = analyzeSystem(input!, new Set(['network'])).find(
      (x) => x.id === 'network.utilization.eth0.transmit',
    );
    expect(f?.window?.duration_s).toBe(5 * 60);
  });

  it('without detail (longer ranges) attributes by name and has no per-core series', () => {
    const input = loadRolledInput(store, MACHINE, FROM, TO, { detail: false });
    expect(input?.perCore).toEqual([]);
    expect(input?.processes.cpu[0]).toMatchObject({ pid: 0, command: 'spinner' });
    expect(input?.metrics.run_queue_per_core).toBeUndefined();
  });

  it('gives a short automation run the conditions of the minute it ran in', () => {
    const start = T0 + 12 * MIN + 20_000;
    const id = store.runs.start('backup', 'backup.sh', 4242, start);
    store.runs.finish(id, {
      endedAt: start + 10_000,
      wallMs: 10_000,
      cpuMs: 500,
      peakRssBytes: 1 << 20,
      exitCode: 0,
      signal: null,
      status: 'ok',
    });
    const input = loadRolledInput(store, MACHINE, FROM, TO, { detail: true, sysRoot: sys });
    const [run] = loadRuns(store, MACHINE, input!);
    // core 0 pinned, core 1 20 % busy: 60 % in the minute 12:00-13:00
    expect(run?.during.cpu_percent).toBeCloseTo(60, 6);
  });

  it('falls back to raw samples when nothing in the range was rolled up', () => {
    expect(loadRolledInput(store, MACHINE, TO + MIN, TO + 30 * MIN, { detail: true })).toBeNull();
  });
});
