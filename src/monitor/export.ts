import { writeDataFile } from '../config/files.js';
import { EXPORTS_DIR } from '../config/paths.js';
import type { MonitorOutcome } from './monitor.js';
import { entityOf, renderDashboard, samplesToCsv, topProcessLines } from './render.js';
import type { ExportFormat, MonitorResult } from './types.js';

export interface ExportInfo {
  format: ExportFormat;
  path?: string;
  uri?: string;
  rows?: number;
}

export type FinishedMonitor = MonitorResult & { export: ExportInfo };

/** Writes the CSV export when asked and builds the text summary. */
export function finishMonitor(
  outcome: MonitorOutcome,
  format: ExportFormat,
  dataDir: string,
  now: number,
): { structured: FinishedMonitor; text: string } {
  const { result, points } = outcome;
  const exp: ExportInfo = { format };
  if (format === 'csv') {
    const csv = samplesToCsv(points, entityOf(result.target));
    const file = writeDataFile(dataDir, EXPORTS_DIR, 'monitor', 'csv', csv, now);
    exp.path = file.path;
    exp.uri = file.uri;
    exp.rows = csv.split('\n').length - 2;
  }
  const structured = { ...result, export: exp };
  const text = format === 'dashboard' ? renderDashboard(result, points) : summaryText(structured);
  return { structured, text };
}

export function summaryText(r: FinishedMonitor): string {
  const parts = Object.entries(r.metrics)
    .filter(([, s]) => s.count > 0)
    .slice(0, 6)
    .map(([name, s]) => `${name} mean ${round(s.mean)} max ${round(s.max)}`);
  const lines = [
    `${r.status === 'cancelled' ? 'Cancelled after' : 'Monitored'} ${r.target.label} for ${r.window.duration_s.toFixed(1)} s (${r.window.samples_taken} samples).`,
  ];
  if (parts.length) lines.push(parts.join('; ') + '.');
  // The top processes, when there are, are values too (`processes` alone has no system ones).
  if (r.top_processes) lines.push(...topProcessLines(r.top_processes, 3).map((l) => `${l}.`));
  else if (!parts.length) lines.push('No values in this window.');
  if (r.breach_count) lines.push(`${r.breach_count} threshold breach(es).`);
  if (r.export.path) lines.push(`CSV written to ${r.export.path}.`);
  lines.push(...r.notes);
  return lines.join(' ');
}

function round(v: number | null): string {
  return v === null ? '–' : String(Math.round(v * 100) / 100);
}
