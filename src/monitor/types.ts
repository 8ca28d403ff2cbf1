import type { MetricCategory } from '../analyze/catalog.js';
import type { Summary } from '../analyze/stats.js';

export type MonitoringScope = 'system' | 'automation' | 'macro' | 'specific';
export type ExportFormat = 'json' | 'csv' | 'dashboard';

/** km_monitor_performance parameters after validation and defaults. */
export interface MonitorParams {
  monitoring_scope: MonitoringScope;
  target_id: string | null;
  metrics_types: MetricCategory[];
  monitoring_duration: number;
  sampling_interval: number;
  include_historical: boolean;
  alert_thresholds: Record<string, number> | null;
  export_format: ExportFormat;
}

export type MonitorTarget =
  | { kind: 'system'; label: 'system' }
  | { kind: 'pid'; label: string; pid: number; start_ticks: number; comm: string }
  | { kind: 'process_name'; label: string; name: string }
  | { kind: 'automation'; label: string; name: string };

export interface SamplePoint {
  ts: string;
  values: Record<string, number | null>;
}

export interface Breach {
  metric: string;
  threshold: number;
  direction: 'above' | 'below';
  ts: string;
  value: number;
}

export interface ProcessUsage {
  pid: number;
  command: string;
  cmdline: string;
  start_ticks: number;
  cpu_percent: number | null;
  rss_bytes: number;
}

export interface RunSummary {
  id: number;
  started_at: string;
  ended_at: string | null;
  status: string;
  wall_ms: number | null;
  cpu_ms: number | null;
  peak_rss_bytes: number | null;
  exit_code: number | null;
}

export interface Overhead {
  cpu_percent_of_one_core: number;
  rss_bytes: number;
  sample_cost_ms_p50: number | null;
  sample_cost_ms_max: number | null;
}

export interface Historical {
  available: boolean;
  window: { start: string; end: string };
  metrics: Record<string, Summary>;
  reason?: string;
}

export interface MonitorResult {
  status: 'completed' | 'cancelled';
  scope: MonitoringScope;
  target: MonitorTarget;
  window: {
    start: string;
    end: string;
    duration_s: number;
    sampling_interval_s: number;
    samples_taken: number;
  };
  metrics: Record<string, Summary & { unit: string }>;
  samples: SamplePoint[];
  samples_truncated: boolean;
  top_processes?: { by_cpu: ProcessUsage[]; by_memory: ProcessUsage[] };
  processes?: ProcessUsage[];
  automation_runs?: RunSummary[];
  breaches: Breach[];
  breach_count: number;
  historical?: Historical;
  overhead: Overhead;
  notes: string[];
}
