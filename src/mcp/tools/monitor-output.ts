import { z } from 'zod';

const num = z.number().nullable();

export const summarySchema = z.object({
  count: z.number(),
  min: num,
  mean: num,
  p50: num,
  p95: num,
  max: num,
  last: num,
});

const processUsage = z.object({
  pid: z.number(),
  command: z.string(),
  cmdline: z.string(),
  start_ticks: z.number(),
  cpu_percent: num,
  rss_bytes: z.number(),
});

const target = z.object({ kind: z.string(), label: z.string() }).loose();

/** Result of km_monitor_performance, and of a finished session in km_get_monitoring_session. */
export const monitorResultSchema = z.object({
  status: z.enum(['completed', 'cancelled', 'running']),
  session_id: z.string().nullable().optional(),
  scope: z.string(),
  target,
  window: z
    .object({
      start: z.string(),
      end: z.string(),
      duration_s: z.number(),
      sampling_interval_s: z.number(),
      samples_taken: z.number(),
    })
    .optional(),
  metrics: z.record(z.string(), summarySchema.extend({ unit: z.string() })).optional(),
  samples: z.array(z.object({ ts: z.string(), values: z.record(z.string(), num) })).optional(),
  samples_truncated: z.boolean().optional(),
  top_processes: z
    .object({ by_cpu: z.array(processUsage), by_memory: z.array(processUsage) })
    .optional(),
  processes: z.array(processUsage).optional(),
  automation_runs: z.array(z.object({ id: z.number(), status: z.string() }).loose()).optional(),
  breaches: z
    .array(
      z.object({
        metric: z.string(),
        threshold: z.number(),
        direction: z.enum(['above', 'below']),
        ts: z.string(),
        value: z.number(),
      }),
    )
    .optional(),
  breach_count: z.number().optional(),
  historical: z
    .object({
      available: z.boolean(),
      window: z.object({ start: z.string(), end: z.string() }),
      metrics: z.record(z.string(), summarySchema),
      reason: z.string().optional(),
    })
    .optional(),
  overhead: z
    .object({
      cpu_percent_of_one_core: z.number(),
      rss_bytes: z.number(),
      sample_cost_ms_p50: num,
      sample_cost_ms_max: num,
    })
    .optional(),
  notes: z.array(z.string()),
  export: z
    .object({
      format: z.string(),
      path: z.string().optional(),
      uri: z.string().optional(),
      rows: z.number().optional(),
    })
    .optional(),
});

export const monitorOutputShape = monitorResultSchema;
