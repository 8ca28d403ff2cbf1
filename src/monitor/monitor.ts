import { setTimeout as delay } from 'node:timers/promises';
import { metricDef, type MetricCategory } from '../analyze/catalog.js';
import { deriveProcess, deriveSystem, processKey } from '../analyze/derive.js';
import { quantileSorted, summarize } from '../analyze/stats.js';
import type { PlatformBackend } from '../collect/backend.js';
import type { Sampler } from '../collect/sampler.js';
import type { Store } from '../store/index.js';
import type { MachineInfo, ProcessCounters, Snapshot } from '../types.js';
import { historicalSummary } from './historical.js';
import { PER_RUN_METRICS, runSummaries, runValues } from './runs.js';
import {
  matchesName,
  resolveTarget,
  resolveThresholds,
  runMetrics,
  sampledMetrics,
  type Threshold,
} from './target.js';
import type {
  Breach,
  MonitorParams,
  MonitorResult,
  MonitorTarget,
  ProcessUsage,
  SamplePoint,
} from './types.js';

export interface MonitorDeps {
  backend: PlatformBackend;
  machine: MachineInfo;
  store: Store;
  clock?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface MonitorHooks {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, message: string) => void;
}

export interface MonitorPlan {
  params: MonitorParams;
  target: MonitorTarget;
  sampled: string[];
  fromRuns: string[];
  thresholds: Threshold[];
}

export const MAX_SAMPLES_RETURNED = 300;
const MAX_BREACHES_RETURNED = 100;

/** Validates everything that depends on the machine's state; throws InputError. */
export function planMonitor(
  params: MonitorParams,
  backend: PlatformBackend,
  store: Store,
): MonitorPlan {
  const target = resolveTarget(params, backend, store);
  const cats = new Set<MetricCategory>(params.metrics_types);
  const sampled = sampledMetrics(target, cats);
  const fromRuns = runMetrics(target, cats);
  const thresholds = resolveThresholds(params.alert_thresholds, target, [...sampled, ...fromRuns]);
  return { params, target, sampled, fromRuns, thresholds };
}

interface Seen {
  c: ProcessCounters;
  ts: number;
}

/** One reading of whatever the target is: a system snapshot and/or the target's processes. */
interface Reading {
  ts: number;
  snapshot: Snapshot | null;
  procs: ProcessCounters[];
}

const abortableSleep = (ms: number, signal?: AbortSignal) =>
  delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined);

/** Descendants of the given roots (inclusive) within one process listing. */
function processTree(
  all: readonly ProcessCounters[],
  roots: ReadonlySet<number>,
): ProcessCounters[] {
  const children = new Map<number, ProcessCounters[]>();
  for (const p of all) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcessCounters[] = [];
  const stack = all.filter((p) => roots.has(p.pid));
  while (stack.length) {
    const p = stack.pop() as ProcessCounters;
    out.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

export interface MonitorOutcome {
  result: MonitorResult;
  /** Every sample, where result.samples may be thinned. */
  points: SamplePoint[];
}

export async function runMonitor(
  plan: MonitorPlan,
  deps: MonitorDeps,
  hooks: MonitorHooks = {},
): Promise<MonitorOutcome> {
  const { params, target } = plan;
  const clock = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  const cats = new Set<MetricCategory>(params.metrics_types);
  const wantFds = plan.sampled.includes('process_open_fds');
  const notes: string[] = [];
  const sampler: Sampler | null =
    target.kind === 'pid'
      ? null
      : deps.backend.createSampler({ processes: true, ioEvery: cats.has('disk') ? 1 : 10 });

  const read = (): Reading => {
    const ts = clock();
    if (target.kind === 'pid') {
      const p = deps.backend.readProcess(target.pid);
      return { ts, snapshot: null, procs: p && p.start_ticks === target.start_ticks ? [p] : [] };
    }
    const snapshot = (sampler as Sampler).sample(ts).snapshot;
    const all = snapshot.processes ?? [];
    if (target.kind === 'system') return { ts, snapshot, procs: all };
    if (target.kind === 'process_name') {
      return { ts, snapshot, procs: all.filter((p) => matchesName(p, target.name)) };
    }
    const roots = new Set(
      deps.store.runs.running(target.name).flatMap((r) => (r.pid === null ? [] : [r.pid])),
    );
    return { ts, snapshot, procs: roots.size ? processTree(all, roots) : [] };
  };

  const intervalMs = params.sampling_interval * 1000;
  const total = Math.max(1, Math.floor((params.monitoring_duration * 1000 + 1e-6) / intervalMs));
  const cpuStart = process.cpuUsage();
  const costs: number[] = [];
  const points: SamplePoint[] = [];
  const firstSeen = new Map<string, Seen>();
  const lastSeen = new Map<string, Seen>();
  const track = (r: Reading) => {
    for (const c of r.procs) {
      const key = processKey(c);
      if (!firstSeen.has(key)) firstSeen.set(key, { c, ts: r.ts });
      lastSeen.set(key, { c, ts: r.ts });
    }
  };

  const timed = (): Reading => {
    const t = performance.now();
    const r = read();
    costs.push(performance.now() - t);
    return r;
  };

  const t0 = clock();
  let prev = timed();
  track(prev);
  let cancelled = false;
  let exited = false;
  for (let k = 1; k <= total; k++) {
    await sleep(Math.max(0, t0 + k * intervalMs - clock()), hooks.signal);
    if (hooks.signal?.aborted) {
      cancelled = true;
      break;
    }
    const cur = timed();
    track(cur);
    points.push({
      ts: new Date(cur.ts).toISOString(),
      values: valuesOf(plan.sampled, prev, cur, deps, wantFds),
    });
    prev = cur;
    hooks.onProgress?.(k, total, `${k}/${total} samples`);
    if (target.kind === 'pid' && cur.procs.length === 0) {
      notes.push(
        `process ${target.pid} exited at ${new Date(cur.ts).toISOString()}; sampling stopped`,
      );
      exited = true;
      break;
    }
  }
  sampler?.close();
  const tEnd = clock();
  const cpu = process.cpuUsage(cpuStart);

  const metrics: MonitorResult['metrics'] = {};
  for (const name of plan.sampled) {
    metrics[name] = {
      ...summarize(points.map((p) => p.values[name] ?? null)),
      unit: metricDef(name)?.unit ?? '',
    };
  }
  const breaches: Breach[] = [];
  for (const t of plan.thresholds) {
    for (const p of points) {
      const v = p.values[t.metric];
      if (v === null || v === undefined) continue;
      if (t.direction === 'above' ? v > t.value : v < t.value) {
        breaches.push({
          metric: t.metric,
          threshold: t.value,
          direction: t.direction,
          ts: p.ts,
          value: v,
        });
      }
    }
  }

  const result: MonitorResult = {
    status: cancelled ? 'cancelled' : 'completed',
    scope: params.monitoring_scope,
    target,
    window: {
      start: new Date(t0).toISOString(),
      end: new Date(tEnd).toISOString(),
      duration_s: (tEnd - t0) / 1000,
      sampling_interval_s: params.sampling_interval,
      samples_taken: points.length,
    },
    metrics,
    samples: thin(points),
    samples_truncated: points.length > MAX_SAMPLES_RETURNED,
    breaches: [],
    breach_count: 0,
    overhead: {
      cpu_percent_of_one_core: tEnd > t0 ? (cpu.user + cpu.system) / 10 / (tEnd - t0) : 0,
      rss_bytes: process.memoryUsage.rss(),
      sample_cost_ms_p50: quantileSorted(
        [...costs].sort((a, b) => a - b),
        0.5,
      ),
      sample_cost_ms_max: costs.length ? Math.max(...costs) : null,
    },
    notes,
  };

  const usage = usageOf(firstSeen, lastSeen, deps.machine);
  if (target.kind === 'system') {
    const n = cats.has('processes') ? 10 : 5;
    result.top_processes = {
      by_cpu: [...usage].sort((a, b) => (b.cpu_percent ?? -1) - (a.cpu_percent ?? -1)).slice(0, n),
      by_memory: [...usage].sort((a, b) => b.rss_bytes - a.rss_bytes).slice(0, n),
    };
  } else {
    result.processes = usage
      .sort((a, b) => (b.cpu_percent ?? -1) - (a.cpu_percent ?? -1))
      .slice(0, 50);
  }

  if (plan.fromRuns.length) {
    const name = target.kind === 'automation' ? target.name : null;
    const runs = deps.store.runs.finished(name, t0, tEnd);
    const values = runValues(runs, (tEnd - t0) / 60_000);
    for (const m of plan.fromRuns) {
      metrics[m] = { ...summarize(values[m] ?? []), unit: metricDef(m)?.unit ?? '' };
    }
    result.automation_runs = runSummaries(runs);
    for (const t of plan.thresholds) {
      if (!plan.fromRuns.includes(t.metric)) continue;
      const perRun = PER_RUN_METRICS.has(t.metric);
      (values[t.metric] ?? []).forEach((v, i) => {
        if (v === null || !(t.direction === 'above' ? v > t.value : v < t.value)) return;
        const at = perRun ? (runs[i]?.ended_at ?? tEnd) : tEnd;
        breaches.push({
          metric: t.metric,
          threshold: t.value,
          direction: t.direction,
          ts: new Date(at).toISOString(),
          value: v,
        });
      });
    }
    if (runs.length === 0) notes.push('no automation run finished during the window');
  }
  if (
    target.kind === 'automation' &&
    points.every((p) => Object.values(p.values).every((v) => v === null))
  ) {
    notes.push(
      `no run of '${target.name}' was active during the window, so no live CPU or memory samples`,
    );
  }
  breaches.sort((a, b) => a.ts.localeCompare(b.ts));
  result.breach_count = breaches.length;
  result.breaches = breaches.slice(0, MAX_BREACHES_RETURNED);
  if (breaches.length > MAX_BREACHES_RETURNED) {
    notes.push(`${breaches.length} breaches; the first ${MAX_BREACHES_RETURNED} are listed`);
  }
  if (params.include_historical) {
    result.historical = historicalSummary(plan, deps, t0);
  }
  if (!cancelled && !exited && points.length < total) notes.push('fewer samples than planned');
  return { result, points };
}

function valuesOf(
  metrics: readonly string[],
  prev: Reading,
  cur: Reading,
  deps: MonitorDeps,
  wantFds: boolean,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (prev.snapshot && cur.snapshot && metrics.some((m) => !m.startsWith('process_'))) {
    const sys = deriveSystem(prev.snapshot, cur.snapshot) as Record<string, number | null>;
    for (const m of metrics) if (m in sys) out[m] = sys[m] ?? null;
    if (metrics.every((m) => m in sys)) return out;
  }
  const before = new Map(prev.procs.map((p) => [processKey(p), p]));
  const sums: Record<string, number | null> = {};
  for (const p of cur.procs) {
    const fds = wantFds ? deps.backend.countOpenFds(p.pid) : null;
    const v = deriveProcess(
      before.get(processKey(p)) ?? null,
      p,
      cur.ts - prev.ts,
      deps.machine,
      fds,
    );
    for (const [k, val] of Object.entries(v)) {
      if (val === null) continue;
      sums[k] = (sums[k] ?? 0) + val;
    }
  }
  for (const m of metrics) if (m.startsWith('process_')) out[m] = sums[m] ?? null;
  return out;
}

function usageOf(
  first: Map<string, Seen>,
  last: Map<string, Seen>,
  machine: MachineInfo,
): ProcessUsage[] {
  const out: ProcessUsage[] = [];
  for (const [key, l] of last) {
    const f = first.get(key) as Seen;
    const dt = l.ts - f.ts;
    const ticks = l.c.utime + l.c.stime - (f.c.utime + f.c.stime);
    out.push({
      pid: l.c.pid,
      command: l.c.comm,
      cmdline: l.c.cmdline.slice(0, 200),
      start_ticks: l.c.start_ticks,
      cpu_percent: dt > 0 ? ((ticks / machine.clockTicks) * 100_000) / dt : null,
      rss_bytes: l.c.rss_pages * machine.pageSize,
    });
  }
  return out;
}

function thin(points: SamplePoint[]): SamplePoint[] {
  if (points.length <= MAX_SAMPLES_RETURNED) return points;
  const stride = Math.ceil(points.length / MAX_SAMPLES_RETURNED);
  return points.filter((_, i) => i % stride === 0 || i === points.length - 1);
}
