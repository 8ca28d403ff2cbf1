import path from 'node:path';
import { metricDef, metricsFor, type MetricCategory } from '../analyze/catalog.js';
import type { PlatformBackend } from '../collect/backend.js';
import { InputError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { ProcessCounters } from '../types.js';
import type { MonitorParams, MonitorTarget } from './types.js';

/** Does a process answer to a name: its comm, or the basename of its executable. */
export function matchesName(p: Pick<ProcessCounters, 'comm' | 'cmdline'>, name: string): boolean {
  if (p.comm === name) return true;
  const argv0 = p.cmdline.split(' ', 1)[0] ?? '';
  return argv0 !== '' && path.basename(argv0) === name;
}

export function resolveTarget(
  params: MonitorParams,
  backend: PlatformBackend,
  store: Store,
): MonitorTarget {
  const id = params.target_id;
  switch (params.monitoring_scope) {
    case 'system':
      if (id !== null) {
        throw new InputError(
          'target_id',
          "is not used with monitoring_scope 'system'; use monitoring_scope 'specific' for a process or 'automation' for an automation",
        );
      }
      return { kind: 'system', label: 'system' };
    case 'specific': {
      if (id === null) {
        throw new InputError(
          'target_id',
          "is required with monitoring_scope 'specific': a PID or a process name",
        );
      }
      if (/^\d+$/.test(id)) {
        const pid = Number(id);
        const p = backend.readProcess(pid);
        if (!p) throw new InputError('target_id', `no running process with PID ${pid}`);
        return {
          kind: 'pid',
          label: `${p.comm} (pid ${pid})`,
          pid,
          start_ticks: p.start_ticks,
          comm: p.comm,
        };
      }
      if (!backend.listProcesses().some((p) => matchesName(p, id))) {
        throw new InputError(
          'target_id',
          `no running process named '${id}' (give a PID or a command name)`,
        );
      }
      return { kind: 'process_name', label: id, name: id };
    }
    case 'automation':
    case 'macro': {
      if (id === null) {
        throw new InputError(
          'target_id',
          `is required with monitoring_scope '${params.monitoring_scope}': the automation's name`,
        );
      }
      const known = store.runs.names();
      if (!known.includes(id)) {
        const list = known.length ? known.slice(0, 20).join(', ') : 'none recorded yet';
        throw new InputError(
          'target_id',
          `unknown automation '${id}'; known automations: ${list} (record runs with: kmpm run --name NAME -- COMMAND)`,
        );
      }
      return { kind: 'automation', label: id, name: id };
    }
  }
}

/** Metrics sampled every interval for this target. */
export function sampledMetrics(target: MonitorTarget, cats: ReadonlySet<MetricCategory>): string[] {
  if (target.kind === 'system') return metricsFor('system', cats).map((m) => m.name);
  const names = metricsFor('process', cats).map((m) => m.name);
  // An automation's process tree changes as it runs; fd counts of a whole tree mean little.
  return target.kind === 'automation' ? names.filter((n) => n !== 'process_open_fds') : names;
}

/** Metrics computed from automation runs that finish in the window. */
export function runMetrics(target: MonitorTarget, cats: ReadonlySet<MetricCategory>): string[] {
  if (target.kind === 'pid' || target.kind === 'process_name') return [];
  const out: string[] = [];
  if (cats.has('execution_time')) out.push('execution_time_ms', 'runs_per_minute');
  if (target.kind === 'automation') {
    if (cats.has('cpu')) out.push('execution_cpu_ms');
    if (cats.has('memory')) out.push('execution_peak_rss_bytes');
  }
  if (cats.has('error_rate')) out.push('error_rate');
  return out;
}

const PRIMARY: Record<string, Partial<Record<MetricCategory, string>>> = {
  system: {
    cpu: 'cpu_percent',
    memory: 'memory_used_percent',
    disk: 'disk_busy_percent',
    network: 'network_receive_bytes_per_second',
    execution_time: 'execution_time_ms',
    error_rate: 'error_rate',
  },
  process: {
    cpu: 'process_cpu_percent',
    memory: 'process_rss_bytes',
    disk: 'process_write_bytes_per_second',
    processes: 'process_threads',
    execution_time: 'execution_time_ms',
    error_rate: 'error_rate',
  },
};

/** Metrics where a LOW value is the problem. */
const LOWER_IS_WORSE = new Set(['memory_available_bytes']);

export interface Threshold {
  metric: string;
  value: number;
  direction: 'above' | 'below';
}

/**
 * alert_thresholds keys are catalog metric names, or a category standing for its main
 * metric (cpu → cpu_percent for the system, process_cpu_percent for a process).
 */
export function resolveThresholds(
  thresholds: Record<string, number> | null,
  target: MonitorTarget,
  available: readonly string[],
): Threshold[] {
  if (!thresholds) return [];
  const primary = PRIMARY[target.kind === 'system' ? 'system' : 'process'] ?? {};
  return Object.entries(thresholds).map(([key, value]) => {
    const metric = primary[key as MetricCategory] ?? key;
    if (!available.includes(metric)) {
      const known = metricDef(metric)
        ? `'${metric}' is not monitored in this call`
        : `unknown metric '${key}'`;
      throw new InputError(
        `alert_thresholds.${key}`,
        `${known}; allowed keys here: ${available.join(', ')} (or a category of metrics_types)`,
      );
    }
    return { metric, value, direction: LOWER_IS_WORSE.has(metric) ? 'below' : 'above' };
  });
}
