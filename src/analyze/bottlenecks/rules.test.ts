import { describe, expect, it } from 'vitest';
import {
  LINK_THRESHOLDS,
  RULES,
  describeRule,
  evidenceOf,
  longestWindow,
  round,
  severityFor,
  statistic,
  type Statistic,
  type ThresholdRule,
} from './rules.js';
import { analyzeSystem, type BottleneckType } from './system.js';
import { SEVERITIES, type Series, type Severity, type SystemInput } from './types.js';

const T0 = Date.UTC(2026, 0, 1);

function series(values: (number | null)[], step = 1000, start = T0): Series {
  return { ts: values.map((_, i) => start + (i + 1) * step), values };
}

/** Values whose `stat` is exactly `value` (mean over two equal values is exact in binary). */
function valuesFor(stat: Statistic, value: number): number[] {
  switch (stat) {
    case 'p95':
    case 'max':
      return Array<number>(10).fill(value);
    case 'mean':
      return [value, value];
    case 'total':
      return [0, value / 2, 0, value / 2];
  }
}

function inputWith(metric: string, s: Series): SystemInput {
  return {
    from: T0,
    to: T0 + s.values.length * 1000,
    cores: 4,
    resolutionMs: 1000,
    metrics: { [metric]: s },
    perCore: [],
    links: [],
    processes: { cpu: [], memory: [], io: [] },
    automations: [],
  };
}

function evaluate(r: ThresholdRule, values: number[]) {
  const s = series(values);
  const found = analyzeSystem(inputWith(r.metric, s), new Set([r.resource as BottleneckType]));
  return found.find((f) => f.id === r.id);
}

/** The severity a value equal to thresholds[k] must get: the highest level with that threshold. */
function expectedAt(r: ThresholdRule, k: number): Severity {
  const t = r.thresholds[k] as number;
  return SEVERITIES[r.thresholds.lastIndexOf(t)] as Severity;
}

describe('RULES table', () => {
  it('has unique ids, non-decreasing positive thresholds and resources the system analysis reads', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const r of RULES) {
      expect(r.thresholds[0], r.id).toBeGreaterThan(0);
      for (let i = 1; i < 4; i++) {
        expect(r.thresholds[i], r.id).toBeGreaterThanOrEqual(r.thresholds[i - 1] as number);
      }
      expect(['cpu', 'memory', 'io', 'network']).toContain(r.resource);
      expect(r.id.startsWith(`${r.resource}.`)).toBe(true);
    }
    for (let i = 1; i < 4; i++) {
      expect(LINK_THRESHOLDS[i]).toBeGreaterThan(LINK_THRESHOLDS[i - 1] as number);
    }
  });

  const cases = RULES.flatMap((r) =>
    SEVERITIES.map((level, k) => ({ r, level, k, value: r.thresholds[k] as number })),
  );
  it.each(cases)(
    '$r.id: $r.statistic of $r.metric = $value ($level threshold) → that severity',
    ({ r, k, value }) => {
      const values = valuesFor(r.statistic, value);
      expect(statistic(values, r.statistic)).toBe(value);
      const f = evaluate(r, values);
      const want = expectedAt(r, k);
      expect(f?.severity).toBe(want);
      expect(f?.resource).toBe(r.resource);
      expect(f?.kind).toBe(r.kind);
      expect(f?.title).toBe(r.title);
      expect(f?.evidence).toEqual([
        {
          metric: r.metric,
          statistic: r.statistic,
          observed: round(value),
          threshold: r.thresholds[SEVERITIES.indexOf(want)],
          unit: r.unit,
        },
      ]);
      expect(f?.rule).toContain(`→ ${want}`);
      expect(f?.window).not.toBeNull();
    },
  );

  it.each(RULES.map((r) => ({ r, below: (r.thresholds[0] as number) * 0.999 })))(
    '$r.id: just below low ($below) → no finding',
    ({ r, below }) => {
      const values = valuesFor(r.statistic, below);
      expect(statistic(values, r.statistic)).toBeCloseTo(below, 12);
      expect(evaluate(r, values)).toBeUndefined();
    },
  );

  it('one OOM kill is already medium: the low and medium thresholds coincide', () => {
    const oom = RULES.find((r) => r.id === 'memory.oom_kills') as ThresholdRule;
    expect(evaluate(oom, [0, 0, 1, 0])?.severity).toBe('medium');
    expect(evaluate(oom, [0, 0, 0, 0])).toBeUndefined();
  });
});

describe('statistic', () => {
  const ramp = Array.from({ length: 20 }, (_, i) => i + 1);
  it.each<[string, (number | null)[], Statistic, number | null]>([
    ['p95 interpolates between ranks', ramp, 'p95', 19.05],
    ['mean', ramp, 'mean', 10.5],
    ['max', ramp, 'max', 20],
    ['total', ramp, 'total', 210],
    ['p95 of one value', [7], 'p95', 7],
    ['nulls are gaps', [null, 4, null, 6], 'mean', 5],
    ['non-finite values are skipped', [Number.NaN, 3, Number.POSITIVE_INFINITY, 5], 'total', 8],
    ['max of negatives', [-3, -1, -2], 'max', -1],
    ['empty p95', [], 'p95', null],
    ['empty mean', [], 'mean', null],
    ['empty max', [], 'max', null],
    ['empty total', [], 'total', null],
    ['all gaps', [null, null], 'total', null],
  ])('%s', (_name, values, stat, want) => {
    const got = statistic(values, stat);
    if (want === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(want, 10);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    statistic(values, 'p95');
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('severityFor', () => {
  const cpu = [60, 75, 90, 97];
  it.each<[number, readonly number[], Severity | null]>([
    [-1, cpu, null],
    [0, cpu, null],
    [59.999, cpu, null],
    [60, cpu, 'low'],
    [74.999, cpu, 'low'],
    [75, cpu, 'medium'],
    [89.999, cpu, 'medium'],
    [90, cpu, 'high'],
    [96.999, cpu, 'high'],
    [97, cpu, 'critical'],
    [1e9, cpu, 'critical'],
    [1, [1, 1, 2, 3], 'medium'],
    [0.99, [1, 1, 2, 3], null],
    [2, [1, 1, 2, 3], 'high'],
  ])('%d against %j → %s', (value, thresholds, want) => {
    expect(severityFor(value, thresholds)).toBe(want);
  });
});

describe('longestWindow', () => {
  // Intervals end at T0+1s … T0+10s; values ≥ 5 form stretches [1,2], [4,6] and [8].
  const s = series([0, 5, 5, 0, 5, 6, 7, null, 5, 0]);

  it('returns the longest stretch at or above the threshold, and the share of all intervals that were', () => {
    expect(longestWindow(s, 5, T0, T0 + 10_000, 1000)).toEqual({
      start: new Date(T0 + 4000).toISOString(),
      end: new Date(T0 + 7000).toISOString(),
      duration_s: 3,
      share_of_range: 0.6,
    });
  });

  it('a gap ends a stretch even when values on both sides qualify', () => {
    const gapped = series([5, 5, null, 5, 5, 5]);
    const w = longestWindow(gapped, 5, T0, T0 + 6000, 1000);
    expect(w?.start).toBe(new Date(T0 + 3000).toISOString());
    expect(w?.duration_s).toBe(3);
    const joined = longestWindow(series([5, 5, 5, 5, 5, 5]), 5, T0, T0 + 6000, 1000);
    expect(joined?.duration_s).toBe(6);
  });

  it('keeps the first of two equally long stretches', () => {
    const w = longestWindow(series([9, 9, 0, 9, 9]), 9, T0, T0 + 5000, 1000);
    expect(w?.start).toBe(new Date(T0).toISOString());
    expect(w?.end).toBe(new Date(T0 + 2000).toISOString());
  });

  it('clips a stretch that began before `from`', () => {
    const w = longestWindow(s, 5, T0 + 4500, T0 + 10_000, 1000);
    expect(w?.start).toBe(new Date(T0 + 4500).toISOString());
    expect(w?.end).toBe(new Date(T0 + 7000).toISOString());
    expect(w?.duration_s).toBe(3); // 2.5 s rounds up
    const first = longestWindow(series([8, 8]), 5, T0 + 300, T0 + 2000, 1000);
    expect(first?.start).toBe(new Date(T0 + 300).toISOString());
    expect(first?.duration_s).toBe(2);
  });

  it('caps the share at 1 and guards a zero-length range', () => {
    expect(longestWindow(series([5, 5, 5]), 5, T0, T0 + 1000, 1000)?.share_of_range).toBe(1);
    expect(longestWindow(series([5]), 5, T0, T0, 1000)?.share_of_range).toBe(1);
  });

  it('returns null when nothing reaches the threshold, or the series is empty', () => {
    expect(longestWindow(s, 7.5, T0, T0 + 10_000, 1000)).toBeNull();
    expect(longestWindow(series([null, null]), 0, T0, T0 + 2000, 1000)).toBeNull();
    expect(longestWindow({ ts: [], values: [] }, 0, T0, T0 + 2000, 1000)).toBeNull();
  });
});

describe('describeRule and evidenceOf', () => {
  it('names the metric, statistic, observed value, threshold reached and every level', () => {
    expect(describeRule('cpu_percent', 'p95', 91.23456, [60, 75, 90, 97], 'high')).toBe(
      'p95 of cpu_percent = 91.23 ≥ 90 → high (thresholds: low 60, medium 75, high 90, critical 97)',
    );
    expect(describeRule('oom_kills', 'total', 1, [1, 1, 2, 3], 'medium')).toBe(
      'total of oom_kills = 1 ≥ 1 → medium (thresholds: low 1, medium 1, high 2, critical 3)',
    );
    expect(describeRule('x', 'mean', 0.004, [0.01, 0.1, 1, 10], 'critical')).toContain(
      '= 0 ≥ 10 → critical',
    );
  });

  it('evidence carries the threshold of the severity reached', () => {
    const r = RULES.find((x) => x.id === 'io.await') as ThresholdRule;
    expect(evidenceOf(r, 123.456, 'high')).toEqual({
      metric: 'disk_await_ms',
      statistic: 'p95',
      observed: 123.46,
      threshold: 100,
      unit: 'ms',
    });
    expect(evidenceOf(r, 20, 'low').threshold).toBe(20);
  });

  it('round keeps two decimals', () => {
    expect(round(1.005)).toBe(1);
    expect(round(2.345)).toBe(2.35);
    expect(round(-0.126)).toBe(-0.13);
    expect(round(7)).toBe(7);
  });
});
