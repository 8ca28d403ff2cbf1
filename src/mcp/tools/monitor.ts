import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { METRIC_NAMES } from '../../analyze/catalog.js';
import { planMonitor } from '../../monitor/monitor.js';
import type { MonitorParams } from '../../monitor/types.js';
import type { ServerContext } from '../context.js';
import { INLINE_LIMIT_S, MAX_CONCURRENT_SESSIONS } from '../sessions.js';
import { strictParams, toolResult } from '../schema.js';
import { monitorOutputShape } from './monitor-output.js';

export const METRIC_TYPES = [
  'cpu',
  'memory',
  'disk',
  'network',
  'processes',
  'execution_time',
  'error_rate',
] as const;

export const monitorInput = strictParams({
  monitoring_scope: z
    .enum(['system', 'automation', 'macro', 'specific'])
    .describe(
      "What to watch: 'system' (whole machine), 'automation' or 'macro' (runs of a named automation recorded with `kmpm run`), 'specific' (one process by PID or name).",
    ),
  target_id: z
    .string()
    .min(1)
    .max(256)
    .nullable()
    .default(null)
    .describe(
      "For 'specific': a PID or process name. For 'automation'/'macro': the automation's name. Not used with 'system'.",
    ),
  metrics_types: z
    .array(z.enum(METRIC_TYPES))
    .min(1)
    .max(METRIC_TYPES.length)
    .default(['cpu', 'memory', 'execution_time'])
    .describe(`Metric families to sample: ${METRIC_TYPES.join(', ')}.`),
  monitoring_duration: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(60)
    .describe(
      `How long to sample, in seconds (1-3600). Up to ${INLINE_LIMIT_S} s the call returns the results; longer runs in the background and returns a session_id to read with km_get_monitoring_session.`,
    ),
  sampling_interval: z
    .number()
    .min(0.1)
    .max(60)
    .default(1.0)
    .describe('Seconds between samples (0.1-60), not longer than monitoring_duration.'),
  include_historical: z
    .boolean()
    .default(false)
    .describe(
      'Also summarise the same metrics over the hour before the call, from stored history.',
    ),
  alert_thresholds: z
    .record(z.string().min(1).max(64), z.number())
    .nullable()
    .default(null)
    .describe(
      `Map of metric → threshold; every sample past it is reported as a breach. Keys: a monitored catalog metric (e.g. cpu_percent, process_rss_bytes, execution_time_ms) or a metric family standing for its main metric (cpu, memory, disk, ...). A breach is a value above the threshold (below it for memory_available_bytes). Catalog: ${METRIC_NAMES.join(', ')}.`,
    ),
  export_format: z
    .enum(['json', 'csv', 'dashboard'])
    .default('json')
    .describe(
      "'json' (structured result), 'csv' (also writes every sample to a CSV file under the data directory's exports/ and links it), 'dashboard' (a compact text dashboard as the text content).",
    ),
});

export function registerMonitorTool(server: McpServer, ctx: ServerContext): void {
  server.registerTool(
    'km_monitor_performance',
    {
      title: 'Monitor performance',
      description: `Samples CPU, memory, disk, network and process metrics of the machine, a process, or an automation's runs for a duration, and returns per-metric min/mean/p50/p95/max, samples, top processes, threshold breaches and the monitor's own overhead. At most ${MAX_CONCURRENT_SESSIONS} monitoring sessions run at once.`,
      inputSchema: monitorInput,
      outputSchema: monitorOutputShape,
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, extra) => {
      const params = args as MonitorParams;
      if (params.sampling_interval > params.monitoring_duration) {
        throw new Error(
          `sampling_interval: ${params.sampling_interval} s is longer than monitoring_duration (${params.monitoring_duration} s); use at most the duration`,
        );
      }
      const plan = planMonitor(params, ctx.backend, ctx.store);
      if (params.monitoring_duration > INLINE_LIMIT_S) {
        const id = ctx.sessions.startBackground(plan);
        const structured = {
          status: 'running' as const,
          session_id: id,
          scope: params.monitoring_scope,
          target: plan.target,
          notes: [
            `monitoring for ${params.monitoring_duration} s in the background; read the results with km_get_monitoring_session {"session_id":"${id}"}`,
          ],
        };
        return toolResult(structured, structured.notes[0] as string);
      }
      const token = extra._meta?.progressToken;
      let lastSent = 0;
      const onProgress =
        token === undefined
          ? undefined
          : (done: number, total: number, message: string) => {
              const now = Date.now();
              // Enough to show life and reset client timeouts without flooding at 0.1 s sampling.
              if (now - lastSent < 1000 && done < total) return;
              lastSent = now;
              void extra
                .sendNotification({
                  method: 'notifications/progress',
                  params: { progressToken: token, progress: done, total, message },
                })
                .catch(() => undefined);
            };
      const { structured, text } = await ctx.sessions.runInline(plan, {
        signal: extra.signal,
        ...(onProgress ? { onProgress } : {}),
      });
      const content = toolResult({ ...structured, session_id: null }, text);
      if (structured.export.uri) {
        return {
          ...content,
          content: [
            ...content.content,
            {
              type: 'resource_link' as const,
              uri: structured.export.uri,
              name: structured.export.uri.slice('kmpm://exports/'.length),
              mimeType: 'text/csv',
              description: 'Every sample of this monitoring call in the kmpm history CSV format',
            },
          ],
        };
      }
      return content;
    },
  );
}
