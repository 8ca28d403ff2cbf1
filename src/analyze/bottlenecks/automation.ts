import { quantileSorted } from '../stats.js';
import { describeRule, round, severityFor } from './rules.js';
import type { Finding, RunInfo } from './types.js';

const ERROR_RATE_THRESHOLDS = [0.0001, 0.1, 0.25, 0.5] as const;
const SLOW_RATIO_THRESHOLDS = [1.5, 2, 4, 10] as const;
const WAIT_SHARE_THRESHOLDS = [0.5, 0.7, 0.85, 0.95] as const;
/** Below this wall time a run's CPU-vs-wall ratio says nothing about waiting. */
const MIN_WAIT_ANALYSIS_MS = 1000;

const iso = (ts: number) => new Date(ts).toISOString();

function windowOf(run: RunInfo, from: number, to: number) {
  const start = Math.max(run.started_at, from);
  const end = Math.min(run.ended_at ?? to, to);
  return {
    start: iso(start),
    end: iso(end),
    duration_s: Math.round((end - start) / 1000),
    share_of_range: (end - start) / Math.max(1, to - from),
  };
}

/** Why a run used little CPU for its wall time, from the system conditions while it ran. */
function waitCause(run: RunInfo): { cause: 'cpu' | 'io' } | null {
  const d = run.during;
  if ((d.cpu_percent ?? 0) >= 80 || (d.cpu_pressure_some_percent ?? 0) >= 25)
    return { cause: 'cpu' };
  if ((d.cpu_iowait_percent ?? 0) >= 20 || (d.io_pressure_some_percent ?? 0) >= 20)
    return { cause: 'io' };
  return null;
}

function automationFindings(name: string, runs: RunInfo[], from: number, to: number): Finding[] {
  const out: Finding[] = [];
  const finished = runs.filter((r) => r.ended_at !== null && r.wall_ms !== null);
  const failed = finished.filter((r) => r.status !== 'ok');
  const alongside = (r: RunInfo) => ({ processes: r.alongside, automations: [] });

  if (finished.length > 0) {
    const rate = failed.length / finished.length;
    const severity = severityFor(rate, ERROR_RATE_THRESHOLDS);
    if (severity) {
      const last = failed[failed.length - 1] as RunInfo;
      out.push({
        id: `automation.failures.${name}`,
        resource: 'automation',
        kind: 'failures',
        severity,
        rule: describeRule(`error_rate of ${name}`, 'mean', rate, ERROR_RATE_THRESHOLDS, severity),
        title: `${name}: ${failed.length} of ${finished.length} runs failed`,
        window: windowOf(last, from, to),
        evidence: [
          {
            metric: 'error_rate',
            statistic: 'mean',
            observed: round(rate),
            threshold: ERROR_RATE_THRESHOLDS[1],
            unit: 'ratio',
          },
        ],
        attribution: alongside(last),
        impact: rate,
      });
    }
  }

  if (finished.length >= 3) {
    const walls = finished.map((r) => r.wall_ms as number).sort((a, b) => a - b);
    const median = quantileSorted(walls, 0.5) as number;
    const slowest = [...finished].sort(
      (a, b) => (b.wall_ms as number) - (a.wall_ms as number),
    )[0] as RunInfo;
    const ratio = median > 0 ? (slowest.wall_ms as number) / median : 0;
    const severity = severityFor(ratio, SLOW_RATIO_THRESHOLDS);
    if (severity) {
      out.push({
        id: `automation.slow_runs.${name}`,
        resource: 'automation',
        kind: 'slow_runs',
        severity,
        rule: describeRule(
          `slowest/median wall time of ${name}`,
          'max',
          ratio,
          SLOW_RATIO_THRESHOLDS,
          severity,
        ),
        title: `${name}: slowest run took ${round(ratio)}× its median (${Math.round(slowest.wall_ms as number)} ms vs ${Math.round(median)} ms)`,
        window: windowOf(slowest, from, to),
        evidence: [
          {
            metric: 'execution_time_ms',
            statistic: 'max',
            observed: round(slowest.wall_ms as number),
            threshold: round(median * SLOW_RATIO_THRESHOLDS[0]),
            unit: 'ms',
          },
        ],
        attribution: alongside(slowest),
        impact: ratio,
      });
    }
  }

  for (const r of finished) {
    const wall = r.wall_ms as number;
    if (wall < MIN_WAIT_ANALYSIS_MS || r.cpu_ms === null) continue;
    const waiting = 1 - Math.min(1, r.cpu_ms / wall);
    const cause = waitCause(r)?.cause;
    const severity = severityFor(waiting, WAIT_SHARE_THRESHOLDS);
    if (!cause || !severity) continue;
    out.push({
      id: `automation.waiting.${name}.${r.id}`,
      resource: 'automation',
      kind: 'waiting',
      severity,
      rule: `${describeRule(`share of wall time not on CPU for run ${r.id}`, 'ratio', waiting, WAIT_SHARE_THRESHOLDS, severity)}, while the system's ${cause === 'cpu' ? 'CPU was saturated' : 'I/O was saturated'}`,
      title: `${name} run ${r.id} waited on ${cause === 'cpu' ? 'CPU' : 'I/O'} for ${Math.round(waiting * 100)} % of its ${Math.round(wall)} ms`,
      window: windowOf(r, from, to),
      evidence: [
        {
          metric: 'execution_cpu_ms',
          statistic: 'ratio',
          observed: round(r.cpu_ms / wall),
          threshold: round(1 - WAIT_SHARE_THRESHOLDS[0]),
          unit: 'cpu/wall',
        },
        cause === 'cpu'
          ? {
              metric: 'cpu_percent',
              statistic: 'mean',
              observed: round(r.during.cpu_percent ?? 0),
              threshold: 80,
              unit: '%',
            }
          : {
              metric: 'io_pressure_some_percent',
              statistic: 'mean',
              observed: round(
                r.during.io_pressure_some_percent ?? r.during.cpu_iowait_percent ?? 0,
              ),
              threshold: 20,
              unit: '%',
            },
      ],
      attribution: alongside(r),
      impact: waiting,
    });
  }
  return out;
}

/** Findings about automation runs: failures, outlier slow runs, runs that waited on a saturated resource. */
export function analyzeAutomations(runs: readonly RunInfo[], from: number, to: number): Finding[] {
  const byName = new Map<string, RunInfo[]>();
  for (const r of runs) {
    const list = byName.get(r.automation);
    if (list) list.push(r);
    else byName.set(r.automation, [r]);
  }
  return [...byName].flatMap(([name, list]) => automationFindings(name, list, from, to));
}
