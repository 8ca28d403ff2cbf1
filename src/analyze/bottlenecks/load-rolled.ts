/**
 * The analysis input for ranges the raw tier does not cover (or that would be slow to derive
 * from raw samples): 1-minute or 1-hour rollups. Statistics are then over per-step means,
 * and attribution is by command name (rollups keep the top consumers per minute by name).
 */
import { SYSTEM_METRICS } from '../catalog.js';
import { queryHistory, systemMetricsSummary, type HistoryResult } from '../../store/history.js';
import type { Store } from '../../store/index.js';
import type { MachineInfo } from '../../types.js';
import type { AutomationShare, ProcessShare, Series, SystemInput } from './types.js';

const TOP = 5;

function toSeries(r: HistoryResult): Series {
  return { ts: r.points.map((p) => p.ts + r.stepMs), values: r.points.map((p) => p.mean) };
}

/** Mean of a process series over the range, weighted by how much of the range each point covers. */
function processMeans(store: Store, metric: string, from: number, to: number, stepMs: number) {
  const entities = store.db
    .prepare("SELECT entity FROM series WHERE metric = ? AND entity LIKE 'process:%'")
    .pluck()
    .all(metric) as string[];
  return entities.map((entity) => {
    const r = queryHistory(store, { metric, entity, from, to, stepMs });
    const sum = r.points.reduce((n, p) => n + p.mean * p.count, 0);
    const count = r.points.reduce((n, p) => n + p.count, 0);
    return {
      command: entity.slice('process:'.length),
      mean: count ? sum / count : 0,
      max: r.summary.max ?? 0,
      minutes: count,
    };
  });
}

function share(command: string, amount: number, total: number, unit: string): ProcessShare {
  return {
    pid: 0,
    command,
    cmdline: '',
    start_ticks: 0,
    share: total > 0 ? Math.min(1, amount / total) : 0,
    amount: Math.round(amount * 1000) / 1000,
    unit,
  };
}

export function loadRolledInput(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
): SystemInput & { samples: number } {
  const stepMs = to - from > 7 * 86_400_000 ? 3_600_000 : 60_000;
  const results = systemMetricsSummary(
    store,
    SYSTEM_METRICS.map((m) => m.name),
    from,
    to,
    { stepMs },
  );
  const metrics: Record<string, Series> = {};
  for (const [m, r] of Object.entries(results)) metrics[m] = toSeries(r);
  const cpu = results.cpu_percent;
  const samples = cpu?.points.length ?? 0;
  const busyCpuSeconds = (cpu?.points ?? []).reduce(
    (n, p) => n + (p.mean / 100) * machine.cores * (stepMs / 1000),
    0,
  );
  const memUsed = results.memory_used_bytes?.summary.mean ?? 0;

  // A rolled process point is one minute at that mean CPU %, so CPU seconds = mean % × minutes × 60 / 100.
  const cpuByName = processMeans(store, 'process_cpu_percent', from, to, stepMs)
    .map((p) => share(p.command, (p.mean / 100) * p.minutes * 60, busyCpuSeconds, 'cpu_seconds'))
    .sort((a, b) => b.amount - a.amount)
    .slice(0, TOP);
  const memByName = processMeans(store, 'process_rss_bytes', from, to, stepMs)
    .map((p) => share(p.command, p.max, memUsed, 'bytes'))
    .sort((a, b) => b.amount - a.amount)
    .slice(0, TOP);

  const automations: AutomationShare[] = [];
  for (const entity of store.db
    .prepare(
      "SELECT entity FROM series WHERE metric = 'execution_cpu_ms' AND entity LIKE 'automation:%'",
    )
    .pluck()
    .all() as string[]) {
    const r = queryHistory(store, { metric: 'execution_cpu_ms', entity, from, to, stepMs });
    const cpuSeconds = r.points.reduce((n, p) => n + p.mean * p.count, 0) / 1000;
    const runs = r.points.reduce((n, p) => n + p.count, 0);
    if (runs === 0) continue;
    automations.push({
      automation: entity.slice('automation:'.length),
      runs,
      share: busyCpuSeconds > 0 ? Math.min(1, cpuSeconds / busyCpuSeconds) : 0,
      amount: Math.round(cpuSeconds * 1000) / 1000,
      unit: 'cpu_seconds',
    });
  }
  automations.sort((a, b) => b.amount - a.amount);

  return {
    from,
    to,
    cores: machine.cores,
    resolutionMs: stepMs,
    metrics,
    perCore: [],
    links: [],
    processes: { cpu: cpuByName, memory: memByName, io: [] },
    automations: automations.slice(0, TOP),
    samples,
  };
}
