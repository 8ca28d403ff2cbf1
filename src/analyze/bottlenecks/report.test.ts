import { describe, expect, it } from 'vitest';
import type { BottleneckResult } from './index.js';
import { renderReport } from './report.js';
import type { Finding } from './types.js';

const cpuFinding: Finding = {
  id: 'cpu.utilization',
  resource: 'cpu',
  kind: 'utilization',
  severity: 'high',
  rule: 'p95 of cpu_percent = 93 ≥ 90 → high (thresholds: low 60, medium 75, high 90, critical 97)',
  title: 'CPU busy',
  window: {
    start: '2026-01-01T00:10:00.000Z',
    end: '2026-01-01T00:25:00.000Z',
    duration_s: 900,
    share_of_range: 0.375,
  },
  evidence: [{ metric: 'cpu_percent', statistic: 'p95', observed: 93, threshold: 90, unit: '%' }],
  attribution: {
    processes: [
      {
        pid: 4242,
        command: 'ffmpeg',
        cmdline: 'ffmpeg -i x',
        start_ticks: 9,
        share: 0.614,
        amount: 1234.5,
        unit: 'cpu_seconds',
      },
      {
        pid: 17,
        command: 'node',
        cmdline: 'node app',
        start_ticks: 3,
        share: 0.1,
        amount: 200,
        unit: 'cpu_seconds',
      },
    ],
    automations: [{ automation: 'encode', runs: 3, share: 0.25, amount: 500, unit: 'cpu_seconds' }],
  },
  impact: 0.39,
};

const netFinding: Finding = {
  id: 'network.errors',
  resource: 'network',
  kind: 'errors',
  severity: 'medium',
  rule: 'mean of network_errors_per_second = 0.2 ≥ 0.1 → medium',
  title: 'Network errors',
  window: null,
  evidence: [
    {
      metric: 'network_errors_per_second',
      statistic: 'mean',
      observed: 0.2,
      threshold: 0.1,
      unit: 'errors/s',
    },
  ],
  attribution: {
    processes: [],
    automations: [],
    note: 'per-process network traffic is not measured',
  },
  impact: 0.5,
};

function result(over: Partial<BottleneckResult> = {}): BottleneckResult {
  return {
    scope: 'system',
    range: {
      start: '2026-01-01T00:00:00.000Z',
      end: '2026-01-01T01:00:00.000Z',
      label: 'last_hour',
    },
    severity_threshold: 'medium',
    data: { samples: 3600, resolution_s: 1, sufficient: true },
    findings: [cpuFinding, netFinding],
    filtered_out: 2,
    recommendations: [
      {
        finding_id: 'cpu.utilization',
        action: "'ffmpeg' (pid 4242) used 61 % of the CPU time in this window: lower its priority.",
        target: 'process:ffmpeg',
        tool_call: { name: 'km_optimize_resources', arguments: { target_id: '4242' } },
      },
      {
        finding_id: 'network.errors',
        action: 'Check the interface for faulty cabling.',
        target: null,
        tool_call: null,
      },
    ],
    overview: {
      cpu_percent: { count: 3600, min: 1, mean: 55.555, p95: 93, max: 100, last: 40, p50: 50 },
      disk_busy_percent: {
        count: 0,
        min: null,
        mean: null,
        p95: null,
        max: null,
        last: null,
        p50: null,
      },
    },
    notes: ['samples cover about 40 % of the range; the recorder was not running all the time'],
    ...over,
  };
}

describe('renderReport', () => {
  const md = renderReport(result());
  const lines = md.split('\n');

  it('heads with the scope, range, label and sampling', () => {
    expect(lines[0]).toBe('# Bottleneck analysis: system');
    expect(md).toContain(
      'Range: 2026-01-01T00:00:00.000Z → 2026-01-01T01:00:00.000Z (last_hour); 3600 samples at ~1 s.',
    );
    expect(md).toContain('## Findings (2; 2 below medium not shown)');
    expect(md).not.toContain('> only');
  });

  it('renders every finding with severity, title, rule, window, evidence and attribution', () => {
    const cpu = lines.indexOf('### HIGH — CPU busy');
    const net = lines.indexOf('### MEDIUM — Network errors');
    expect(cpu).toBeGreaterThan(0);
    expect(net).toBeGreaterThan(cpu);
    expect(lines.slice(cpu + 1, net)).toEqual([
      '',
      `- Rule: ${cpuFinding.rule}`,
      '- Held: 2026-01-01T00:10:00.000Z → 2026-01-01T00:25:00.000Z (900 s, 38 % of the range)',
      '- Evidence: p95 cpu_percent = 93 % (threshold 90)',
      '- Used by: `ffmpeg` pid 4242 — 61 % (1234.5 cpu_seconds)',
      '- Used by: `node` pid 17 — 10 % (200 cpu_seconds)',
      '- Automation: `encode` (3 runs) — 25 % (500 cpu_seconds)',
      '',
    ]);
    expect(lines.slice(net + 1, net + 5)).toEqual([
      '',
      `- Rule: ${netFinding.rule}`,
      '- Evidence: mean network_errors_per_second = 0.2 errors/s (threshold 0.1)',
      '- Note: per-process network traffic is not measured',
    ]);
  });

  it('lists recommendations with their tool calls', () => {
    expect(md).toContain('## Recommendations');
    expect(md).toContain(
      `- 'ffmpeg' (pid 4242) used 61 % of the CPU time in this window: lower its priority. (\`km_optimize_resources {"target_id":"4242"}\`)`,
    );
    expect(lines).toContain('- Check the interface for faulty cabling.');
  });

  it('ends with the overview table and the notes', () => {
    const at = lines.indexOf('## Context');
    expect(lines.slice(at, at + 6)).toEqual([
      '## Context',
      '',
      '| metric | mean | p95 | max |',
      '|---|---|---|---|',
      '| cpu_percent | 55.56 | 93 | 100 |',
      '| disk_busy_percent | – | – | – |',
    ]);
    expect(lines.at(-2)).toBe(
      '> samples cover about 40 % of the range; the recorder was not running all the time',
    );
    expect(md.endsWith('\n')).toBe(true);
  });

  it('says so when data is insufficient and nothing was found, and omits empty sections', () => {
    const empty = renderReport(
      result({
        scope: 'automation',
        data: {
          samples: 2,
          resolution_s: 1,
          sufficient: false,
          message: 'only 2 samples in this range (about 3600 expected): findings are tentative.',
        },
        findings: [],
        filtered_out: 0,
        recommendations: [],
        overview: {},
        notes: [],
      }),
    );
    expect(empty).toContain('# Bottleneck analysis: automation');
    expect(empty).toContain(
      '> only 2 samples in this range (about 3600 expected): findings are tentative.',
    );
    expect(empty).toContain('## Findings (0)\n');
    expect(empty).toContain('No bottleneck at or above the severity threshold.');
    expect(empty).not.toContain('## Recommendations');
    expect(empty).not.toContain('## Context');
    expect(empty).not.toContain('###');
  });
});
