import type { Summary } from '../stats.js';
import {
  seriesOf,
  seriesStats,
  statisticOf,
  statsOf,
  summaryOf,
  valueStats,
} from './range-stats.js';
import {
  LINK_THRESHOLDS,
  RULES,
  describeRule,
  evidenceOf,
  longestWindow,
  round,
  severityFor,
  type ThresholdRule,
} from './rules.js';
import type { Attribution, Finding, Resource, Series, SystemInput } from './types.js';

export type BottleneckType = 'cpu' | 'memory' | 'io' | 'network';

function attributionFor(resource: Resource, input: SystemInput): Attribution {
  switch (resource) {
    case 'cpu':
      return { processes: input.processes.cpu, automations: input.automations };
    case 'memory':
      return { processes: input.processes.memory, automations: [] };
    case 'io':
      return { processes: input.processes.io, automations: [] };
    default:
      return {
        processes: [],
        automations: [],
        note: 'per-process network traffic is not measured; look at the processes with open sockets',
      };
  }
}

function ruleFinding(r: ThresholdRule, input: SystemInput): Finding | null {
  const stats = statsOf(input, r.metric);
  if (stats === null) return null;
  // A mean, a percentile or the maximum is at most the maximum: below the lowest threshold
  // no severity is reached, and rolled-up sketches need not be read.
  if (r.statistic !== 'total' && stats.max < r.thresholds[0]) return null;
  const observed = statisticOf(stats, r.statistic);
  const severity = severityFor(observed, r.thresholds);
  if (severity === null) return null;
  const series = seriesOf(input, r.metric);
  const window = !series
    ? null
    : r.statistic === 'total'
      ? longestWindow(series, Number.MIN_VALUE, input.from, input.to, input.resolutionMs)
      : longestWindow(series, r.thresholds[0], input.from, input.to, input.resolutionMs);
  const threshold = evidenceOf(r, observed, severity).threshold;
  return {
    id: r.id,
    resource: r.resource,
    kind: r.kind,
    severity,
    rule: describeRule(r.metric, r.statistic, observed, r.thresholds, severity),
    title: r.title,
    window,
    evidence: [evidenceOf(r, observed, severity)],
    attribution: attributionFor(r.resource, input),
    impact: (window?.share_of_range ?? 0) * (threshold > 0 ? observed / threshold : 1),
  };
}

/** A core pinned while the machine as a whole is not: a single-threaded bottleneck. */
function coreFinding(input: SystemInput): Finding | null {
  const overall = statsOf(input, 'cpu_percent')?.quantile(0.95) ?? null;
  let worst: { core: number; p95: number; series: Series } | null = null;
  input.perCore.forEach((s, core) => {
    const p95 = seriesStats(s)?.quantile(0.95) ?? null;
    if (p95 !== null && (!worst || p95 > worst.p95)) worst = { core, p95, series: s };
  });
  const w = worst as { core: number; p95: number; series: Series } | null;
  if (!w || overall === null || input.cores < 2 || overall >= 75) return null;
  const thresholds = [90, 95, 98, 100] as const;
  const severity = severityFor(w.p95, thresholds);
  if (severity === null) return null;
  const window = longestWindow(w.series, thresholds[0], input.from, input.to, input.resolutionMs);
  return {
    id: 'cpu.single_core',
    resource: 'cpu',
    kind: 'saturation',
    severity: severity === 'critical' ? 'high' : severity,
    rule: `${describeRule(`core ${w.core} busy percent`, 'p95', w.p95, thresholds, severity)} while p95 of cpu_percent = ${round(overall)} < 75; capped at high`,
    title: `Core ${w.core} is saturated while others are not (single-threaded work)`,
    window,
    evidence: [
      {
        metric: `core${w.core}_busy_percent`,
        statistic: 'p95',
        observed: round(w.p95),
        threshold: 90,
        unit: '%',
      },
      {
        metric: 'cpu_percent',
        statistic: 'p95',
        observed: round(overall),
        threshold: 75,
        unit: '%',
      },
    ],
    attribution: attributionFor('cpu', input),
    impact: window?.share_of_range ?? 0,
  };
}

function linkFindings(input: SystemInput): Finding[] {
  const out: Finding[] = [];
  for (const link of input.links) {
    for (const [dir, series] of [
      ['receive', link.rx],
      ['transmit', link.tx],
    ] as const) {
      const share: Series = {
        ts: series.ts,
        values: series.values.map((v) => (v === null ? null : (100 * v) / link.bytesPerSecond)),
      };
      const p95 = valueStats(share.values)?.quantile(0.95) ?? null;
      if (p95 === null) continue;
      const severity = severityFor(p95, LINK_THRESHOLDS);
      if (severity === null) continue;
      const window = longestWindow(
        share,
        LINK_THRESHOLDS[0],
        input.from,
        input.to,
        input.resolutionMs,
      );
      out.push({
        id: `network.utilization.${link.name}.${dir}`,
        resource: 'network',
        kind: 'utilization',
        severity,
        rule: describeRule(
          `${link.name} ${dir} share of link speed`,
          'p95',
          p95,
          LINK_THRESHOLDS,
          severity,
        ),
        title: `${link.name} ${dir} near its link speed`,
        window,
        evidence: [
          {
            metric: `network_${dir}_bytes_per_second`,
            statistic: 'p95',
            observed: round(p95),
            threshold: LINK_THRESHOLDS[0],
            unit: '% of link',
          },
        ],
        attribution: attributionFor('network', input),
        impact: (window?.share_of_range ?? 0) * (p95 / LINK_THRESHOLDS[0]),
      });
    }
  }
  return out;
}

/** USE-method findings for the chosen resources, unfiltered and unranked. */
export function analyzeSystem(input: SystemInput, types: ReadonlySet<BottleneckType>): Finding[] {
  const findings: Finding[] = [];
  for (const r of RULES) {
    if (!types.has(r.resource as BottleneckType)) continue;
    const f = ruleFinding(r, input);
    if (f) findings.push(f);
  }
  if (types.has('cpu')) {
    const f = coreFinding(input);
    if (f) findings.push(f);
  }
  if (types.has('network')) findings.push(...linkFindings(input));
  return findings;
}

/** Per-metric spread over the range, for the report's context table. */
export function systemOverview(
  input: SystemInput,
  metrics: readonly string[],
): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  for (const m of metrics) {
    const s = statsOf(input, m);
    if (s || input.metrics[m]) out[m] = summaryOf(s);
  }
  return out;
}
