import { deriveProcess, deriveSystem, processKey } from '../analyze/derive.js';
import { summarize, type Summary } from '../analyze/stats.js';
import type { ProcessCounters, Snapshot } from '../types.js';
import type { MonitorDeps, MonitorPlan } from './monitor.js';
import { runValues } from './runs.js';
import { matchesName } from './target.js';
import type { Historical } from './types.js';

export const HISTORY_WINDOW_MS = 3600_000;
/** Process history is read at this many evenly spaced points of the hour. */
const PROCESS_POINTS = 12;

/** The same metrics summarised over the hour before `t0`, from the store. */
export function historicalSummary(plan: MonitorPlan, deps: MonitorDeps, t0: number): Historical {
  const from = t0 - HISTORY_WINDOW_MS;
  const window = { start: new Date(from).toISOString(), end: new Date(t0).toISOString() };
  const { target } = plan;
  const series: Record<string, (number | null)[]> = {};

  if (target.kind === 'system') {
    const snaps = deps.store.query.systemSnapshots(from, t0);
    for (let i = 1; i < snaps.length; i++) {
      const v = deriveSystem(snaps[i - 1] as Snapshot, snaps[i] as Snapshot) as Record<
        string,
        number | null
      >;
      for (const m of plan.sampled) (series[m] ??= []).push(v[m] ?? null);
    }
  } else if (target.kind !== 'automation') {
    const wanted = (p: ProcessCounters) =>
      target.kind === 'pid'
        ? p.pid === target.pid && p.start_ticks === target.start_ticks
        : matchesName(p, target.name);
    let prev: Map<string, ProcessCounters> | null = null;
    let prevAt = from;
    for (let i = 0; i <= PROCESS_POINTS; i++) {
      const at = from + (i * HISTORY_WINDOW_MS) / PROCESS_POINTS;
      const states = deps.store.query.processStatesAt(from, t0, at).filter(wanted);
      if (prev) {
        const sums: Record<string, number> = {};
        for (const p of states) {
          const v = deriveProcess(prev.get(processKey(p)) ?? null, p, at - prevAt, deps.machine);
          for (const [k, val] of Object.entries(v))
            if (val !== null) sums[k] = (sums[k] ?? 0) + val;
        }
        for (const m of plan.sampled) {
          if (m !== 'process_open_fds')
            (series[m] ??= []).push(states.length ? (sums[m] ?? null) : null);
        }
      }
      prev = new Map(states.map((p) => [processKey(p), p]));
      prevAt = at;
    }
  }

  if (plan.fromRuns.length) {
    const runs = deps.store.runs.finished(
      target.kind === 'automation' ? target.name : null,
      from,
      t0,
    );
    const values = runValues(runs, HISTORY_WINDOW_MS / 60_000);
    for (const m of plan.fromRuns) series[m] = values[m] ?? [];
  }

  const metrics: Record<string, Summary> = {};
  for (const [m, values] of Object.entries(series)) metrics[m] = summarize(values);
  // runs_per_minute is 0 over any empty hour: availability rests on real samples or runs.
  const available = Object.entries(metrics).some(
    ([m, s]) => s.count > 0 && m !== 'runs_per_minute',
  );
  return available
    ? { available, window, metrics }
    : {
        available,
        window,
        metrics,
        reason:
          'nothing stored for the previous hour; history is recorded while `kmpm daemon` (or `kmpm mcp`) runs',
      };
}
