/**
 * The metric catalog: the names users see in MCP output, CSV, the dashboard and /metrics.
 * Prometheus style: snake_case with the unit in the name.
 */

export type MetricCategory =
  'cpu' | 'memory' | 'disk' | 'network' | 'processes' | 'execution_time' | 'error_rate';

export type EntityKind = 'system' | 'process' | 'automation';

export interface MetricDef {
  name: string;
  entity: EntityKind;
  category: MetricCategory;
  unit: string;
  help: string;
}

/** Keeps each name's literal type: SystemMetric and the others are unions of the names. */
const def = <N extends string>(
  name: N,
  entity: EntityKind,
  category: MetricCategory,
  unit: string,
  help: string,
): MetricDef & { name: N } => ({ name, entity, category, unit, help });

export const SYSTEM_METRICS = [
  def('cpu_percent', 'system', 'cpu', 'percent', 'CPU busy time, share of all cores (0-100)'),
  def('cpu_iowait_percent', 'system', 'cpu', 'percent', 'CPU time idle while waiting for I/O'),
  def('cpu_steal_percent', 'system', 'cpu', 'percent', 'CPU time taken by the hypervisor'),
  def('load1', 'system', 'cpu', 'tasks', 'Load average over 1 minute'),
  def('load5', 'system', 'cpu', 'tasks', 'Load average over 5 minutes'),
  def('load15', 'system', 'cpu', 'tasks', 'Load average over 15 minutes'),
  def('cpu_pressure_some_percent', 'system', 'cpu', 'percent', 'Time some task waited for CPU'),
  def('memory_used_bytes', 'system', 'memory', 'bytes', 'Memory in use (total - available)'),
  def('memory_used_percent', 'system', 'memory', 'percent', 'Memory in use, share of total'),
  def('memory_available_bytes', 'system', 'memory', 'bytes', 'Memory available for new work'),
  def('swap_used_percent', 'system', 'memory', 'percent', 'Swap in use, share of total swap'),
  def(
    'memory_pressure_some_percent',
    'system',
    'memory',
    'percent',
    'Time some task stalled on memory',
  ),
  def('major_faults_per_second', 'system', 'memory', 'per_second', 'Page faults that needed I/O'),
  def(
    'disk_read_bytes_per_second',
    'system',
    'disk',
    'bytes_per_second',
    'Bytes read from whole disks',
  ),
  def(
    'disk_write_bytes_per_second',
    'system',
    'disk',
    'bytes_per_second',
    'Bytes written to whole disks',
  ),
  def('disk_busy_percent', 'system', 'disk', 'percent', 'Busiest disk: time with I/O in flight'),
  def('disk_await_ms', 'system', 'disk', 'ms', 'Mean time per completed disk I/O'),
  def('io_pressure_some_percent', 'system', 'disk', 'percent', 'Time some task stalled on I/O'),
  def(
    'network_receive_bytes_per_second',
    'system',
    'network',
    'bytes_per_second',
    'Bytes received (all interfaces but lo)',
  ),
  def(
    'network_transmit_bytes_per_second',
    'system',
    'network',
    'bytes_per_second',
    'Bytes sent (all interfaces but lo)',
  ),
  def(
    'network_errors_per_second',
    'system',
    'network',
    'per_second',
    'Receive and transmit errors',
  ),
  def('network_drops_per_second', 'system', 'network', 'per_second', 'Dropped packets'),
  def(
    'tcp_retransmits_per_second',
    'system',
    'network',
    'per_second',
    'TCP segments retransmitted',
  ),
] as const;

export const PROCESS_METRICS = [
  def('process_cpu_percent', 'process', 'cpu', 'percent', 'CPU of one core (can exceed 100)'),
  def('process_rss_bytes', 'process', 'memory', 'bytes', 'Resident memory'),
  def('process_read_bytes_per_second', 'process', 'disk', 'bytes_per_second', 'Storage bytes read'),
  def(
    'process_write_bytes_per_second',
    'process',
    'disk',
    'bytes_per_second',
    'Storage bytes written',
  ),
  def('process_threads', 'process', 'processes', 'threads', 'Threads'),
  def('process_open_fds', 'process', 'processes', 'fds', 'Open file descriptors'),
] as const;

export const AUTOMATION_METRICS = [
  def('execution_time_ms', 'automation', 'execution_time', 'ms', 'Wall time of a run'),
  def('execution_cpu_ms', 'automation', 'cpu', 'ms', 'CPU time of the run and its process tree'),
  def(
    'execution_peak_rss_bytes',
    'automation',
    'memory',
    'bytes',
    'Peak resident memory of the run',
  ),
  def('error_rate', 'automation', 'error_rate', 'ratio', 'Share of runs that failed (0-1)'),
  def('runs_per_minute', 'automation', 'execution_time', 'per_minute', 'Runs finished per minute'),
] as const;

export type SystemMetric = (typeof SYSTEM_METRICS)[number]['name'];
export type ProcessMetric = (typeof PROCESS_METRICS)[number]['name'];
export type AutomationMetric = (typeof AUTOMATION_METRICS)[number]['name'];
export type MetricName = SystemMetric | ProcessMetric | AutomationMetric;

export const CATALOG: readonly MetricDef[] = [
  ...SYSTEM_METRICS,
  ...PROCESS_METRICS,
  ...AUTOMATION_METRICS,
];

const BY_NAME = new Map(CATALOG.map((m) => [m.name, m]));

export function metricDef(name: string): MetricDef | undefined {
  return BY_NAME.get(name);
}

export const METRIC_NAMES: readonly string[] = CATALOG.map((m) => m.name);

/** Catalog metrics of one entity kind in the given categories, in catalog order. */
export function metricsFor(
  entity: EntityKind,
  categories: ReadonlySet<MetricCategory>,
): MetricDef[] {
  return CATALOG.filter((m) => m.entity === entity && categories.has(m.category));
}
