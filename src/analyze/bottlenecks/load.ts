import fs from 'node:fs';
import { counterDelta, deriveCores, deriveSystem } from '../derive.js';
import { quantileSorted } from '../stats.js';
import type { Store } from '../../store/index.js';
import { processUsage, type ProcessUsageRow } from '../../store/usage.js';
import type { AutomationRun } from '../../store/runs.js';
import type { MachineInfo, Snapshot } from '../../types.js';
import { seriesOf } from './range-stats.js';
import type { AutomationShare, ProcessShare, RunInfo, Series, SystemInput } from './types.js';

const TOP = 5;
/** Look this far before the range for the snapshot that starts its first interval. */
const LOOKBACK_MS = 60_000;

function push(series: Record<string, Series>, name: string, ts: number, v: number | null): void {
  const s = (series[name] ??= { ts: [], values: [] });
  s.ts.push(ts);
  s.values.push(v);
}

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

/** System metrics, per-core, per-link and derived saturation series over [from, to] from raw samples. */
export function loadSystemInput(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
  sysRoot = '/sys',
): SystemInput & { samples: number } {
  const snaps = store.query.systemSnapshots(from - LOOKBACK_MS, to);
  const metrics: Record<string, Series> = {};
  const perCore: Series[] = [];
  const linkSeries = new Map<string, { rx: Series; tx: Series }>();
  const dts: number[] = [];
  let busyCpuSeconds = 0;
  let memUsed = 0;
  let memCount = 0;
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1] as Snapshot;
    const b = snaps[i] as Snapshot;
    if (b.ts <= from) continue; // that interval lies wholly before the range
    const dt = b.ts - a.ts;
    dts.push(dt);
    const v = deriveSystem(a, b) as Record<string, number | null>;
    for (const [k, val] of Object.entries(v)) push(metrics, k, b.ts, val);
    const running = b.system.procs_running;
    push(metrics, 'run_queue_per_core', b.ts, running === null ? null : running / machine.cores);
    const swaps = counterDelta(
      a.system.pswpin === null || a.system.pswpout === null
        ? null
        : a.system.pswpin + a.system.pswpout,
      b.system.pswpin === null || b.system.pswpout === null
        ? null
        : b.system.pswpin + b.system.pswpout,
    );
    push(metrics, 'swap_pages_per_second', b.ts, swaps === null ? null : (swaps * 1000) / dt);
    push(metrics, 'oom_kills', b.ts, counterDelta(a.system.oom_kill, b.system.oom_kill));
    const before = new Map(a.disks.map((d) => [d.name, d]));
    let queue: number | null = null;
    for (const d of b.disks) {
      const w = counterDelta(before.get(d.name)?.weighted_ms ?? null, d.weighted_ms);
      if (w !== null) queue = (queue ?? 0) + w / dt;
    }
    push(metrics, 'disk_queue_depth', b.ts, queue);
    deriveCores(a, b).forEach((c, core) => {
      const s = (perCore[core] ??= { ts: [], values: [] });
      s.ts.push(b.ts);
      s.values.push(c);
    });
    const nets = new Map(a.nets.map((n) => [n.name, n]));
    for (const n of b.nets) {
      const p = nets.get(n.name);
      const l = linkSeries.get(n.name) ?? {
        rx: { ts: [], values: [] },
        tx: { ts: [], values: [] },
      };
      linkSeries.set(n.name, l);
      const rx = p ? counterDelta(p.rx_bytes, n.rx_bytes) : null;
      const tx = p ? counterDelta(p.tx_bytes, n.tx_bytes) : null;
      l.rx.ts.push(b.ts);
      l.rx.values.push(rx === null ? null : (rx * 1000) / dt);
      l.tx.ts.push(b.ts);
      l.tx.values.push(tx === null ? null : (tx * 1000) / dt);
    }
    if (v.cpu_percent !== null && v.cpu_percent !== undefined) {
      busyCpuSeconds += (v.cpu_percent / 100) * machine.cores * (dt / 1000);
    }
    if (v.memory_used_bytes !== null && v.memory_used_bytes !== undefined) {
      memUsed += v.memory_used_bytes;
      memCount++;
    }
  }
  const speeds = linkSpeeds([...linkSeries.keys()], sysRoot);
  const usage = processUsage(store.db, from, to, machine.clockTicks);
  const ioTotal = usage.reduce((n, r) => n + (r.io_bytes ?? 0), 0);
  const runs = store.runs.overlapping(null, from, to);
  return {
    from,
    to,
    cores: machine.cores,
    resolutionMs:
      quantileSorted(
        [...dts].sort((x, y) => x - y),
        0.5,
      ) ?? 1000,
    metrics,
    perCore,
    links: [...linkSeries].flatMap(([name, s]) => {
      const speed = speeds.get(name);
      return speed === undefined ? [] : [{ name, bytesPerSecond: speed, rx: s.rx, tx: s.tx }];
    }),
    processes: {
      cpu: shares(usage, (r) => r.cpu_ticks / machine.clockTicks, busyCpuSeconds, 'cpu_seconds'),
      memory: shares(
        usage,
        (r) => r.rss_pages_max * machine.pageSize,
        memCount ? memUsed / memCount : 0,
        'bytes',
      ),
      io: shares(usage, (r) => r.io_bytes, ioTotal, 'bytes'),
    },
    automations: automationShares(runs, from, to, busyCpuSeconds),
    samples: dts.length,
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

function meanIn(s: Series | undefined, from: number, to: number): number | null {
  if (!s) return null;
  let sum = 0;
  let n = 0;
  s.values.forEach((v, i) => {
    const ts = s.ts[i] as number;
    if (v !== null && ts > from && ts <= to + 1000) {
      sum += v;
      n++;
    }
  });
  return n ? sum / n : null;
}

/** Automation runs active in the range, with the system's state and neighbours while each ran. */
export function loadRuns(store: Store, machine: MachineInfo, input: SystemInput): RunInfo[] {
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
        cpu_percent: meanIn(seriesOf(input, 'cpu_percent'), r.started_at, end),
        cpu_iowait_percent: meanIn(seriesOf(input, 'cpu_iowait_percent'), r.started_at, end),
        io_pressure_some_percent: meanIn(
          seriesOf(input, 'io_pressure_some_percent'),
          r.started_at,
          end,
        ),
        cpu_pressure_some_percent: meanIn(
          seriesOf(input, 'cpu_pressure_some_percent'),
          r.started_at,
          end,
        ),
      },
      alongside: shares(neighbours, (p) => p.cpu_ticks / machine.clockTicks, busy, 'cpu_seconds'),
    };
  });
}
