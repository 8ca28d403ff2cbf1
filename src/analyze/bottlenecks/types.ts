/** Typed findings of the bottleneck analysis: evidence and attribution, never prose alone. */

export type Resource = 'cpu' | 'memory' | 'io' | 'network' | 'automation';
export type FindingKind =
  'utilization' | 'saturation' | 'errors' | 'slow_runs' | 'waiting' | 'failures';
export type Severity = 'low' | 'medium' | 'high' | 'critical';

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** A time series of per-interval values; ts[i] is the end of interval i. */
export interface Series {
  ts: number[];
  values: (number | null)[];
}

export interface Evidence {
  metric: string;
  statistic: 'p95' | 'mean' | 'max' | 'total' | 'ratio';
  observed: number;
  threshold: number;
  unit: string;
}

export interface TimeWindow {
  start: string;
  end: string;
  duration_s: number;
  /** Share of the analysed range the condition held (0-1). */
  share_of_range: number;
}

export interface ProcessShare {
  pid: number;
  command: string;
  cmdline: string;
  start_ticks: number;
  /** Share of the resource used in the window (0-1). */
  share: number;
  amount: number;
  unit: string;
}

export interface AutomationShare {
  automation: string;
  runs: number;
  share: number;
  amount: number;
  unit: string;
}

export interface Attribution {
  processes: ProcessShare[];
  automations: AutomationShare[];
  note?: string;
}

export interface Finding {
  id: string;
  resource: Resource;
  kind: FindingKind;
  severity: Severity;
  /** The documented rule that set the severity, e.g. "p95 cpu_percent ≥ 90 → high". */
  rule: string;
  title: string;
  window: TimeWindow | null;
  evidence: Evidence[];
  attribution: Attribution;
  /** Ranking within a severity: how much of the range and how far past the threshold. */
  impact: number;
}

export interface Recommendation {
  finding_id: string;
  action: string;
  target: string | null;
  tool_call: { name: string; arguments: Record<string, unknown> } | null;
}

/** Statistics of one metric over the analysed range (finite values only, count > 0). */
export interface RangeStats {
  /** Values behind the statistics: intervals of raw samples, samples behind rolled rows. */
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** The latest value. */
  readonly last: number;
  /** Quantile q in [0, 1]: exact over raw values, within 1 % from rolled-up sketches. */
  quantile(q: number): number;
}

/** How a rolled-up input reads what it did not load up front. */
export interface RolledAccess {
  /** Statistics over the range from aggregates; a percentile merges the sketches. */
  stats(metric: string): RangeStats | null;
  /** Per-step means of a metric, read (and kept in `metrics`) on first use. */
  series(metric: string): Series | undefined;
}

/** Everything the system analysis reads; built from raw samples or rolled-up tiers. */
export interface SystemInput {
  from: number;
  to: number;
  cores: number;
  resolutionMs: number;
  /** Catalog metrics plus: procs_running, procs_blocked, disk_queue_depth, swap_pages_per_second, oom_kills. */
  metrics: Record<string, Series>;
  /** Busy % per core, when raw samples cover the range. */
  perCore: Series[];
  /** Network interfaces with a known link speed, and their throughput. */
  links: { name: string; bytesPerSecond: number; rx: Series; tx: Series }[];
  processes: {
    cpu: ProcessShare[];
    memory: ProcessShare[];
    io: ProcessShare[];
  };
  automations: AutomationShare[];
  /**
   * Set when the input comes from rolled-up tiers: statistics are then taken from
   * aggregates rather than from `metrics`, which holds only the series read so far.
   */
  rolled?: RolledAccess;
}

export interface RunInfo {
  id: number;
  automation: string;
  started_at: number;
  ended_at: number | null;
  wall_ms: number | null;
  cpu_ms: number | null;
  status: string;
  /** System conditions while the run was active (means over its window). */
  during: {
    cpu_percent: number | null;
    cpu_iowait_percent: number | null;
    io_pressure_some_percent: number | null;
    cpu_pressure_some_percent: number | null;
  };
  /** Top processes by CPU while it ran (what else was running). */
  alongside: ProcessShare[];
}
