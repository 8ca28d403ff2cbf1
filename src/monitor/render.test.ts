import { describe, expect, it } from 'vitest';
import type { Summary } from '../analyze/stats.js';
import {
  CSV_HEADER,
  csvField,
  entityOf,
  formatValue,
  renderDashboard,
  samplesToCsv,
  sparkline,
  topProcessLines,
} from './render.js';
import { summaryText } from './export.js';
import type { MonitorResult, MonitorTarget, ProcessUsage, SamplePoint } from './types.js';

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
  ])('quotes %j as %j', (input, expected) => {
    expect(csvField(input)).toBe(expected);
  });
});

describe('entityOf', () => {
  it.each<[MonitorTarget, string]>([
    [{ kind: 'system', label: 'system' }, 'system'],
    [
      { kind: 'pid', label: 'nginx (pid 42)', pid: 42, start_ticks: 7, comm: 'nginx' },
      'process:nginx',
    ],
    [{ kind: 'process_name', label: 'postgres', name: 'postgres' }, 'process:postgres'],
    [{ kind: 'automation', label: 'nightly', name: 'nightly' }, 'automation:nightly'],
  ])('names %j as %s', (target, entity) => {
    expect(entityOf(target)).toBe(entity);
  });
});

describe('samplesToCsv', () => {
  it('writes the header and one row per non-null value, quoting the entity', () => {
    const points: SamplePoint[] = [
      { ts: '2024-01-01T00:00:00.000Z', values: { cpu_percent: 12.5, load1: null } },
      { ts: '2024-01-01T00:00:01.000Z', values: { cpu_percent: 0, load1: 1 } },
    ];
    expect(samplesToCsv(points, 'automation:a,b')).toBe(
      [
        CSV_HEADER,
        '2024-01-01T00:00:00.000Z,cpu_percent,12.5,"automation:a,b"',
        '2024-01-01T00:00:01.000Z,cpu_percent,0,"automation:a,b"',
        '2024-01-01T00:00:01.000Z,load1,1,"automation:a,b"',
        '',
      ].join('\n'),
    );
  });

  it('is only the header when there are no samples', () => {
    expect(samplesToCsv([], 'system')).toBe('timestamp,metric,value,entity\n');
  });
});

describe('sparkline', () => {
  it('is empty without finite values', () => {
    expect(sparkline([])).toBe('');
    expect(sparkline([null, null])).toBe('');
    expect(sparkline([Number.NaN, Number.POSITIVE_INFINITY])).toBe('');
  });

  it('is flat at the lowest bar for constant data', () => {
    expect(sparkline([5, 5, 5])).toBe('▁▁▁');
  });

  it('spans every bar for rising data and skips gaps', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([1, null, 3])).toBe('▁█');
  });

  it('averages several values into one bar when there are more values than width', () => {
    const values = Array.from({ length: 48 }, (_, i) => i);
    const line = sparkline(values);
    expect([...line]).toHaveLength(24);
    expect(line.startsWith('▁')).toBe(true);
    expect(line.endsWith('█')).toBe(true);
    // two values per bar: (0, 1) → 0.5, a bucket of only gaps is dropped, (10, 10) → 10
    expect(sparkline([0, 1, null, null, 10, 10], 3)).toBe('▁█');
  });
});

describe('formatValue', () => {
  it.each<[number | null, string, string]>([
    [null, 'percent', '–'],
    [12.345, 'percent', '12.3 %'],
    [512, 'bytes', '512 B'],
    [1536, 'bytes', '1.5 KiB'],
    [5 * 1024 ** 2, 'bytes', '5.0 MiB'],
    [3.25 * 1024 ** 3, 'bytes', '3.3 GiB'],
    [2 * 1024 ** 4, 'bytes', '2.0 TiB'],
    [1024 ** 5, 'bytes', '1024.0 TiB'],
    [-2048, 'bytes', '-2.0 KiB'],
    [2048, 'bytes_per_second', '2.0 KiB/s'],
    [100, 'bytes_per_second', '100 B/s'],
    [3.14159, 'ms', '3.1 ms'],
    [0.5, 'per_second', '0.50/s'],
    [3, 'tasks', '3'],
    [1.234, 'tasks', '1.23'],
    [0.1, 'ratio', '0.10'],
  ])('formats %s %s as %j', (value, unit, expected) => {
    expect(formatValue(value, unit)).toBe(expected);
  });
});

const summary = (values: number[]): Summary => ({
  count: values.length,
  min: Math.min(...values),
  mean: values.reduce((a, b) => a + b, 0) / values.length,
  p50: values[1] ?? null,
  p95: Math.max(...values),
  max: Math.max(...values),
  last: values[values.length - 1] ?? null,
});

const usage = (pid: number, command: string, cpu: number | null, rss: number): ProcessUsage => ({
  pid,
  command,
  cmdline: `/usr/bin/${command}`,
  start_ticks: 100 + pid,
  cpu_percent: cpu,
  rss_bytes: rss,
});

function result(over: Partial<MonitorResult> = {}): MonitorResult {
  return {
    status: 'completed',
    scope: 'system',
    target: { kind: 'system', label: 'system' },
    window: {
      start: '2024-01-01T00:00:00.000Z',
      end: '2024-01-01T00:00:03.000Z',
      duration_s: 3,
      sampling_interval_s: 1,
      samples_taken: 3,
    },
    metrics: {
      cpu_percent: { ...summary([10, 20, 30]), unit: 'percent' },
      memory_used_bytes: { ...summary([1024, 2048, 3072]), unit: 'bytes' },
    },
    samples: [],
    samples_truncated: false,
    breaches: [],
    breach_count: 0,
    overhead: {
      cpu_percent_of_one_core: 0.1,
      rss_bytes: 1,
      sample_cost_ms_p50: 1,
      sample_cost_ms_max: 2,
    },
    notes: [],
    ...over,
  };
}

/** A window in which cpu_percent was asked for and never had a value. */
const NO_VALUES: MonitorResult['metrics'] = {
  cpu_percent: {
    count: 0,
    min: null,
    mean: null,
    p50: null,
    p95: null,
    max: null,
    last: null,
    unit: 'percent',
  },
};

const POINTS: SamplePoint[] = [
  { ts: '2024-01-01T00:00:01.000Z', values: { cpu_percent: 10, memory_used_bytes: 1024 } },
  { ts: '2024-01-01T00:00:02.000Z', values: { cpu_percent: 20 } },
  { ts: '2024-01-01T00:00:03.000Z', values: { cpu_percent: 30, memory_used_bytes: 3072 } },
];

describe('renderDashboard', () => {
  it('shows a header, one row per metric with its spread and trend, and nothing else', () => {
    const text = renderDashboard(result(), POINTS);
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'kmpm · system · 2024-01-01T00:00:00.000Z → 2024-01-01T00:00:03.000Z · 3 samples every 1 s',
    );
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe(
      'metric                                    last        mean         p95         max  trend',
    );
    expect(lines[3]).toBe(
      'cpu_percent                             30.0 %      20.0 %      30.0 %      30.0 %  ▁▅█',
    );
    // the missing value is a gap in the trend, not a zero
    expect(lines[4]).toBe(
      'memory_used_bytes                      3.0 KiB     2.0 KiB     3.0 KiB     3.0 KiB  ▁█',
    );
    expect(lines).toHaveLength(5);
    expect(text).not.toMatch(/cancelled|top CPU|breach|note:/);
  });

  it('adds cancellation, top processes, the first breach and notes', () => {
    const text = renderDashboard(
      result({
        status: 'cancelled',
        metrics: NO_VALUES,
        top_processes: {
          by_cpu: [usage(10, 'busy', 87.25, 1024), usage(11, 'new', null, 2048)],
          by_memory: [usage(12, 'fat', 1, 2 * 1024 ** 3)],
        },
        breaches: [
          { metric: 'cpu_percent', threshold: 50, direction: 'above', ts: 'T1', value: 91 },
          { metric: 'cpu_percent', threshold: 50, direction: 'above', ts: 'T2', value: 95 },
        ],
        breach_count: 7,
        notes: ['first note', 'second note'],
      }),
      [],
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/ · 3 samples every 1 s · cancelled$/);
    expect(lines[3]).toBe(`${'cpu_percent'.padEnd(34)}${'–'.padStart(12).repeat(4)}  `);
    expect(lines.slice(4)).toEqual([
      '',
      'top CPU: busy[10] 87.3 %, new[11] –',
      'top memory: fat[12] 2.0 GiB',
      '',
      '7 threshold breach(es); first at T1 (cpu_percent = 91)',
      'note: first note',
      'note: second note',
    ]);
  });
});

describe('summaryText', () => {
  const top = {
    by_cpu: [usage(1, 'a', 50, 1), usage(2, 'b', 20, 1), usage(3, 'c', 10, 1), usage(4, 'd', 5, 1)],
    by_memory: [usage(5, 'big', 0, 3 * 1024 ** 2)],
  };
  it('lists the metrics, then the first three top processes of each kind', () => {
    expect(summaryText({ ...result({ top_processes: top }), export: { format: 'json' } })).toBe(
      'Monitored system for 3.0 s (3 samples). cpu_percent mean 20 max 30; ' +
        'memory_used_bytes mean 2048 max 3072. top CPU: a[1] 50.0 %, b[2] 20.0 %, c[3] 10.0 %. ' +
        'top memory: big[5] 3.0 MiB.',
    );
    expect(topProcessLines(top)[0]).toMatch(/, d\[4\] 5\.0 %$/);
  });

  it('says there were no values only when there were no top processes either', () => {
    const withTop = result({ metrics: NO_VALUES, top_processes: top });
    expect(summaryText({ ...withTop, export: { format: 'json' } })).not.toMatch(/No values/);
    const none = result({ metrics: NO_VALUES });
    expect(summaryText({ ...none, export: { format: 'json' } })).toBe(
      'Monitored system for 3.0 s (3 samples). No values in this window.',
    );
  });
});
