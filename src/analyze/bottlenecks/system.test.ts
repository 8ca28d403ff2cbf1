import { describe, expect, it } from 'vitest';
import { concentrationFindings } from './concentration.js';
import { rankFindings } from './index.js';
import { LINK_THRESHOLDS, round } from './rules.js';
import { analyzeSystem, systemOverview, type BottleneckType } from './system.js';
import {
  SEVERITIES,
  type Finding,
  type ProcessShare,
  type Series,
  type Severity,
  type SystemInput,
} from './types.js';

const T0 = Date.UTC(2026, 0, 1);
const N = 20;
const ALL = new Set<BottleneckType>(['cpu', 'memory', 'io', 'network']);

function series(values: (number | null)[]): Series {
  return { ts: values.map((_, i) => T0 + (i + 1) * 1000), values };
}
const constant = (v: number | null) => series(Array<number | null>(N).fill(v));

function proc(pid: number, share: number, unit = 'cpu_seconds'): ProcessShare {
  return {
    pid,
    command: `p${pid}`,
    cmdline: `/usr/bin/p${pid}`,
    start_ticks: 1000 + pid,
    share,
    amount: share * 100,
    unit,
  };
}

function input(over: Partial<SystemInput> = {}): SystemInput {
  return {
    from: T0,
    to: T0 + N * 1000,
    cores: 4,
    resolutionMs: 1000,
    metrics: {},
    perCore: [],
    links: [],
    processes: {
      cpu: [proc(11, 0.5), proc(12, 0.1)],
      memory: [proc(21, 0.3, 'bytes')],
      io: [proc(31, 0.2, 'bytes'), proc(32, 0.1, 'bytes')],
    },
    automations: [{ automation: 'backup', runs: 2, share: 0.2, amount: 4, unit: 'cpu_seconds' }],
    ...over,
  };
}

/** Every resource saturated: one metric per resource far past its critical threshold. */
const SATURATED = {
  cpu_percent: constant(99),
  memory_used_percent: constant(99),
  disk_busy_percent: constant(99),
  network_errors_per_second: constant(50),
};

const byId = (fs: Finding[], id: string) => fs.find((f) => f.id === id);

describe('analyzeSystem', () => {
  it.each<[BottleneckType[]]>([
    [['cpu']],
    [['memory']],
    [['io']],
    [['network']],
    [['cpu', 'io']],
    [[]],
  ])('only the requested resource types %j produce findings', (types) => {
    const found = analyzeSystem(input({ metrics: SATURATED }), new Set(types));
    expect(new Set(found.map((f) => f.resource))).toEqual(new Set(types));
  });

  it('attributes each resource to its own process list', () => {
    const inp = input({ metrics: SATURATED });
    const found = analyzeSystem(inp, ALL);
    expect(byId(found, 'cpu.utilization')?.attribution).toEqual({
      processes: inp.processes.cpu,
      automations: inp.automations,
    });
    expect(byId(found, 'memory.utilization')?.attribution).toEqual({
      processes: inp.processes.memory,
      automations: [],
    });
    expect(byId(found, 'io.utilization')?.attribution).toEqual({
      processes: inp.processes.io,
      automations: [],
    });
    const net = byId(found, 'network.errors')?.attribution;
    expect(net?.processes).toEqual([]);
    expect(net?.automations).toEqual([]);
    expect(net?.note).toMatch(/per-process network traffic is not measured/);
  });

  it('skips rules whose metric is absent or has no values', () => {
    const found = analyzeSystem(
      input({ metrics: { cpu_percent: constant(null), memory_used_percent: constant(10) } }),
      ALL,
    );
    expect(found).toEqual([]);
  });

  it('computes impact from the share of the range held and how far past the threshold', () => {
    // 10 of 20 intervals at 90 (p95 = 90 → high, threshold 90), the rest idle.
    const half = series([...Array<number>(10).fill(0), ...Array<number>(10).fill(90)]);
    const f = byId(
      analyzeSystem(input({ metrics: { cpu_percent: half } }), ALL),
      'cpu.utilization',
    );
    expect(f?.severity).toBe('high');
    expect(f?.window?.share_of_range).toBe(0.5);
    expect(f?.impact).toBeCloseTo(0.5, 10);
    expect(f?.window?.start).toBe(new Date(T0 + 10_000).toISOString());
  });

  it('a total rule takes its window from the intervals with any count', () => {
    const kills = series([0, 0, 1, 1, 0, 1, 0, 0, 0, 0]);
    const f = byId(
      analyzeSystem(input({ metrics: { oom_kills: kills }, to: T0 + 10_000 }), ALL),
      'memory.oom_kills',
    );
    expect(f?.severity).toBe('critical');
    expect(f?.window).toEqual({
      start: new Date(T0 + 2000).toISOString(),
      end: new Date(T0 + 4000).toISOString(),
      duration_s: 2,
      share_of_range: 0.3,
    });
  });
});

describe('single-core rule', () => {
  const cores = (...p: number[]) => p.map((v) => constant(v));
  const run = (over: Partial<SystemInput>, types = ALL) =>
    byId(analyzeSystem(input(over), types), 'cpu.single_core');

  it.each<[string, number, Severity]>([
    ['90 → low', 90, 'low'],
    ['95 → medium', 95, 'medium'],
    ['98 → high', 98, 'high'],
    ['100 → capped at high', 100, 'high'],
  ])('one core at p95 %s while overall stays under 75', (_n, core, want) => {
    const f = run({ metrics: { cpu_percent: constant(40) }, perCore: cores(10, core, 5, 0) });
    expect(f?.severity).toBe(want);
    expect(f?.resource).toBe('cpu');
    expect(f?.title).toContain('Core 1');
    expect(f?.evidence.map((e) => [e.metric, e.observed])).toEqual([
      ['core1_busy_percent', core],
      ['cpu_percent', 40],
    ]);
    expect(f?.rule).toContain('p95 of core 1 busy percent');
    expect(f?.rule).toContain('p95 of cpu_percent = 40 < 75');
    expect(f?.attribution.processes[0]?.pid).toBe(11);
    expect(f?.attribution.automations[0]?.automation).toBe('backup');
    expect(f?.window?.share_of_range).toBe(1);
  });

  it('names the busiest core', () => {
    const f = run({ metrics: { cpu_percent: constant(50) }, perCore: cores(92, 99, 10) });
    expect(f?.title).toContain('Core 1');
    expect(f?.severity).toBe('high');
  });

  it.each<[string, Partial<SystemInput>, Set<BottleneckType>?]>([
    ['core below 90', { metrics: { cpu_percent: constant(40) }, perCore: cores(89.9, 10) }],
    ['overall at 75', { metrics: { cpu_percent: constant(75) }, perCore: cores(100, 50) }],
    ['one core only', { cores: 1, metrics: { cpu_percent: constant(40) }, perCore: cores(100) }],
    ['no overall series', { perCore: cores(100, 10) }],
    ['no per-core data', { metrics: { cpu_percent: constant(40) }, perCore: [] }],
    [
      'cores without values',
      { metrics: { cpu_percent: constant(40) }, perCore: [constant(null), constant(null)] },
    ],
    [
      'cpu not requested',
      { metrics: { cpu_percent: constant(40) }, perCore: cores(100, 10) },
      new Set<BottleneckType>(['memory']),
    ],
  ])('not raised: %s', (_n, over, types) => {
    expect(run(over, types ?? ALL)).toBeUndefined();
  });
});

describe('link utilisation', () => {
  // 1000 bytes/s keeps the percentages exact.
  const link = (rx: (number | null)[], tx: (number | null)[]) => ({
    name: 'eth0',
    bytesPerSecond: 1000,
    rx: series(rx),
    tx: series(tx),
  });
  const fill = (v: number | null) => Array<number | null>(N).fill(v);

  it.each(SEVERITIES.map((s, k) => ({ s, pct: LINK_THRESHOLDS[k] as number })))(
    'receive at $pct % of link speed → $s',
    ({ s, pct }) => {
      const found = analyzeSystem(input({ links: [link(fill(pct * 10), fill(0))] }), ALL);
      expect(found.map((f) => f.id)).toEqual(['network.utilization.eth0.receive']);
      const f = found[0] as Finding;
      expect(f.severity).toBe(s);
      expect(f.evidence[0]).toMatchObject({
        metric: 'network_receive_bytes_per_second',
        observed: pct,
        unit: '% of link',
      });
      expect(f.title).toBe('eth0 receive near its link speed');
      expect(f.attribution.note).toBeDefined();
      expect(f.impact).toBeCloseTo(pct / 50, 10);
    },
  );

  it('evaluates each direction and interface separately', () => {
    const found = analyzeSystem(
      input({
        links: [
          link(fill(100), fill(960)),
          { ...link(fill(800), fill(null)), name: 'eth1', bytesPerSecond: 1000 },
        ],
      }),
      ALL,
    );
    expect(found.map((f) => [f.id, f.severity])).toEqual([
      ['network.utilization.eth0.transmit', 'critical'],
      ['network.utilization.eth1.receive', 'medium'],
    ]);
  });

  it('just below 50 % is no finding; network not requested means no link findings', () => {
    expect(analyzeSystem(input({ links: [link(fill(499), fill(499))] }), ALL)).toEqual([]);
    const busy = input({ links: [link(fill(990), fill(990))] });
    expect(analyzeSystem(busy, new Set<BottleneckType>(['cpu', 'memory', 'io']))).toEqual([]);
  });
});

describe('concentrationFindings', () => {
  const withTop = (r: 'cpu' | 'memory' | 'io', share: number) => {
    const inp = input();
    inp.processes[r] = [proc(99, share), proc(98, 0.01)];
    return inp;
  };

  it.each<[number, Severity | null]>([
    [0.249, null],
    [0.25, 'low'],
    [0.399, 'low'],
    [0.4, 'medium'],
    [0.6, 'high'],
    [0.8, 'high'],
    [1, 'high'],
  ])('top share %d → %s (capped at high)', (share, want) => {
    for (const r of ['cpu', 'memory', 'io'] as const) {
      const found = concentrationFindings(withTop(r, share), new Set([r]));
      const f = byId(found, `${r}.concentration`);
      expect(f?.severity ?? null).toBe(want);
      if (!f) continue;
      expect(f.evidence[0]?.observed).toBe(round(share));
      expect(f.title).toContain(`'p99' (pid 99) holds ${Math.round(share * 100)} %`);
      expect(f.impact).toBe(share);
      expect(f.window).toBeNull();
    }
  });

  it('names the resource in the evidence and attributes like the system findings', () => {
    const inp = input();
    inp.processes = {
      cpu: [proc(1, 0.9)],
      memory: [proc(2, 0.5, 'bytes')],
      io: [proc(3, 0.3, 'bytes')],
    };
    const found = concentrationFindings(inp, ALL);
    expect(found.map((f) => [f.id, f.severity, f.evidence[0]?.metric])).toEqual([
      ['cpu.concentration', 'high', 'process_cpu_percent'],
      ['memory.concentration', 'medium', 'process_rss_bytes'],
      ['io.concentration', 'low', 'process_write_bytes_per_second'],
    ]);
    expect(found[0]?.attribution.automations).toEqual(inp.automations);
    expect(found[1]?.attribution.automations).toEqual([]);
    expect(found[2]?.attribution.processes).toEqual(inp.processes.io);
    expect(found[0]?.rule).toContain('≥ 0.8 → critical');
    expect(found[0]?.rule).toContain('capped at high');
    expect(found[1]?.title).toContain('memory in use');
    expect(found[2]?.title).toContain('storage I/O');
  });

  it('needs a process and a requested type', () => {
    const inp = input();
    inp.processes = { cpu: [], memory: [proc(2, 0.9)], io: [proc(3, 0.9)] };
    expect(concentrationFindings(inp, new Set<BottleneckType>(['cpu', 'network']))).toEqual([]);
  });
});

describe('rankFindings', () => {
  const f = (id: string, severity: Severity, impact: number) =>
    ({ id, severity, impact }) as Finding;
  it('orders by severity, then impact, without changing its input', () => {
    const list = [
      f('a', 'low', 5),
      f('b', 'critical', 0.1),
      f('c', 'medium', 0.2),
      f('d', 'critical', 0.9),
      f('e', 'medium', 3),
      f('g', 'high', 0),
    ];
    expect(rankFindings(list).map((x) => x.id)).toEqual(['d', 'b', 'g', 'e', 'c', 'a']);
    expect(list.map((x) => x.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'g']);
  });
});

describe('systemOverview', () => {
  it('summarises the requested metrics that exist', () => {
    const out = systemOverview(
      input({ metrics: { cpu_percent: series([10, null, 30]), other: constant(1) } }),
      ['cpu_percent', 'memory_used_percent'],
    );
    expect(Object.keys(out)).toEqual(['cpu_percent']);
    expect(out.cpu_percent).toMatchObject({ count: 2, min: 10, mean: 20, max: 30, last: 30 });
  });
});
