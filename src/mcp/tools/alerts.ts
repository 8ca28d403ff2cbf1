import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { SYSTEM_METRICS, AUTOMATION_METRICS } from '../../analyze/catalog.js';
import { checkChannels } from '../../alerts/channels/availability.js';
import { RELAY_WAIT_MS } from '../../alerts/channels/mcp-relay.js';
import { MAX_CHANNELS } from '../../alerts/channel-spec.js';
import {
  CATEGORIES,
  LIMITS,
  normalizeRule,
  OPERATORS,
  SCOPES,
  SEVERITIES,
  type AlertRuleInput,
} from '../../alerts/rule.js';
import { AlertStore } from '../../alerts/store.js';
import { latestSystemValues } from '../../store/latest.js';
import type { ServerContext } from '../context.js';
import { strictParams, toolResult } from '../schema.js';
import { ruleView, ruleViewSchema } from './alerts-output.js';

const CATALOG = [...SYSTEM_METRICS, ...AUTOMATION_METRICS].map((m) => m.name);

export const setAlertInput = strictParams({
  alert_name: z
    .string()
    .min(LIMITS.name.min)
    .max(LIMITS.name.max)
    .describe(
      'Name of the rule (1-100 characters). Setting a rule with an existing name updates it in place; its state is kept.',
    ),
  metric_type: z
    .string()
    .min(1)
    .max(64)
    .describe(
      `What to watch: ${CATEGORIES.join(', ')}, or a catalog metric name (${CATALOG.join(', ')}).`,
    ),
  threshold_value: z.number().describe('The threshold, a finite number in the unit of the metric.'),
  threshold_operator: z
    .enum(OPERATORS)
    .default('gt')
    .describe(
      'How the value is compared with the threshold: gt, gte, lt, lte, or eq (equal within max(1e-9, 0.5 % of |threshold|)).',
    ),
  alert_severity: z
    .enum(SEVERITIES)
    .default('medium')
    .describe('Severity carried by every notification: low, medium, high, critical.'),
  notification_channels: z
    .array(z.string().min(1).max(2048))
    .min(1)
    .max(MAX_CHANNELS)
    .default(['log'])
    .describe(
      `Where notifications go (1-${MAX_CHANNELS}): 'log' (the server log and the alert history), 'mcp' (a logging message to connected MCP clients), 'desktop' (notify-send or osascript), 'webhook:URL' (HTTP POST of JSON to an http or https URL). 'command:NAME' is reserved for registered automations and not available yet.`,
    ),
  monitoring_scope: z
    .enum(SCOPES)
    .default('system')
    .describe(
      "'system' (the machine; automation metrics here mean the worst of all automations), 'automation' or 'macro' (one automation named by target_id).",
    ),
  target_id: z
    .string()
    .min(1)
    .max(200)
    .nullable()
    .default(null)
    .describe(
      "The automation's name or macro UUID; required with monitoring_scope 'automation' or 'macro', not used with 'system'.",
    ),
  evaluation_period: z
    .number()
    .int()
    .min(LIMITS.evaluationPeriodS.min)
    .max(LIMITS.evaluationPeriodS.max)
    .default(LIMITS.evaluationPeriodS.default)
    .describe(
      'Seconds (30-3600) the condition must hold continuously before the alert fires; until then it is pending.',
    ),
  alert_cooldown: z
    .number()
    .int()
    .min(LIMITS.cooldownS.min)
    .max(LIMITS.cooldownS.max)
    .default(LIMITS.cooldownS.default)
    .describe('Seconds (60-7200) between reminders while an alert keeps firing unacknowledged.'),
  auto_resolution: z
    .boolean()
    .default(false)
    .describe(
      'Resolve (and notify) by itself once the value is back past the threshold by 5 % for min(evaluation_period, 60 s); otherwise only an acknowledged alert resolves, silently.',
    ),
});

const outputSchema = z.object({
  created: z.boolean(),
  rule: ruleViewSchema,
  unavailable_channels: z.array(z.object({ channel: z.string(), reason: z.string() })),
  notes: z.array(z.string()),
});

export function registerSetAlertTool(server: McpServer, ctx: ServerContext): void {
  const alerts = new AlertStore(ctx.store.db);
  server.registerTool(
    'km_set_performance_alerts',
    {
      title: 'Set a performance alert',
      description:
        'Creates an alert rule, or updates the rule of the same name: when a metric of the machine or of an automation stays past a threshold for evaluation_period it fires and notifies the chosen channels, reminds every alert_cooldown until acknowledged, and can resolve by itself. Rules are evaluated on every sample while `kmpm daemon` or `kmpm mcp` records.',
      inputSchema: setAlertInput,
      outputSchema,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    (args) => {
      const def = normalizeRule(args as AlertRuleInput);
      const unavailable = checkChannels(def.spec.notification_channels);
      const now = ctx.clock();
      const { created } = alerts.upsertRule(def, now);
      const stored = alerts.getRule(def.spec.alert_name);
      if (!stored) throw new Error(`alert rule '${def.spec.alert_name}' vanished after saving`);
      const notes: string[] = [];
      if (!ctx.recording()) {
        notes.push(
          'this server is not recording samples; the rule is evaluated by the running `kmpm daemon` or `kmpm mcp` that records this data directory',
        );
      }
      for (const u of unavailable) notes.push(`channel ${u.channel}: ${u.reason}`);
      if (!ctx.recording() && def.spec.notification_channels.includes('mcp')) {
        notes.push(
          `channel mcp: this server does not record; it relays the recorder's notifications to its client as logging messages (logger kmpm.alerts) within about 2 s while the client is connected. When \`kmpm daemon\` records, a notification that no client of a \`kmpm mcp\` serving this data directory received within ${RELAY_WAIT_MS / 1000} s is marked failed in the alert history`,
        );
      }
      const structured = {
        created,
        rule: ruleView(
          stored,
          alerts.events(stored.rule.id, 5),
          latestSystemValues(ctx.store.query),
        ),
        unavailable_channels: unavailable,
        notes,
      };
      const verb = created ? 'Created' : 'Updated';
      const text = [
        `${verb} alert '${def.spec.alert_name}': ${def.metric} ${def.spec.threshold_operator} ${def.spec.threshold_value} on ${structured.rule.watches} for ${def.spec.evaluation_period} s (${def.spec.alert_severity}), notifying ${def.spec.notification_channels.join(', ')}; now ${structured.rule.status}.`,
        ...notes,
      ].join('\n');
      return toolResult(structured, text);
    },
  );
}
