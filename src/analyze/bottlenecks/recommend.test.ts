import { describe, expect, it } from 'vitest';
import { analyzeAutomations } from './automation.js';
import { concentrationFindings } from './concentration.js';
import { recommend } from './recommend.js';
import { RULES } from './rules.js';
import { analyzeSystem, type BottleneckType } from './system.js';
import type { Finding, ProcessShare, Resource, RunInfo, Series, SystemInput } from './types.js';

const T0 = Date.UTC(2026, 0, 1);

function proc(pid: number, command: string, share: number, amount: number): ProcessShare {
  return { pid, command, cmdline: command, start_ticks: 1, share, amount, unit: 'x' };
}
const HOG = proc(777, 'hog', 0.83, 3 * 2 ** 30);

function finding(id: string, processes: ProcessShare[] = []): Finding {
  return {
    id,
    resource: id.split('.')[0] as Resource,
    kind: 'utilization',
    severity: 'high',
    rule: 'r',
    title: 't',
    window: null,
    evidence: [],
    attribution: { processes, automations: [] },
    impact: 1,
  };
}

/** Which resource km_optimize_resources should limit for each family tied to processes. */
const BY_PROCESS: Record<string, 'cpu' | 'memory' | 'io'> = {
  'cpu.utilization': 'cpu',
  'cpu.run_queue': 'cpu',
  'cpu.pressure': 'cpu',
  'cpu.single_core': 'cpu',
  'cpu.concentration': 'cpu',
  'cpu.iowait': 'io',
  'io.utilization': 'io',
  'io.await': 'io',
  'io.queue': 'io',
  'io.pressure': 'io',
  'io.concentration': 'io',
  'memory.utilization': 'memory',
  'memory.swapping': 'memory',
  'memory.major_faults': 'memory',
  'memory.pressure': 'memory',
  'memory.oom_kills': 'memory',
  'memory.concentration': 'memory',
};
const PLAIN = [
  'cpu.steal',
  'network.errors',
  'network.drops',
  'network.retransmits',
  'network.utilization.eth0.receive',
];

describe('recommend', () => {
  it('covers every rule in RULES', () => {
    for (const r of RULES) expect([...Object.keys(BY_PROCESS), ...PLAIN]).toContain(r.id);
  });

  it('gives a recommendation for every finding the analyses produce', () => {
    const c = (v: number): Series => ({
      ts: Array.from({ length: 10 }, (_, i) => T0 + (i + 1) * 1000),
      values: Array<number>(10).fill(v),
    });
    const input: SystemInput = {
      from: T0,
      to: T0 + 10_000,
      cores: 2,
      resolutionMs: 1000,
      metrics: Object.fromEntries(RULES.map((r) => [r.metric, c(r.thresholds[3] * 2)])),
      perCore: [c(100), c(0)],
      links: [{ name: 'eth0', bytesPerSecond: 100, rx: c(99), tx: c(99) }],
      processes: { cpu: [HOG], memory: [HOG], io: [HOG] },
      automations: [],
    };
    input.metrics.cpu_percent = c(50); // lets the single-core rule fire
    const types = new Set<BottleneckType>(['cpu', 'memory', 'io', 'network']);
    const during = {
      cpu_percent: 99,
      cpu_iowait_percent: 0,
      io_pressure_some_percent: 0,
      cpu_pressure_some_percent: 0,
    };
    const runs: RunInfo[] = [100, 100, 5000].map((wall, i) => ({
      id: i + 1,
      automation: 'nightly.backup',
      started_at: T0 + i * 10_000,
      ended_at: T0 + i * 10_000 + wall,
      wall_ms: wall,
      cpu_ms: 10,
      status: i === 0 ? 'failed' : 'ok',
      during,
      alongside: [],
    }));
    const all = [
      ...analyzeSystem(input, types),
      ...concentrationFindings(input, types),
      ...analyzeAutomations(runs, T0, T0 + 60_000),
    ];
    const families = new Set(all.map((f) => f.id.split('.').slice(0, 2).join('.')));
    expect(families.size).toBeGreaterThanOrEqual(RULES.length + 4 + 3);
    for (const f of all) {
      const recs = recommend(f);
      expect(recs.length, f.id).toBeGreaterThan(0);
      for (const rec of recs) expect(rec.finding_id).toBe(f.id);
    }
  });

  it.each(Object.entries(BY_PROCESS))(
    '%s with a top process → km_optimize_resources on its PID (%s)',
    (id, resource) => {
      const [rec, ...more] = recommend(finding(id, [HOG, proc(1, 'init', 0.01, 1)]));
      expect(more).toEqual([]);
      expect(rec?.finding_id).toBe(id);
      expect(rec?.target).toBe('process:hog');
      expect(rec?.action).toContain("'hog' (pid 777) used 83 %");
      expect(rec?.action).toContain(
        resource === 'cpu' ? 'CPU time' : resource === 'io' ? 'disk I/O' : 'memory in use',
      );
      expect(rec?.tool_call).toEqual({
        name: 'km_optimize_resources',
        arguments: {
          optimization_scope: 'specific',
          target_id: '777',
          target_resources: [resource],
          optimization_strategy: 'conservative',
          resource_limits:
            resource === 'cpu'
              ? { cpu_percent: 50 }
              : resource === 'memory'
                ? { memory_mb: Math.round(3 * 1024 * 0.8) }
                : { io_weight: 50 },
        },
      });
    },
  );

  it('a memory cap never goes below 64 MB', () => {
    const rec = recommend(finding('memory.utilization', [proc(5, 'tiny', 0.9, 2 ** 20)]))[0];
    expect(rec?.tool_call?.arguments.resource_limits).toEqual({ memory_mb: 64 });
  });

  it.each(Object.keys(BY_PROCESS))('%s without a process → a plain action', (id) => {
    expect(recommend(finding(id))).toEqual([
      {
        finding_id: id,
        action: expect.stringMatching(/^No single process stands out; .+ or add capacity\.$/),
        target: null,
        tool_call: null,
      },
    ]);
  });

  it.each(PLAIN)('%s → a plain action with no tool call', (id) => {
    const recs = recommend(finding(id, [HOG]));
    expect(recs).toHaveLength(1);
    expect(recs[0]?.finding_id).toBe(id);
    expect(recs[0]?.tool_call).toBeNull();
    expect(recs[0]?.target).toBeNull();
    expect(recs[0]?.action.length).toBeGreaterThan(20);
  });

  it.each([
    ['automation.failures.backup', 'backup'],
    ['automation.failures.nightly.backup', 'nightly.backup'],
  ])('%s → watch the automation %s', (id, name) => {
    expect(recommend(finding(id))).toEqual([
      {
        finding_id: id,
        action: `Look at the failing runs of '${name}' (exit codes in automation_runs) and watch the next runs.`,
        target: `automation:${name}`,
        tool_call: {
          name: 'km_monitor_performance',
          arguments: {
            monitoring_scope: 'automation',
            target_id: name,
            metrics_types: ['execution_time', 'error_rate'],
            monitoring_duration: 60,
          },
        },
      },
    ]);
  });

  it.each([
    ['automation.slow_runs.backup', 'backup'],
    ['automation.waiting.backup.42', 'backup'],
    ['automation.slow_runs.sync.v2', 'sync.v2'],
    ['automation.waiting.sync.v2.7', 'sync.v2'],
  ])('%s slowed by another process → lower that process (automation %s)', (id, name) => {
    const [rec] = recommend(finding(id, [HOG]));
    expect(rec?.finding_id).toBe(id);
    expect(rec?.target).toBe(`automation:${name}`);
    expect(rec?.action).toBe(
      `'${name}' was slowed by 'hog' (pid 777, 83 % of CPU while it ran): schedule them apart or lower that process's priority.`,
    );
    expect(rec?.tool_call?.name).toBe('km_optimize_resources');
    expect(rec?.tool_call?.arguments).toMatchObject({
      target_id: '777',
      target_resources: ['cpu'],
    });
  });

  it.each([
    ['automation.slow_runs.backup', 'backup'],
    ['automation.waiting.sync.v2.7', 'sync.v2'],
  ])('%s with nothing alongside → benchmark %s', (id, name) => {
    expect(recommend(finding(id))).toEqual([
      {
        finding_id: id,
        action: `Benchmark '${name}' to see how its run time varies.`,
        target: `automation:${name}`,
        tool_call: {
          name: 'km_benchmark_automation',
          arguments: { benchmark_type: 'workflow', target_id: name },
        },
      },
    ]);
  });

  it.each(['unknown', 'cpu.nonsense', 'disk.utilization', ''])('unknown id %j → []', (id) => {
    expect(recommend(finding(id, [HOG]))).toEqual([]);
  });
});
