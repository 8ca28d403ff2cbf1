import fs from 'node:fs';
import { DERIVE_FIELDS, deriveWindow, type DerivedWindow } from '../derive-window.js';
import { readRawColumns } from '../../store/raw-columns.js';
import { quantileSorted } from '../stats.js';
import type { Store } from '../../store/index.js';
import { processUsage, type ProcessUsageRow } from '../../store/usage.js';
import type { AutomationRun } from '../../store/runs.js';
import type { MachineInfo } from '../../types.js';
import { seriesOf } from './range-stats.js';
import type { AutomationShare, ProcessShare, RunInfo, Series, SystemInput } from './types.js';

const TOP = 5;
/** Look this far before the range for the snapshot that starts its first interval. */
const LOOKBACK_MS = 60_000;

/** Link speed in bytes/s from /sys/class/net/IF/speed (Mb/s; -1 or unreadable when unknown). */
export function linkSpeeds(names: readonly string[], sysRoot = '/sys'): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of names) {
    if (name === 'lo' || !/^[\w.-]+$/.test(name)) continue;
    try {
      const mbps = Number(fs.readFileSync(`${sysRoot}/class/net/${name}/speed`, 'utf8').trim());
      if (Number.isFinite(mbps) && mbps > 0) out.set(name, (mbps * 1e6) / 8);
    } catch {
      // virtual interfaces have no speed, or report EINVAL when down
    }
  }
  return out;
}

function shares(
  rows: ProcessUsageRow[],
  amount: (r: ProcessUsageRow) => number | null,
  total: number,
  unit: string,
): ProcessShare[] {
  return rows
    .map((r) => ({ r, a: amount(r) }))
    .filter((x): x is { r: ProcessUsageRow; a: number } => x.a !== null && x.a > 0)
    .sort((a, b) => b.a - a.a)
    .slice(0, TOP)
    .map(({ r, a }) => ({
      pid: r.pid,
      command: r.comm,
      cmdline: r.cmdline.slice(0, 200),
      start_ticks: r.start_ticks,
      share: total > 0 ? Math.min(1, a / total) : 0,
      amount: Math.round(a * 1000) / 1000,
      unit,
    }));
}

/** Derived values of the raw samples whose intervals end in (from, to]. */
export function deriveRaw(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
): DerivedWindow {
  const columns = readRawColumns(store.db, from - LOOKBACK_MS, to, {
    fields: DERIVE_FIELDS,
    cores: true,
  });
  return deriveWindow(columns, from, machine.cores);
}

/** A derived window as the analysis reads it: series per metric, core and link. */
export function windowInput(
  w: DerivedWindow,
  sysRoot: string,
): Pick<SystemInput, 'metrics' | 'perCore' | 'links'> {
  const metrics: Record<string, Series> = {};
  if (w.ts.length > 0) {
    for (const [name, values] of Object.entries(w.metrics)) metrics[name] = { ts: w.ts, values };
  }
  const speeds = linkSpeeds([...w.links.keys()], sysRoot);
  return {
    metrics,
    perCore: w.perCore,
    links: [...w.links].flatMap(([name, s]) => {
      const speed = speeds.get(name);
      return speed === undefined
        ? []
        : [
            {
              name,
              bytesPerSecond: speed,
              rx: { ts: s.ts, values: s.rx },
              tx: { ts: s.ts, values: s.tx },
            },
          ];
    }),
  };
}

/** Mean of the non-null values, 0 when there are none. */
function meanOf(values: readonly (number | null)[] | undefined): number {
  let sum = 0;
  let n = 0;
  for (const v of values ?? []) {
    if (v !== null) {
      sum += v;
      n++;
    }
  }
  return n ? sum / n : 0;
}

/** Processes and automation runs by their share of CPU, memory and I/O over [from, to]. */
export function rawAttribution(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
  busyCpuSeconds: number,
  memUsed: number,
): Pick<SystemInput, 'processes' | 'automations'> {
  const usage = processUsage(store.db, from, to, machine.clockTicks);
  const ioTotal = usage.reduce((n, r) => n + (r.io_bytes ?? 0), 0);
  return {
    processes: {
      cpu: shares(usage, (r) => r.cpu_ticks / machine.clockTicks, busyCpuSeconds, 'cpu_seconds'),
      memory: shares(usage, (r) => r.rss_pages_max * machine.pageSize, memUsed, 'bytes'),
      io: shares(usage, (r) => r.io_bytes, ioTotal, 'bytes'),
    },
    automations: automationShares(store.runs.overlapping(null, from, to), from, to, busyCpuSeconds),
  };
}

/** System metrics, per-core, per-link and derived saturation series over [from, to] from raw samples. */
export function loadSystemInput(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
  sysRoot = '/sys',
): SystemInput & { samples: number } {
  const w = deriveRaw(store, machine, from, to);
  return {
    from,
    to,
    cores: machine.cores,
    resolutionMs:
      quantileSorted(
        [...w.dts].sort((x, y) => x - y),
        0.5,
      ) ?? 1000,
    ...windowInput(w, sysRoot),
    ...rawAttribution(
      store,
      machine,
      from,
      to,
      w.busyCpuSeconds,
      meanOf(w.metrics.memory_used_bytes),
    ),
    samples: w.dts.length,
  };
}

/** CPU of automation runs, prorated to the part of each run inside the window. */
function automationShares(
  runs: AutomationRun[],
  from: number,
  to: number,
  busyCpuSeconds: number,
): AutomationShare[] {
  const by = new Map<string, { runs: number; cpu: number }>();
  for (const r of runs) {
    if (r.cpu_ms === null || r.ended_at === null) continue;
    const span = Math.max(1, r.ended_at - r.started_at);
    const inside = Math.max(0, Math.min(r.ended_at, to) - Math.max(r.started_at, from));
    const e = by.get(r.automation) ?? { runs: 0, cpu: 0 };
    e.runs++;
    e.cpu += (r.cpu_ms / 1000) * (inside / span);
    by.set(r.automation, e);
  }
  return [...by]
    .map(([automation, e]) => ({
      automation,
      runs: e.runs,
      share: busyCpuSeconds > 0 ? Math.min(1, e.cpu / busyCpuSeconds) : 0,
      amount: Math.round(e.cpu * 1000) / 1000,
      unit: 'cpu_seconds',
    }))
    .sort((a, b) => b.amount - a.amount)
    .slice(0, TOP);
}

/** The run's own process and its descendants: not 'what else was running'. */
function runTree(rows: readonly ProcessUsageRow[], root: number | null): Set<number> {
  const tree = new Set<number>(root === null ? [] : [root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of rows) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return tree;
}

/**
 * Mean of the points whose interval (`step` long, ending at the point) overlaps [from, to]:
 * over per-minute steps, a run of a few seconds gets the minute it ran in.
 */
function meanIn(s: Series | undefined, from: number, to: number, step: number): number | null {
  if (!s) return null;
  const reach = Math.max(1000, step);
  let sum = 0;
  let n = 0;
  s.values.forEach((v, i) => {
    const ts = s.ts[i] as number;
    if (v !== null && ts > from && ts <= to + reach) {
      sum += v;
      n++;
    }
  });
  return n ? sum / n : null;
}

/** Automation runs active in the range, with the system's state and neighbours while each ran. */
export function loadRuns(store: Store, machine: MachineInfo, input: SystemInput): RunInfo[] {
  // Raw intervals keep the reach of a second past a run's end.
  const step = input.rolled ? input.resolutionMs : 1000;
  return store.runs.overlapping(null, input.from, input.to).map((r) => {
    const end = r.ended_at ?? input.to;
    const during = processUsage(store.db, r.started_at, end, machine.clockTicks);
    const own = runTree(during, r.pid);
    const neighbours = during.filter((p) => !own.has(p.pid));
    const busy = neighbours.reduce((n, p) => n + p.cpu_ticks / machine.clockTicks, 0);
    return {
      id: r.id,
      automation: r.automation,
      started_at: r.started_at,
      ended_at: r.ended_at,
      wall_ms: r.wall_ms,
      cpu_ms: r.cpu_ms,
      status: r.status,
      during: {
        cpu_percent: meanIn(seriesOf(input, 'cpu_percent'), r.started_at, end, step),
        cpu_iowait_percent: meanIn(seriesOf(input, 'cpu_iowait_percent'), r.started_at, end, step),
        io_pressure_some_percent: meanIn(
          seriesOf(input, 'io_pressure_some_percent'),
          r.started_at,
          end,
          step,
        ),
        cpu_pressure_some_percent: meanIn(
          seriesOf(input, 'cpu_pressure_some_percent'),
          r.started_at,
          end,
          step,
        ),
      },
      alongside: shares(neighbours, (p) => p.cpu_ticks / machine.clockTicks, busy, 'cpu_seconds'),
    };
  });
}
