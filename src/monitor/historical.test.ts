import { afterEach, describe, expect, it } from 'vitest';
import { MACHINE, cpu, proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { createBackend } from '../collect/backend.js';
import { Store } from '../store/index.js';
import type { ProcessCounters } from '../types.js';
import { HISTORY_WINDOW_MS, historicalSummary } from './historical.js';
import type { MonitorDeps, MonitorPlan } from './monitor.js';
import type { MonitorTarget } from './types.js';

const T0 = Date.UTC(2024, 0, 1, 12);
const FROM = T0 - HISTORY_WINDOW_MS;
const MINUTE = 60_000;
const BOOT = 1_700_000_000;

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function deps(): MonitorDeps {
  const store = Store.open(tempDir());
  stores.push(store);
  return { backend: createBackend(), machine: MACHINE, store };
}

function plan(target: MonitorTarget, sampled: string[], fromRuns: string[] = []): MonitorPlan {
  return {
    params: {
      monitoring_scope: target.kind === 'system' ? 'system' : 'specific',
      target_id: null,
      metrics_types: ['cpu', 'memory'],
      monitoring_duration: 10,
      sampling_interval: 1,
      include_historical: true,
      alert_thresholds: null,
      export_format: 'json',
    },
    target,
    sampled,
    fromRuns,
    thresholds: [],
  };
}

function system(user: number, idle: number) {
  return {
    ...Object.fromEntries(Object.entries(cpu(user, idle)).map(([k, v]) => [`cpu_${k}`, v])),
    mem_total_bytes: 1000,
    mem_available_bytes: 250,
    boot_time: BOOT,
  };
}

describe('historicalSummary', () => {
  it('summarises system metrics over the hour before t0 and nothing outside it', () => {
    const d = deps();
    const w = d.store.createWriter();
    // Outside the window, and so skewed that including it would show in the mean.
    w.write(snap(FROM - MINUTE, system(0, 0)));
    let user = 10_000;
    let idle = 10_000;
    w.write(snap(FROM, system(user, idle)));
    for (let k = 1; k <= 10; k++) {
      const busy = k % 2 ? 20 : 60; // per 100 ticks
      user += busy;
      idle += 100 - busy;
      w.write(snap(FROM + k * MINUTE, system(user, idle)));
    }
    w.write(snap(T0 + MINUTE, system(user + 100, idle)));
    for (const [name, end] of [
      ['a', FROM + 5 * MINUTE],
      ['b', FROM + 6 * MINUTE],
    ] as const) {
      const id = d.store.runs.start(name, 'true', null, end - 1000);
      d.store.runs.finish(id, {
        endedAt: end,
        wallMs: 1000,
        cpuMs: 5,
        peakRssBytes: 10,
        exitCode: name === 'a' ? 0 : 1,
        signal: null,
        status: name === 'a' ? 'ok' : 'failed',
      });
    }

    const h = historicalSummary(
      plan(
        { kind: 'system', label: 'system' },
        ['cpu_percent', 'memory_used_percent', 'cpu_pressure_some_percent'],
        ['execution_time_ms', 'runs_per_minute', 'error_rate'],
      ),
      d,
      T0,
    );

    expect(h.available).toBe(true);
    expect(h.reason).toBeUndefined();
    expect(h.window).toEqual({
      start: new Date(FROM).toISOString(),
      end: new Date(T0).toISOString(),
    });
    expect(h.metrics.cpu_percent).toMatchObject({ count: 10, mean: 40, min: 20, max: 60 });
    expect(h.metrics.memory_used_percent).toMatchObject({ count: 10, mean: 75 });
    expect(h.metrics.cpu_pressure_some_percent?.count).toBe(0); // no PSI recorded
    // a system target counts every automation's runs
    expect(h.metrics.execution_time_ms).toMatchObject({ count: 2, mean: 1000 });
    expect(h.metrics.error_rate?.mean).toBe(0.5);
    expect(h.metrics.runs_per_minute?.mean).toBeCloseTo(2 / 60, 12);
  });

  describe('process targets', () => {
    /**
     * A snapshot a minute for the hour: two `worker`s burning 10 % and 20 % of a core,
     * a busy `other`, and a `late` process that starts half-way through.
     */
    function recordProcesses(d: MonitorDeps) {
      const w = d.store.createWriter();
      for (let m = 0; m <= 60; m++) {
        const processes: ProcessCounters[] = [
          proc(10, { comm: 'worker', utime: 600 * m, rss_pages: 100, threads: 2 }),
          proc(11, { comm: 'worker', utime: 1200 * m, rss_pages: 200, threads: 3 }),
          proc(12, { comm: 'other', utime: 6000 * m, rss_pages: 5000 }),
        ];
        if (m >= 30) processes.push(proc(13, { comm: 'late', utime: 300 * (m - 30) }));
        w.write(snap(FROM + m * MINUTE, { boot_time: BOOT }, { processes }));
      }
    }

    const SAMPLED = [
      'process_cpu_percent',
      'process_rss_bytes',
      'process_threads',
      'process_read_bytes_per_second',
      'process_open_fds',
    ];

    it('follows one PID at its start time', () => {
      const d = deps();
      recordProcesses(d);
      const target: MonitorTarget = {
        kind: 'pid',
        label: 'worker (pid 10)',
        pid: 10,
        start_ticks: 1010,
        comm: 'worker',
      };
      const h = historicalSummary(plan(target, SAMPLED), d, T0);
      expect(h.available).toBe(true);
      expect(Object.keys(h.metrics).sort()).toEqual(
        SAMPLED.filter((m) => m !== 'process_open_fds').sort(),
      );
      // 600 ticks a minute at 100 ticks/s = 10 % of one core, at each of 12 points
      expect(h.metrics.process_cpu_percent).toMatchObject({ count: 12, min: 10, max: 10 });
      expect(h.metrics.process_cpu_percent?.mean).toBeCloseTo(10, 9);
      expect(h.metrics.process_rss_bytes).toMatchObject({ count: 12, mean: 100 * 4096 });
      expect(h.metrics.process_threads?.mean).toBe(2);
      expect(h.metrics.process_read_bytes_per_second?.count).toBe(0); // io never read
    });

    it('does not take a reused PID for the process it follows', () => {
      const d = deps();
      recordProcesses(d);
      const target: MonitorTarget = {
        kind: 'pid',
        label: 'worker (pid 10)',
        pid: 10,
        start_ticks: 999,
        comm: 'worker',
      };
      const h = historicalSummary(plan(target, SAMPLED), d, T0);
      expect(h.available).toBe(false);
      expect(h.metrics.process_rss_bytes?.count).toBe(0);
    });

    it('sums every process of a name', () => {
      const d = deps();
      recordProcesses(d);
      const h = historicalSummary(
        plan({ kind: 'process_name', label: 'worker', name: 'worker' }, SAMPLED),
        d,
        T0,
      );
      expect(h.metrics.process_cpu_percent?.count).toBe(12);
      expect(h.metrics.process_cpu_percent?.mean).toBeCloseTo(30, 9);
      expect(h.metrics.process_rss_bytes).toMatchObject({ count: 12, mean: 300 * 4096 });
      expect(h.metrics.process_threads?.mean).toBe(5);
    });

    it('leaves gaps before a process existed and needs two readings for its CPU', () => {
      const d = deps();
      recordProcesses(d);
      const h = historicalSummary(
        plan({ kind: 'process_name', label: 'late', name: 'late' }, SAMPLED),
        d,
        T0,
      );
      // points every 5 minutes: seen from minute 30 (rss), with a rate from minute 35
      expect(h.metrics.process_rss_bytes?.count).toBe(7);
      expect(h.metrics.process_cpu_percent?.count).toBe(6);
      expect(h.metrics.process_cpu_percent?.mean).toBeCloseTo(5, 9);
    });
  });

  it('summarises an automation from its finished runs in the hour', () => {
    const d = deps();
    const runs: [string, number, number, 'ok' | 'failed'][] = [
      ['nightly', FROM + 10 * MINUTE, 100, 'ok'],
      ['nightly', FROM + 20 * MINUTE, 200, 'failed'],
      ['nightly', FROM + 30 * MINUTE, 300, 'ok'],
      ['nightly', FROM - MINUTE, 9000, 'failed'], // ended before the window
      ['other', FROM + 40 * MINUTE, 5000, 'failed'],
    ];
    for (const [name, end, wall, status] of runs) {
      const id = d.store.runs.start(name, 'job.sh', 4242, end - wall);
      d.store.runs.finish(id, {
        endedAt: end,
        wallMs: wall,
        cpuMs: wall / 2,
        peakRssBytes: wall * 1024,
        exitCode: status === 'ok' ? 0 : 1,
        signal: null,
        status,
      });
    }
    d.store.runs.start('nightly', 'job.sh', 4243, T0 - 1000); // still running: not counted

    const h = historicalSummary(
      plan(
        { kind: 'automation', label: 'nightly', name: 'nightly' },
        ['process_cpu_percent'],
        [
          'execution_time_ms',
          'runs_per_minute',
          'execution_cpu_ms',
          'execution_peak_rss_bytes',
          'error_rate',
        ],
      ),
      d,
      T0,
    );
    expect(h.available).toBe(true);
    expect(h.metrics.execution_time_ms).toMatchObject({ count: 3, mean: 200, last: 300 });
    expect(h.metrics.execution_cpu_ms?.mean).toBe(100);
    expect(h.metrics.execution_peak_rss_bytes?.max).toBe(300 * 1024);
    expect(h.metrics.error_rate?.mean).toBeCloseTo(1 / 3, 12);
    expect(h.metrics.runs_per_minute?.mean).toBeCloseTo(3 / 60, 12);
    // an automation's processes are not read back from history
    expect(h.metrics.process_cpu_percent).toBeUndefined();
  });

  it('says why when nothing was stored for the hour', () => {
    const d = deps();
    const h = historicalSummary(
      plan({ kind: 'system', label: 'system' }, ['cpu_percent'], ['runs_per_minute']),
      d,
      T0,
    );
    expect(h.available).toBe(false);
    expect(h.reason).toMatch(/nothing stored for the previous hour.*kmpm daemon/);
    expect(h.metrics.cpu_percent).toBeUndefined(); // no pair of snapshots, no series
    // zero runs in an hour is a value, but not evidence that history exists
    expect(h.metrics.runs_per_minute).toMatchObject({ count: 1, mean: 0 });
  });
});
