/**
 * Current values of the automation metrics for alerting, kept up to date from finished runs.
 *
 * Runs are events, but alert evaluation needs a value at every tick, so each metric is a
 * step function of the runs seen so far:
 * - execution_time_ms, execution_cpu_ms, execution_peak_rss_bytes: the latest finished run
 *   speaks for the automation until the next one finishes, however rare its runs are;
 * - error_rate: the share of failed runs among the last ERROR_RATE_RUNS;
 * - runs_per_minute: runs finished in the trailing RATE_WINDOW_MS, per minute.
 * An automation with no finished run has no value (null), so its rules stay inactive.
 */

export interface FinishedRun {
  id: number;
  automation: string;
  ended_at: number;
  wall_ms: number | null;
  cpu_ms: number | null;
  peak_rss_bytes: number | null;
  status: 'ok' | 'failed';
}

export const ERROR_RATE_RUNS = 10;
export const RATE_WINDOW_MS = 300_000;

/** Runs of one automation, ascending by end time: the last ERROR_RATE_RUNS plus the rate window. */
type Runs = FinishedRun[];

function latest(runs: Runs): FinishedRun | undefined {
  return runs[runs.length - 1];
}

/** Index of the first run that ended after `after` (binary search; runs are sorted). */
function firstAfter(runs: Runs, after: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((runs[mid] as FinishedRun).ended_at <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class AutomationValues {
  private readonly byName = new Map<string, Runs>();

  /** Adds a run; false when it was already seen or is too old to matter. Idempotent. */
  observe(run: FinishedRun): boolean {
    let runs = this.byName.get(run.automation);
    if (!runs) this.byName.set(run.automation, (runs = []));
    if (runs.some((r) => r.id === run.id)) return false;
    const newest = latest(runs)?.ended_at ?? -Infinity;
    const keepAfter = newest - RATE_WINDOW_MS;
    if (runs.length >= ERROR_RATE_RUNS && run.ended_at <= Math.min(keepAfter, runs[0]!.ended_at)) {
      return false;
    }
    // Runs arrive nearly in order; insert from the end.
    let i = runs.length;
    while (i > 0 && (runs[i - 1] as FinishedRun).ended_at > run.ended_at) i--;
    runs.splice(i, 0, run);
    this.prune(runs);
    return true;
  }

  private prune(runs: Runs): void {
    const keepAfter = (latest(runs) as FinishedRun).ended_at - RATE_WINDOW_MS;
    const drop = Math.min(runs.length - ERROR_RATE_RUNS, firstAfter(runs, keepAfter));
    if (drop > 0) runs.splice(0, drop);
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** The value of an automation metric for one automation at time ts; null when unknown. */
  value(metric: string, automation: string, ts: number): number | null {
    const runs = this.byName.get(automation);
    const last = runs && latest(runs);
    if (!runs || !last) return null;
    switch (metric) {
      case 'execution_time_ms':
        return last.wall_ms;
      case 'execution_cpu_ms':
        return last.cpu_ms;
      case 'execution_peak_rss_bytes':
        return last.peak_rss_bytes;
      case 'error_rate': {
        const recent = runs.slice(-ERROR_RATE_RUNS);
        return recent.filter((r) => r.status === 'failed').length / recent.length;
      }
      case 'runs_per_minute': {
        const inWindow = firstAfter(runs, ts) - firstAfter(runs, ts - RATE_WINDOW_MS);
        return inWindow / (RATE_WINDOW_MS / 60_000);
      }
      default:
        return null;
    }
  }
}
