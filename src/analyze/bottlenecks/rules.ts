/**
 * The documented USE-method rules: each names a metric, the statistic taken over the range
 * and four thresholds (low, medium, high, critical). A finding's severity is the highest
 * threshold the statistic reaches. docs/user-guide.md lists the same table.
 */
import { statisticOf, valueStats } from './range-stats.js';
import type { Evidence, FindingKind, Resource, Series, Severity, TimeWindow } from './types.js';
import { SEVERITIES } from './types.js';

export type Statistic = 'p95' | 'mean' | 'max' | 'total';

export interface ThresholdRule {
  id: string;
  resource: Resource;
  kind: FindingKind;
  metric: string;
  statistic: Statistic;
  thresholds: readonly [number, number, number, number];
  unit: string;
  title: string;
}

const rule = (
  id: string,
  resource: Resource,
  kind: FindingKind,
  metric: string,
  statistic: Statistic,
  thresholds: readonly [number, number, number, number],
  unit: string,
  title: string,
): ThresholdRule => ({ id, resource, kind, metric, statistic, thresholds, unit, title });

export const RULES: readonly ThresholdRule[] = [
  rule(
    'cpu.utilization',
    'cpu',
    'utilization',
    'cpu_percent',
    'p95',
    [60, 75, 90, 97],
    '%',
    'CPU busy',
  ),
  rule(
    'cpu.run_queue',
    'cpu',
    'saturation',
    'run_queue_per_core',
    'p95',
    [1, 1.5, 2, 4],
    'runnable tasks per core',
    'More runnable tasks than cores',
  ),
  rule(
    'cpu.pressure',
    'cpu',
    'saturation',
    'cpu_pressure_some_percent',
    'p95',
    [10, 25, 50, 80],
    '%',
    'Tasks waiting for CPU (PSI)',
  ),
  rule(
    'cpu.steal',
    'cpu',
    'saturation',
    'cpu_steal_percent',
    'mean',
    [2, 5, 10, 20],
    '%',
    'CPU time taken by the hypervisor',
  ),
  rule(
    'cpu.iowait',
    'cpu',
    'saturation',
    'cpu_iowait_percent',
    'p95',
    [10, 20, 40, 60],
    '%',
    'CPUs idle waiting for I/O',
  ),
  rule(
    'memory.utilization',
    'memory',
    'utilization',
    'memory_used_percent',
    'p95',
    [75, 85, 92, 97],
    '%',
    'Memory in use',
  ),
  rule(
    'memory.swapping',
    'memory',
    'saturation',
    'swap_pages_per_second',
    'p95',
    [1, 10, 100, 1000],
    'pages/s',
    'Swapping',
  ),
  rule(
    'memory.major_faults',
    'memory',
    'saturation',
    'major_faults_per_second',
    'p95',
    [10, 50, 200, 1000],
    'faults/s',
    'Page faults that wait for disk',
  ),
  rule(
    'memory.pressure',
    'memory',
    'saturation',
    'memory_pressure_some_percent',
    'p95',
    [5, 10, 25, 50],
    '%',
    'Tasks stalled on memory (PSI)',
  ),
  rule(
    'memory.oom_kills',
    'memory',
    'errors',
    'oom_kills',
    'total',
    [1, 1, 2, 3],
    'kills',
    'Processes killed for lack of memory',
  ),
  rule(
    'io.utilization',
    'io',
    'utilization',
    'disk_busy_percent',
    'p95',
    [50, 70, 90, 98],
    '%',
    'Disk busy',
  ),
  rule(
    'io.await',
    'io',
    'saturation',
    'disk_await_ms',
    'p95',
    [20, 50, 100, 500],
    'ms',
    'Slow disk I/O',
  ),
  rule(
    'io.queue',
    'io',
    'saturation',
    'disk_queue_depth',
    'p95',
    [1, 2, 4, 16],
    'requests',
    'Disk queue',
  ),
  rule(
    'io.pressure',
    'io',
    'saturation',
    'io_pressure_some_percent',
    'p95',
    [10, 20, 40, 70],
    '%',
    'Tasks stalled on I/O (PSI)',
  ),
  rule(
    'network.errors',
    'network',
    'errors',
    'network_errors_per_second',
    'mean',
    [0.01, 0.1, 1, 10],
    'errors/s',
    'Network errors',
  ),
  rule(
    'network.drops',
    'network',
    'errors',
    'network_drops_per_second',
    'mean',
    [0.01, 0.1, 1, 10],
    'drops/s',
    'Dropped packets',
  ),
  rule(
    'network.retransmits',
    'network',
    'saturation',
    'tcp_retransmits_per_second',
    'p95',
    [1, 5, 20, 100],
    'segments/s',
    'TCP retransmits',
  ),
];

/** Link utilisation, evaluated per interface with a known speed. */
export const LINK_THRESHOLDS: readonly [number, number, number, number] = [50, 70, 85, 95];

export function statistic(values: readonly (number | null)[], stat: Statistic): number | null {
  const s = valueStats(values);
  return s === null ? null : statisticOf(s, stat);
}

/** The highest severity whose threshold the value reaches, or null below 'low'. */
export function severityFor(value: number, thresholds: readonly number[]): Severity | null {
  let found: Severity | null = null;
  SEVERITIES.forEach((s, i) => {
    if (value >= (thresholds[i] as number)) found = s;
  });
  return found;
}

export function describeRule(
  metric: string,
  stat: string,
  observed: number,
  thresholds: readonly number[],
  severity: Severity,
): string {
  const levels = SEVERITIES.map((s, i) => `${s} ${thresholds[i]}`).join(', ');
  return `${stat} of ${metric} = ${round(observed)} ≥ ${thresholds[SEVERITIES.indexOf(severity)]} → ${severity} (thresholds: ${levels})`;
}

export function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * The longest stretch where the series stayed at or above `threshold`, as a window;
 * intervals without a value end a stretch.
 */
export function longestWindow(
  series: Series,
  threshold: number,
  from: number,
  to: number,
  resolutionMs: number,
): TimeWindow | null {
  let bestStart = 0;
  let bestEnd = -1;
  let start: number | null = null;
  let held = 0;
  for (let i = 0; i < series.values.length; i++) {
    const v = series.values[i] ?? null;
    const end = series.ts[i] as number;
    if (v === null || v < threshold) {
      start = null;
      continue;
    }
    held += resolutionMs;
    start ??= end - resolutionMs;
    if (end - start > bestEnd - bestStart) [bestStart, bestEnd] = [start, end];
  }
  if (bestEnd < 0) return null;
  const [s, e] = [bestStart, bestEnd];
  return {
    start: new Date(Math.max(s, from)).toISOString(),
    end: new Date(e).toISOString(),
    duration_s: Math.round((e - Math.max(s, from)) / 1000),
    share_of_range: Math.min(1, held / Math.max(1, to - from)),
  };
}

export function evidenceOf(r: ThresholdRule, observed: number, severity: Severity): Evidence {
  return {
    metric: r.metric,
    statistic: r.statistic,
    observed: round(observed),
    threshold: r.thresholds[SEVERITIES.indexOf(severity)] as number,
    unit: r.unit,
  };
}
