import path from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { analyzeBottlenecks, type AnalysisScope } from '../../analyze/bottlenecks/index.js';
import { renderReport } from '../../analyze/bottlenecks/report.js';
import type { BottleneckType } from '../../analyze/bottlenecks/system.js';
import type { Severity } from '../../analyze/bottlenecks/types.js';
import { writeDataFile } from '../../config/files.js';
import { InputError } from '../../errors.js';
import { parseIsoTime } from '../../time.js';
import type { ServerContext } from '../context.js';
import { strictParams, toolResult } from '../schema.js';

export const REPORTS_DIR = 'reports';
const RANGES = { last_hour: 3600_000, last_day: 86_400_000, last_week: 7 * 86_400_000 } as const;
/** Clocks of a client and this machine may disagree a little. */
const CLOCK_SKEW_MS = 5 * 60_000;
const MAX_CUSTOM_RANGE_MS = 2 * 366 * 86_400_000;

const isoTime = (what: string) =>
  z
    .string()
    .max(64)
    .nullable()
    .default(null)
    .describe(
      `${what}, ISO-8601 with a zone (e.g. 2026-11-26T08:00:00Z); required with time_range 'custom', not allowed otherwise.`,
    );

export const bottlenecksInput = strictParams({
  analysis_scope: z
    .enum(['system', 'automation', 'workflow'])
    .describe(
      "'system': CPU, memory, I/O and network by the USE method, with the processes responsible; 'automation' / 'workflow': slow, failing and waiting automation runs.",
    ),
  time_range: z
    .enum(['last_hour', 'last_day', 'last_week', 'custom'])
    .default('last_hour')
    .describe("Range to analyse; 'custom' needs custom_start_time and custom_end_time."),
  custom_start_time: isoTime('Start of a custom range'),
  custom_end_time: isoTime('End of a custom range (after the start, not in the future)'),
  bottleneck_types: z
    .array(z.enum(['cpu', 'memory', 'io', 'network']))
    .min(1)
    .max(4)
    .default(['cpu', 'memory', 'io', 'network'])
    .describe('Resources to analyse (system scope): cpu, memory, io, network.'),
  severity_threshold: z
    .enum(['low', 'medium', 'high', 'critical'])
    .default('medium')
    .describe('Only findings at or above this severity are returned.'),
  include_recommendations: z
    .boolean()
    .default(true)
    .describe('Add concrete next steps tied to each finding.'),
  generate_report: z
    .boolean()
    .default(true)
    .describe(
      "Write a Markdown report to the data directory's reports/ and link it as a resource.",
    ),
});

type Params = z.infer<typeof bottlenecksInput>;

function parseTime(field: string, value: string): number {
  const ms = parseIsoTime(value);
  if (ms === null) {
    throw new InputError(
      field,
      `'${value}' is not an ISO-8601 time with a zone, e.g. 2026-11-26T08:00:00Z`,
    );
  }
  return ms;
}

/** The analysed range; throws InputError naming the offending field. */
export function resolveRange(p: Params, now: number): { from: number; to: number; label: string } {
  if (p.time_range !== 'custom') {
    for (const f of ['custom_start_time', 'custom_end_time'] as const) {
      if (p[f] !== null)
        throw new InputError(
          f,
          `is only used with time_range 'custom' (time_range is '${p.time_range}')`,
        );
    }
    return { from: now - RANGES[p.time_range], to: now, label: p.time_range };
  }
  if (p.custom_start_time === null)
    throw new InputError('custom_start_time', "is required with time_range 'custom'");
  if (p.custom_end_time === null)
    throw new InputError('custom_end_time', "is required with time_range 'custom'");
  const from = parseTime('custom_start_time', p.custom_start_time);
  const to = parseTime('custom_end_time', p.custom_end_time);
  if (to <= from)
    throw new InputError(
      'custom_end_time',
      `must be after custom_start_time (${p.custom_start_time})`,
    );
  if (to > now + CLOCK_SKEW_MS)
    throw new InputError(
      'custom_end_time',
      `is in the future (now is ${new Date(now).toISOString()})`,
    );
  // An end a little in the future is clamped to now; the range must still be non-empty.
  if (from >= now)
    throw new InputError(
      'custom_start_time',
      `is in the future (now is ${new Date(now).toISOString()})`,
    );
  if (to - from > MAX_CUSTOM_RANGE_MS)
    throw new InputError('custom_start_time', 'the range may span at most 2 years');
  return { from, to: Math.min(to, now), label: 'custom' };
}

const findingSchema = z
  .object({
    id: z.string(),
    resource: z.string(),
    kind: z.string(),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    rule: z.string(),
    title: z.string(),
    window: z
      .object({
        start: z.string(),
        end: z.string(),
        duration_s: z.number(),
        share_of_range: z.number(),
      })
      .nullable(),
    evidence: z.array(
      z.object({
        metric: z.string(),
        statistic: z.string(),
        observed: z.number(),
        threshold: z.number(),
        unit: z.string(),
      }),
    ),
    attribution: z.object({
      processes: z.array(
        z.object({ pid: z.number(), command: z.string(), share: z.number() }).loose(),
      ),
      automations: z.array(z.object({ automation: z.string(), share: z.number() }).loose()),
      note: z.string().optional(),
    }),
    impact: z.number(),
  })
  .loose();

const outputSchema = z.object({
  scope: z.string(),
  range: z.object({ start: z.string(), end: z.string(), label: z.string() }),
  severity_threshold: z.string(),
  data: z.object({
    samples: z.number(),
    resolution_s: z.number(),
    sufficient: z.boolean(),
    message: z.string().optional(),
  }),
  findings: z.array(findingSchema),
  filtered_out: z.number(),
  recommendations: z.array(z.object({ finding_id: z.string(), action: z.string() }).loose()),
  overview: z.record(z.string(), z.object({ count: z.number() }).loose()),
  notes: z.array(z.string()),
  report: z.object({ path: z.string(), uri: z.string() }).nullable(),
});

export function registerBottlenecksTool(server: McpServer, ctx: ServerContext): void {
  server.registerTool(
    'km_analyze_bottlenecks',
    {
      title: 'Analyze bottlenecks',
      description:
        'Finds what is slowing the machine or its automations over a time range, by the USE method (utilization, saturation, errors of CPU, memory, I/O and network), names the processes and automations responsible with their shares, and recommends concrete changes. Reads stored history.',
      inputSchema: bottlenecksInput,
      outputSchema,
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    (args) => {
      const p = args as Params;
      const now = ctx.clock();
      const range = resolveRange(p, now);
      const result = analyzeBottlenecks(ctx.store, ctx.machine, {
        scope: p.analysis_scope as AnalysisScope,
        ...range,
        types: p.bottleneck_types as BottleneckType[],
        severityThreshold: p.severity_threshold as Severity,
        includeRecommendations: p.include_recommendations,
      });
      let report: { path: string; uri: string } | null = null;
      if (p.generate_report) {
        const file = writeDataFile(
          ctx.dataDir,
          REPORTS_DIR,
          'bottlenecks',
          'md',
          renderReport(result),
          now,
        );
        report = { path: file.path, uri: file.uri };
      }
      const top = result.findings.slice(0, 3).map((f) => `${f.severity}: ${f.title}`);
      const text = [
        `${result.findings.length} finding(s) at or above ${p.severity_threshold} for ${result.scope} over ${range.label} (${result.data.samples} samples).`,
        ...top,
        ...(result.data.message ? [result.data.message] : []),
        ...(report ? [`Report: ${report.uri}`] : []),
      ].join('\n');
      const out = toolResult({ ...result, report }, text);
      if (!report) return out;
      return {
        ...out,
        content: [
          ...out.content,
          {
            type: 'resource_link' as const,
            uri: report.uri,
            name: path.basename(report.path),
            mimeType: 'text/markdown',
            description: 'Bottleneck report',
          },
        ],
      };
    },
  );
}
