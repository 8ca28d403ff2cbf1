/**
 * The analysis input for ranges too long to derive from raw samples quickly: the rolled-up
 * tiers, read as plain aggregates (count, sum, max) without decoding sketches, so a month
 * is analysed in tens of milliseconds. Statistics are then over per-step means (1 minute
 * for ranges up to two days, else 1 hour), and attribution is by command name, as the
 * rollups keep the top consumers of each minute by name.
 */
import { SYSTEM_METRICS } from '../catalog.js';
import { getMeta } from '../../store/db.js';
import type { Store } from '../../store/index.js';
import { ROLLUP_1H_UNTIL } from '../../store/rollup.js';
import type { MachineInfo } from '../../types.js';
import type { AutomationShare, ProcessShare, Series, SystemInput } from './types.js';

const TOP = 5;
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Up to this range the 1-minute tier keeps short peaks visible; beyond, 1-hour rows. */
const MINUTE_STEPS_UP_TO_MS = 2 * 86_400_000;

interface Row {
  key: string;
  ts: number;
  count: number;
  sum: number;
  max: number;
}

/**
 * Aggregates of the given series over [from, to], grouped in SQL (per series, or per series
 * and step when `step` is set): hour rows where the hourly rollup has passed and minute rows
 * after it, so the two tiers never overlap and nothing counts twice.
 */
function rows(
  store: Store,
  where: string,
  params: unknown[],
  from: number,
  to: number,
  step: number,
  perStep: boolean,
): Row[] {
  const hourUntil = Number(getMeta(store.db, ROLLUP_1H_UNTIL) ?? Number.NEGATIVE_INFINITY);
  // Totals (perStep false) are the same from either tier, so they take the fewest rows.
  const useHours = (step >= HOUR || !perStep) && Number.isFinite(hourUntil);
  const bucket = perStep ? `(r.ts / ${step}) * ${step}` : '0';
  const select = (table: string, tsCond: string) =>
    `SELECT s.metric || char(0) || s.entity AS key, ${bucket} AS ts, sum(r.count) AS count,
       sum(r.sum) AS sum, max(r.max) AS max
     FROM ${table} r JOIN series s ON s.id = r.series_id
     WHERE ${where} AND r.ts BETWEEN ? AND ? ${tsCond}
     GROUP BY r.series_id${perStep ? `, ${bucket}` : ''}`;
  const minuteFrom = useHours ? Math.max(from, hourUntil) : from;
  const out = store.db.prepare(select('rollup_1m', '')).all(...params, minuteFrom, to) as Row[];
  if (useHours && from < hourUntil) {
    out.push(
      ...(store.db
        .prepare(select('rollup_1h', 'AND r.ts < ?'))
        .all(...params, from, to, hourUntil) as Row[]),
    );
  }
  return out;
}

/** Per-step means of one series. */
function toSeries(list: Row[], step: number): Series {
  const buckets = new Map<number, { count: number; sum: number }>();
  for (const r of list) {
    const b = buckets.get(r.ts) ?? { count: 0, sum: 0 };
    b.count += r.count;
    b.sum += r.sum;
    buckets.set(r.ts, b);
  }
  const ts = [...buckets.keys()].sort((a, b) => a - b);
  return {
    ts: ts.map((t) => t + step),
    values: ts.map((t) => {
      const b = buckets.get(t) as { count: number; sum: number };
      return b.sum / b.count;
    }),
  };
}

function group(list: Row[]): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const r of list) {
    const l = out.get(r.key);
    if (l) l.push(r);
    else out.set(r.key, [r]);
  }
  return out;
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

const nameOf = (key: string) => key.slice(key.indexOf(':', key.indexOf('\u0000')) + 1);

export function loadRolledInput(
  store: Store,
  machine: MachineInfo,
  from: number,
  to: number,
): SystemInput & { samples: number } {
  const step = to - from > MINUTE_STEPS_UP_TO_MS ? HOUR : MINUTE;
  const names = SYSTEM_METRICS.map((m) => m.name);
  const system = group(
    rows(
      store,
      `s.entity = 'system' AND s.metric IN (${names.map(() => '?').join(', ')})`,
      names,
      from,
      to,
      step,
      true,
    ),
  );
  const metrics: Record<string, Series> = {};
  for (const [key, list] of system)
    metrics[key.slice(0, key.indexOf('\u0000'))] = toSeries(list, step);
  const cpu = metrics.cpu_percent;
  const busyCpuSeconds = (cpu?.values ?? []).reduce<number>(
    (n, v) => n + ((v ?? 0) / 100) * machine.cores * (step / 1000),
    0,
  );
  const mem = metrics.memory_used_bytes?.values.filter((v): v is number => v !== null) ?? [];
  const memUsed = mem.length ? mem.reduce((a, b) => a + b, 0) / mem.length : 0;

  // Each rolled process value is one minute at that CPU %, so CPU seconds = sum % × 60 / 100.
  const procs = group(
    rows(
      store,
      "s.metric IN ('process_cpu_percent', 'process_rss_bytes') AND s.entity LIKE 'process:%'",
      [],
      from,
      to,
      step,
      false,
    ),
  );
  const cpuShares: ProcessShare[] = [];
  const memShares: ProcessShare[] = [];
  for (const [key, list] of procs) {
    const command = nameOf(key);
    if (key.startsWith('process_cpu_percent')) {
      cpuShares.push(
        share(
          command,
          (list.reduce((n, r) => n + r.sum, 0) * 60) / 100,
          busyCpuSeconds,
          'cpu_seconds',
        ),
      );
    } else {
      memShares.push(share(command, Math.max(...list.map((r) => r.max)), memUsed, 'bytes'));
    }
  }
  const automations: AutomationShare[] = [];
  for (const [key, list] of group(
    rows(
      store,
      "s.metric = 'execution_cpu_ms' AND s.entity LIKE 'automation:%'",
      [],
      from,
      to,
      step,
      false,
    ),
  )) {
    const cpuSeconds = list.reduce((n, r) => n + r.sum, 0) / 1000;
    automations.push({
      automation: nameOf(key),
      runs: list.reduce((n, r) => n + r.count, 0),
      share: busyCpuSeconds > 0 ? Math.min(1, cpuSeconds / busyCpuSeconds) : 0,
      amount: Math.round(cpuSeconds * 1000) / 1000,
      unit: 'cpu_seconds',
    });
  }
  const top = <T extends { amount: number }>(xs: T[]) =>
    xs.sort((a, b) => b.amount - a.amount).slice(0, TOP);
  return {
    from,
    to,
    cores: machine.cores,
    resolutionMs: step,
    metrics,
    perCore: [],
    links: [],
    processes: { cpu: top(cpuShares), memory: top(memShares), io: [] },
    automations: top(automations),
    samples: cpu?.ts.length ?? 0,
  };
}
