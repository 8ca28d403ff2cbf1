import type { Store } from '../../store/index.js';
import type { MachineInfo } from '../../types.js';
import type { Summary } from '../stats.js';
import { analyzeAutomations } from './automation.js';
import { loadRuns, loadSystemInput } from './load.js';
import { loadRolledInput } from './load-rolled.js';
import { recommend } from './recommend.js';
import { analyzeSystem, systemOverview, type BottleneckType } from './system.js';
import { concentrationFindings } from './concentration.js';
import { severityRank, type Finding, type Recommendation, type Severity } from './types.js';

export type AnalysisScope = 'system' | 'automation' | 'workflow';

export interface BottleneckQuery {
  scope: AnalysisScope;
  from: number;
  to: number;
  label: string;
  types: BottleneckType[];
  severityThreshold: Severity;
  includeRecommendations: boolean;
}

export interface BottleneckResult {
  scope: AnalysisScope;
  range: { start: string; end: string; label: string };
  severity_threshold: Severity;
  data: { samples: number; resolution_s: number; sufficient: boolean; message?: string };
  findings: Finding[];
  filtered_out: number;
  recommendations: Recommendation[];
  overview: Record<string, Summary>;
  notes: string[];
}

/** Fewer intervals than this and percentiles over the range mean little. */
const MIN_SAMPLES = 10;

const OVERVIEW = [
  'cpu_percent',
  'memory_used_percent',
  'disk_busy_percent',
  'network_receive_bytes_per_second',
  'network_transmit_bytes_per_second',
];

export function rankFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || b.impact - a.impact,
  );
}

/**
 * Ranges up to this are derived from raw samples at their own interval. Longer ones read the
 * rolled-up tiers (and raw samples past the rollup watermark), so an hour or a month is
 * analysed in tens of milliseconds.
 */
export const RAW_ANALYSIS_LIMIT_MS = 15 * 60_000;
/** Rolled ranges up to this also take per-process, per-core and per-link detail from raw samples. */
export const DETAIL_LIMIT_MS = 6 * 3600_000;

function loadInput(store: Store, machine: MachineInfo, from: number, to: number) {
  if (to - from > RAW_ANALYSIS_LIMIT_MS) {
    const rolled = loadRolledInput(store, machine, from, to, {
      detail: to - from <= DETAIL_LIMIT_MS,
    });
    if (rolled) return rolled;
  }
  // Short ranges, and ranges nothing was rolled up in (a recorder's first minute).
  return loadSystemInput(store, machine, from, to);
}

export function analyzeBottlenecks(
  store: Store,
  machine: MachineInfo,
  q: BottleneckQuery,
): BottleneckResult {
  const input = loadInput(store, machine, q.from, q.to);
  const notes: string[] = [];
  let all: Finding[];
  if (q.scope === 'system') {
    const types = new Set(q.types);
    all = [...analyzeSystem(input, types), ...concentrationFindings(input, types)];
  } else {
    const runs = loadRuns(store, machine, input);
    if (runs.length === 0)
      notes.push(
        'no automation runs in this range; record runs with `kmpm run --name NAME -- COMMAND`',
      );
    all = analyzeAutomations(runs, q.from, q.to);
    if (q.scope === 'workflow')
      notes.push(
        'workflow analysis covers every automation run in the range, grouped by automation',
      );
  }
  const ranked = rankFindings(all);
  const findings = ranked.filter(
    (f) => severityRank(f.severity) >= severityRank(q.severityThreshold),
  );
  const expected = Math.floor((q.to - q.from) / Math.max(1, input.resolutionMs));
  const sufficient = input.samples >= MIN_SAMPLES;
  const data: BottleneckResult['data'] = {
    samples: input.samples,
    resolution_s: Math.round(input.resolutionMs) / 1000,
    sufficient,
  };
  if (!sufficient) {
    data.message = `only ${input.samples} samples in this range (about ${Math.max(expected, MIN_SAMPLES)} expected): findings are tentative. History is recorded while \`kmpm daemon\` (or \`kmpm mcp\`) runs.`;
  } else if (input.samples < expected * 0.5) {
    notes.push(
      `samples cover about ${Math.round((100 * input.samples) / Math.max(1, expected))} % of the range; the recorder was not running all the time`,
    );
  }
  return {
    scope: q.scope,
    range: {
      start: new Date(q.from).toISOString(),
      end: new Date(q.to).toISOString(),
      label: q.label,
    },
    severity_threshold: q.severityThreshold,
    data,
    findings,
    filtered_out: ranked.length - findings.length,
    recommendations: q.includeRecommendations ? findings.flatMap(recommend) : [],
    overview: q.scope === 'system' ? systemOverview(input, OVERVIEW) : {},
    notes,
  };
}
