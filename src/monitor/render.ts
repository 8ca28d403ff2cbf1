import type { MonitorResult, MonitorTarget, ProcessUsage, SamplePoint } from './types.js';

/** RFC 4180 quoting for one field. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** CSV entity column (DESIGN.md): system, process:NAME, automation:NAME. */
export function entityOf(target: MonitorTarget): string {
  switch (target.kind) {
    case 'system':
      return 'system';
    case 'pid':
      return `process:${target.comm}`;
    case 'process_name':
      return `process:${target.name}`;
    case 'automation':
      return `automation:${target.name}`;
  }
}

export const CSV_HEADER = 'timestamp,metric,value,entity';

/** Every sample in the history CSV format, one row per metric value. */
export function samplesToCsv(points: readonly SamplePoint[], entity: string): string {
  const lines = [CSV_HEADER];
  const e = csvField(entity);
  for (const p of points) {
    for (const [metric, value] of Object.entries(p.values)) {
      if (value === null) continue;
      lines.push(`${p.ts},${metric},${value},${e}`);
    }
  }
  return lines.join('\n') + '\n';
}

const SPARK = '▁▂▃▄▅▆▇█';

export function sparkline(values: readonly (number | null)[], width = 24): string {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0) return '';
  const buckets: number[] = [];
  const per = Math.max(1, Math.ceil(values.length / width));
  for (let i = 0; i < values.length; i += per) {
    const chunk = values.slice(i, i + per).filter((v): v is number => v !== null);
    if (chunk.length) buckets.push(chunk.reduce((a, b) => a + b, 0) / chunk.length);
  }
  const lo = Math.min(...buckets);
  const hi = Math.max(...buckets);
  return buckets
    .map((v) => SPARK[hi > lo ? Math.round(((v - lo) / (hi - lo)) * (SPARK.length - 1)) : 0])
    .join('');
}

export function formatValue(value: number | null, unit: string): string {
  if (value === null) return '–';
  const bytes = (v: number) => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  };
  switch (unit) {
    case 'percent':
      return `${value.toFixed(1)} %`;
    case 'bytes':
      return bytes(value);
    case 'bytes_per_second':
      return `${bytes(value)}/s`;
    case 'ms':
      return `${value.toFixed(1)} ms`;
    case 'per_second':
      return `${value.toFixed(2)}/s`;
    default:
      return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }
}

/** `top CPU: …` and `top memory: …`, the first `limit` processes of each. */
export function topProcessLines(
  top: NonNullable<MonitorResult['top_processes']>,
  limit = Infinity,
): [string, string] {
  const list = (ps: readonly ProcessUsage[], value: (p: ProcessUsage) => string) =>
    ps
      .slice(0, limit)
      .map((p) => `${p.command}[${p.pid}] ${value(p)}`)
      .join(', ');
  return [
    `top CPU: ${list(top.by_cpu, (p) => formatValue(p.cpu_percent, 'percent'))}`,
    `top memory: ${list(top.by_memory, (p) => formatValue(p.rss_bytes, 'bytes'))}`,
  ];
}

/** A compact text dashboard: one line per metric with its spread and a sparkline. */
export function renderDashboard(r: MonitorResult, points: readonly SamplePoint[]): string {
  const head = `kmpm · ${r.target.label} · ${r.window.start} → ${r.window.end} · ${r.window.samples_taken} samples every ${r.window.sampling_interval_s} s${r.status === 'cancelled' ? ' · cancelled' : ''}`;
  const rows = [
    head,
    '',
    `${'metric'.padEnd(34)}${'last'.padStart(12)}${'mean'.padStart(12)}${'p95'.padStart(12)}${'max'.padStart(12)}  trend`,
  ];
  for (const [name, s] of Object.entries(r.metrics)) {
    const cells = [s.last, s.mean, s.p95, s.max].map((v) => formatValue(v, s.unit).padStart(12));
    rows.push(
      `${name.padEnd(34)}${cells.join('')}  ${sparkline(points.map((p) => p.values[name] ?? null))}`,
    );
  }
  if (r.top_processes) rows.push('', ...topProcessLines(r.top_processes));
  if (r.breach_count)
    rows.push(
      '',
      `${r.breach_count} threshold breach(es); first at ${r.breaches[0]?.ts} (${r.breaches[0]?.metric} = ${r.breaches[0]?.value})`,
    );
  for (const n of r.notes) rows.push(`note: ${n}`);
  return rows.join('\n');
}
