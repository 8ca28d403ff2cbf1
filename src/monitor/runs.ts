import type { AutomationRun } from '../store/runs.js';
import type { RunSummary } from './types.js';

/** Metrics with one value per run; the others have one value for the whole window. */
export const PER_RUN_METRICS: ReadonlySet<string> = new Set([
  'execution_time_ms',
  'execution_cpu_ms',
  'execution_peak_rss_bytes',
]);

/** Values of the run metrics over a set of finished runs spanning `minutes`. */
export function runValues(
  runs: readonly AutomationRun[],
  minutes: number,
): Record<string, (number | null)[]> {
  const failed = runs.filter((r) => r.status !== 'ok').length;
  return {
    execution_time_ms: runs.map((r) => r.wall_ms),
    execution_cpu_ms: runs.map((r) => r.cpu_ms),
    execution_peak_rss_bytes: runs.map((r) => r.peak_rss_bytes),
    error_rate: runs.length ? [failed / runs.length] : [],
    runs_per_minute: minutes > 0 ? [runs.length / minutes] : [],
  };
}

export function runSummaries(runs: readonly AutomationRun[], limit = 50): RunSummary[] {
  return runs.slice(-limit).map((r) => ({
    id: r.id,
    started_at: new Date(r.started_at).toISOString(),
    ended_at: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    status: r.status,
    wall_ms: r.wall_ms,
    cpu_ms: r.cpu_ms,
    peak_rss_bytes: r.peak_rss_bytes,
    exit_code: r.exit_code,
  }));
}
