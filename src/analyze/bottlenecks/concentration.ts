import { who } from './recommend.js';
import { severityFor, round } from './rules.js';
import type { BottleneckType } from './system.js';
import type { Finding, ProcessShare, SystemInput } from './types.js';

/** One process holding this share of a resource in use is worth knowing even on an idle machine. */
const SHARE_THRESHOLDS = [0.25, 0.4, 0.6, 0.8] as const;

function concentration(
  resource: 'cpu' | 'memory' | 'io',
  top: ProcessShare | undefined,
  input: SystemInput,
): Finding | null {
  if (!top) return null;
  const severity = severityFor(top.share, SHARE_THRESHOLDS);
  if (!severity) return null;
  const what =
    resource === 'cpu' ? 'CPU time used' : resource === 'memory' ? 'memory in use' : 'storage I/O';
  return {
    id: `${resource}.concentration`,
    resource,
    kind: 'utilization',
    severity: severity === 'critical' ? 'high' : severity,
    rule: `share of ${what} held by one process = ${round(top.share)} ≥ ${SHARE_THRESHOLDS[['low', 'medium', 'high', 'critical'].indexOf(severity)]} → ${severity} (thresholds: low 0.25, medium 0.4, high 0.6, critical 0.8; capped at high: concentration alone is not a shortage)`,
    title: `'${top.command}'${who(top)} holds ${Math.round(top.share * 100)} % of the ${what}`,
    window: null,
    evidence: [
      {
        metric:
          resource === 'memory'
            ? 'process_rss_bytes'
            : resource === 'cpu'
              ? 'process_cpu_percent'
              : 'process_write_bytes_per_second',
        statistic: 'ratio',
        observed: round(top.share),
        threshold: SHARE_THRESHOLDS[0],
        unit: `share of ${what}`,
      },
    ],
    attribution: {
      processes: input.processes[resource],
      automations: resource === 'cpu' ? input.automations : [],
    },
    impact: top.share,
  };
}

/** Findings for single processes that dominate a resource. */
export function concentrationFindings(
  input: SystemInput,
  types: ReadonlySet<BottleneckType>,
): Finding[] {
  const out: Finding[] = [];
  for (const r of ['cpu', 'memory', 'io'] as const) {
    if (!types.has(r)) continue;
    const f = concentration(r, input.processes[r][0], input);
    if (f) out.push(f);
  }
  return out;
}
