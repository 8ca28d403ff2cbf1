import type { BottleneckResult } from './index.js';

const pct = (v: number) => `${Math.round(v * 100)} %`;

/** The analysis as a Markdown report a person can read or attach to a ticket. */
export function renderReport(r: BottleneckResult): string {
  const lines = [
    `# Bottleneck analysis: ${r.scope}`,
    '',
    `Range: ${r.range.start} → ${r.range.end} (${r.range.label}); ${r.data.samples} samples at ~${r.data.resolution_s} s.`,
    r.data.sufficient ? '' : `> ${r.data.message}`,
    '',
    `## Findings (${r.findings.length}${r.filtered_out ? `; ${r.filtered_out} below ${r.severity_threshold} not shown` : ''})`,
    '',
  ];
  if (r.findings.length === 0) lines.push('No bottleneck at or above the severity threshold.', '');
  for (const f of r.findings) {
    lines.push(`### ${f.severity.toUpperCase()} — ${f.title}`, '');
    lines.push(`- Rule: ${f.rule}`);
    if (f.window)
      lines.push(
        `- Held: ${f.window.start} → ${f.window.end} (${f.window.duration_s} s, ${pct(f.window.share_of_range)} of the range)`,
      );
    for (const e of f.evidence)
      lines.push(
        `- Evidence: ${e.statistic} ${e.metric} = ${e.observed} ${e.unit} (threshold ${e.threshold})`,
      );
    for (const p of f.attribution.processes) {
      lines.push(
        `- Used by: \`${p.command}\` pid ${p.pid} — ${pct(p.share)} (${p.amount} ${p.unit})`,
      );
    }
    for (const a of f.attribution.automations) {
      lines.push(
        `- Automation: \`${a.automation}\` (${a.runs} runs) — ${pct(a.share)} (${a.amount} ${a.unit})`,
      );
    }
    if (f.attribution.note) lines.push(`- Note: ${f.attribution.note}`);
    lines.push('');
  }
  if (r.recommendations.length) {
    lines.push('## Recommendations', '');
    for (const rec of r.recommendations) {
      lines.push(
        `- ${rec.action}${rec.tool_call ? ` (\`${rec.tool_call.name} ${JSON.stringify(rec.tool_call.arguments)}\`)` : ''}`,
      );
    }
    lines.push('');
  }
  const overview = Object.entries(r.overview);
  if (overview.length) {
    lines.push('## Context', '', '| metric | mean | p95 | max |', '|---|---|---|---|');
    for (const [m, s] of overview) {
      const f = (v: number | null) => (v === null ? '–' : String(Math.round(v * 100) / 100));
      lines.push(`| ${m} | ${f(s.mean)} | ${f(s.p95)} | ${f(s.max)} |`);
    }
    lines.push('');
  }
  for (const n of r.notes) lines.push(`> ${n}`);
  return lines.join('\n') + '\n';
}
