import { beforeEach, describe, expect, it } from 'vitest';
import { analyzeAutomations } from './automation.js';
import type { Finding, ProcessShare, RunInfo, Severity } from './types.js';

const T0 = Date.UTC(2026, 0, 1);
const FROM = T0;
const TO = T0 + 3600_000;

const neighbour: ProcessShare = {
  pid: 4242,
  command: 'indexer',
  cmdline: '/usr/bin/indexer',
  start_ticks: 5,
  share: 0.7,
  amount: 12,
  unit: 'cpu_seconds',
};

let nextId = 1;
beforeEach(() => {
  nextId = 1;
});
/** A finished run of `name` starting `id` minutes into the range; idle system, CPU-bound run. */
function run(over: Partial<RunInfo> & { wall?: number } = {}, name = 'backup'): RunInfo {
  const id = nextId++;
  const started = over.started_at ?? T0 + id * 60_000;
  const wall = over.wall ?? 500;
  const { wall: _w, ...rest } = over;
  return {
    id,
    automation: name,
    started_at: started,
    ended_at: started + wall,
    wall_ms: wall,
    cpu_ms: wall,
    status: 'ok',
    during: {
      cpu_percent: 10,
      cpu_iowait_percent: 0,
      io_pressure_some_percent: 0,
      cpu_pressure_some_percent: 0,
    },
    alongside: [],
    ...rest,
  };
}

const runs = (n: number, over: Partial<RunInfo> & { wall?: number } = {}) =>
  Array.from({ length: n }, () => run(over));
const ofKind = (fs: Finding[], kind: string) => fs.filter((f) => f.kind === kind);

describe('failures', () => {
  it.each<[number, number, Severity | null]>([
    [0, 10, null],
    [1, 20, 'low'],
    [1, 10, 'medium'],
    [2, 10, 'medium'],
    [1, 4, 'high'],
    [3, 10, 'high'],
    [5, 10, 'critical'],
    [1, 1, 'critical'],
  ])('%d failed of %d → %s', (failed, total, want) => {
    const list = [...runs(total - failed), ...runs(failed, { status: 'failed' })];
    const f = ofKind(analyzeAutomations(list, FROM, TO), 'failures')[0];
    expect(f?.severity ?? null).toBe(want);
    if (!f) return;
    expect(f.id).toBe('automation.failures.backup');
    expect(f.resource).toBe('automation');
    expect(f.title).toBe(`backup: ${failed} of ${total} runs failed`);
    expect(f.evidence[0]).toMatchObject({ metric: 'error_rate', observed: failed / total });
    expect(f.impact).toBe(failed / total);
    expect(f.rule).toContain('error_rate of backup');
  });

  it('points at the last failed run and what ran alongside it', () => {
    const first = run({ status: 'failed' });
    const last = run({ status: 'interrupted', alongside: [neighbour], wall: 2000 });
    const f = ofKind(analyzeAutomations([first, run(), last], FROM, TO), 'failures')[0];
    expect(f?.window).toEqual({
      start: new Date(last.started_at).toISOString(),
      end: new Date(last.started_at + 2000).toISOString(),
      duration_s: 2,
      share_of_range: 2000 / 3600_000,
    });
    expect(f?.attribution).toEqual({ processes: [neighbour], automations: [] });
  });

  it('ignores runs still going', () => {
    const going = run({ status: 'running', ended_at: null, wall_ms: null, cpu_ms: null });
    expect(analyzeAutomations([going, ...runs(3)], FROM, TO)).toEqual([]);
    expect(analyzeAutomations([going], FROM, TO)).toEqual([]);
  });

  it('groups by automation', () => {
    const list = [
      ...runs(2),
      run({ status: 'failed' }, 'sync'),
      run({}, 'sync'),
      run({ status: 'failed' }, 'sync.nightly'),
    ];
    expect(analyzeAutomations(list, FROM, TO).map((f) => [f.id, f.severity])).toEqual([
      ['automation.failures.sync', 'critical'],
      ['automation.failures.sync.nightly', 'critical'],
    ]);
  });
});

describe('slow runs', () => {
  it.each<[number[], Severity | null]>([
    [[100, 100, 149], null],
    [[100, 100, 150], 'low'],
    [[100, 100, 200], 'medium'],
    [[100, 100, 400], 'high'],
    [[100, 100, 100, 1000], 'critical'],
    [[100, 1000], null], // fewer than 3 finished runs
    [[0, 0, 50], null], // a zero median gives no ratio
  ])('walls %j → %s', (walls, want) => {
    const list = walls.map((w) => run({ wall: w, cpu_ms: w }));
    const f = ofKind(analyzeAutomations(list, FROM, TO), 'slow_runs')[0];
    expect(f?.severity ?? null).toBe(want);
  });

  it('names the slowest run, its ratio and the median, with what ran alongside it', () => {
    const slow = run({ wall: 900, alongside: [neighbour] });
    const list = [run({ wall: 300 }), slow, run({ wall: 200 }), run({ wall: 310 })];
    const f = ofKind(analyzeAutomations(list, FROM, TO), 'slow_runs')[0];
    expect(f?.id).toBe('automation.slow_runs.backup');
    expect(f?.severity).toBe('medium');
    expect(f?.title).toBe('backup: slowest run took 2.95× its median (900 ms vs 305 ms)');
    expect(f?.evidence[0]).toEqual({
      metric: 'execution_time_ms',
      statistic: 'max',
      observed: 900,
      threshold: 457.5,
      unit: 'ms',
    });
    expect(f?.window?.start).toBe(new Date(slow.started_at).toISOString());
    expect(f?.attribution.processes).toEqual([neighbour]);
    expect(f?.impact).toBeCloseTo(900 / 305, 10);
  });

  it('a still-running run neither counts toward the three nor as the slowest', () => {
    const going = run({ ended_at: null, wall_ms: null, status: 'running' });
    const list = [run({ wall: 100 }), run({ wall: 400 }), going];
    expect(ofKind(analyzeAutomations(list, FROM, TO), 'slow_runs')).toEqual([]);
  });
});

describe('waiting runs', () => {
  const saturated = (d: Partial<RunInfo['during']>) => ({
    cpu_percent: 10,
    cpu_iowait_percent: 0,
    io_pressure_some_percent: 0,
    cpu_pressure_some_percent: 0,
    ...d,
  });
  const waiting = (fs: Finding[]) => ofKind(fs, 'waiting');

  it.each<[string, Partial<RunInfo['during']>, 'CPU' | 'I/O' | null]>([
    ['idle system', {}, null],
    ['cpu 79', { cpu_percent: 79.9 }, null],
    ['cpu 80', { cpu_percent: 80 }, 'CPU'],
    ['cpu PSI 25', { cpu_pressure_some_percent: 25 }, 'CPU'],
    ['cpu PSI 24.9', { cpu_pressure_some_percent: 24.9 }, null],
    ['iowait 20', { cpu_iowait_percent: 20 }, 'I/O'],
    ['io PSI 20', { io_pressure_some_percent: 20 }, 'I/O'],
    ['io PSI 19.9', { io_pressure_some_percent: 19.9 }, null],
    ['both: CPU wins', { cpu_percent: 95, io_pressure_some_percent: 60 }, 'CPU'],
    [
      'no measurements at all',
      {
        cpu_percent: null,
        cpu_iowait_percent: null,
        io_pressure_some_percent: null,
        cpu_pressure_some_percent: null,
      },
      null,
    ],
  ])('%s → cause %s', (_n, d, cause) => {
    const r = run({ wall: 4000, cpu_ms: 400, during: saturated(d), alongside: [neighbour] });
    const found = waiting(analyzeAutomations([r], FROM, TO));
    if (cause === null) {
      expect(found).toEqual([]);
      return;
    }
    expect(found).toHaveLength(1);
    const f = found[0] as Finding;
    expect(f.id).toBe(`automation.waiting.backup.${r.id}`);
    expect(f.title).toBe(`backup run ${r.id} waited on ${cause} for 90 % of its 4000 ms`);
    expect(f.severity).toBe('high');
    expect(f.attribution.processes).toEqual([neighbour]);
    expect(f.evidence[0]).toMatchObject({ metric: 'execution_cpu_ms', observed: 0.1 });
    expect(f.evidence[1]?.metric).toBe(
      cause === 'CPU' ? 'cpu_percent' : 'io_pressure_some_percent',
    );
    expect(f.rule).toContain(`while the system's ${cause} was saturated`);
  });

  it('cpu evidence without a cpu_percent reading (saturation seen by PSI only) shows 0', () => {
    const r = run({
      wall: 2000,
      cpu_ms: 200,
      during: saturated({ cpu_percent: null, cpu_pressure_some_percent: 40 }),
    });
    const f = waiting(analyzeAutomations([r], FROM, TO))[0];
    expect(f?.evidence[1]).toEqual({
      metric: 'cpu_percent',
      statistic: 'mean',
      observed: 0,
      threshold: 80,
      unit: '%',
    });
  });

  it('io evidence falls back to iowait when there is no PSI', () => {
    const r = run({
      wall: 2000,
      cpu_ms: 0,
      during: saturated({ cpu_iowait_percent: 33, io_pressure_some_percent: null }),
    });
    const f = waiting(analyzeAutomations([r], FROM, TO))[0];
    expect(f?.evidence[1]).toMatchObject({ observed: 33, threshold: 20 });
    expect(f?.severity).toBe('critical');
  });

  it.each<[number, number, Severity | null]>([
    [1000, 501, null], // waited 49.9 %
    [1000, 500, 'low'],
    [1000, 300, 'medium'],
    [1000, 150, 'high'],
    [1000, 50, 'critical'],
    [999, 0, null], // too short to judge
    [2000, 2500, null], // more CPU than wall (threads): no waiting
  ])('wall %d ms, cpu %d ms, CPU saturated → %s', (wall, cpu, want) => {
    const r = run({ wall, cpu_ms: cpu, during: saturated({ cpu_percent: 100 }) });
    expect(waiting(analyzeAutomations([r], FROM, TO))[0]?.severity ?? null).toBe(want);
  });

  it('skips runs without CPU time and runs still going', () => {
    const noCpu = run({ wall: 5000, cpu_ms: null, during: saturated({ cpu_percent: 100 }) });
    const going = run({
      ended_at: null,
      wall_ms: null,
      cpu_ms: 10,
      status: 'running',
      during: saturated({ cpu_percent: 100 }),
    });
    expect(analyzeAutomations([noCpu, going], FROM, TO)).toEqual([]);
  });

  it('clips the window of a run that began before the range', () => {
    const r = run({
      started_at: FROM - 3000,
      wall: 5000,
      cpu_ms: 100,
      during: saturated({ cpu_percent: 100 }),
    });
    const f = waiting(analyzeAutomations([r], FROM, TO))[0];
    expect(f?.window?.start).toBe(new Date(FROM).toISOString());
    expect(f?.window?.duration_s).toBe(2);
  });
});
