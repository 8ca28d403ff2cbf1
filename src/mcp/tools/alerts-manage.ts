/** The companions of km_set_performance_alerts: list, acknowledge, delete, history. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { LIMITS } from '../../alerts/rule.js';
import { acknowledge } from '../../alerts/state.js';
import { AlertStore } from '../../alerts/store.js';
import { InputError } from '../../errors.js';
import { latestSystemValues } from '../../store/latest.js';
import type { ServerContext } from '../context.js';
import { strictParams, toolResult } from '../schema.js';
import { eventSchema, eventView, iso, ruleView, ruleViewSchema } from './alerts-output.js';

const HISTORY_RANGES = {
  last_hour: 3600_000,
  last_day: 86_400_000,
  last_week: 7 * 86_400_000,
  last_month: 30 * 86_400_000,
} as const;

const alertName = () => z.string().min(LIMITS.name.min).max(LIMITS.name.max);

const NAME_ANNOTATIONS = { openWorldHint: false } as const;

function unknownRule(alerts: AlertStore, name: string): InputError {
  const known = alerts.listRules().rules.map((r) => r.rule.spec.alert_name);
  return new InputError(
    'alert_name',
    `no alert rule named '${name}'; ${known.length === 0 ? 'no rules are defined' : `known rules: ${known.join(', ')}`}`,
  );
}

export function registerAlertManagementTools(server: McpServer, ctx: ServerContext): void {
  const alerts = new AlertStore(ctx.store.db);

  server.registerTool(
    'km_list_performance_alerts',
    {
      title: 'List performance alerts',
      description:
        'Lists alert rules with their state (inactive, pending, firing, resolved), since when the state holds, the last value seen (of a system metric, from the latest recorded sample) and their recent notifications.',
      inputSchema: strictParams({
        alert_name: alertName()
          .nullable()
          .default(null)
          .describe('Only this rule; all rules when omitted.'),
        recent_events: z
          .number()
          .int()
          .min(0)
          .max(50)
          .default(5)
          .describe('How many of each rule’s latest notifications to include (0-50).'),
      }),
      outputSchema: z.object({
        rules: z.array(ruleViewSchema),
        unloadable: z.array(z.object({ id: z.number(), name: z.string(), error: z.string() })),
        counts: z.record(z.string(), z.number()),
      }),
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        ...NAME_ANNOTATIONS,
      },
    },
    (args) => {
      const { alert_name, recent_events } = args as {
        alert_name: string | null;
        recent_events: number;
      };
      const { rules, broken } = alerts.listRules();
      const chosen =
        alert_name === null ? rules : rules.filter((r) => r.rule.spec.alert_name === alert_name);
      if (alert_name !== null && chosen.length === 0) throw unknownRule(alerts, alert_name);
      const latest = latestSystemValues(ctx.store.query);
      const views = chosen.map((r) =>
        ruleView(r, recent_events === 0 ? [] : alerts.events(r.rule.id, recent_events), latest),
      );
      const counts: Record<string, number> = { inactive: 0, pending: 0, firing: 0, resolved: 0 };
      for (const v of views) counts[v.status] = (counts[v.status] ?? 0) + 1;
      const structured = {
        rules: views,
        unloadable: broken.map((b) => ({ id: b.id, name: b.name, error: b.error.message })),
        counts,
      };
      const lines = views.map(
        (v) =>
          `${v.alert_name}: ${v.status}${v.since ? ` since ${v.since}` : ''} (${v.metric} ${v.definition['threshold_operator'] as string} ${v.definition.threshold_value} on ${v.watches}; last ${v.last_value ?? 'no data'})`,
      );
      for (const b of structured.unloadable) lines.push(`${b.name}: cannot be loaded: ${b.error}`);
      return toolResult(
        structured,
        lines.length === 0 ? 'No alert rules are defined.' : lines.join('\n'),
      );
    },
  );

  server.registerTool(
    'km_acknowledge_performance_alert',
    {
      title: 'Acknowledge a performance alert',
      description:
        'Acknowledges a firing alert: its reminders stop until it resolves and fires again. Without auto_resolution, an acknowledged alert resolves silently once its value is clear.',
      inputSchema: strictParams({ alert_name: alertName().describe('Name of the firing rule.') }),
      outputSchema: z.object({
        alert_name: z.string(),
        acknowledged: z.boolean(),
        status: z.string(),
        acknowledged_at: z.string().nullable(),
        note: z.string(),
      }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        ...NAME_ANNOTATIONS,
      },
    },
    (args) => {
      const { alert_name } = args as { alert_name: string };
      const now = ctx.clock();
      const r = alerts.updateState(alert_name, now, (s) => acknowledge(s, now));
      if (!r) throw unknownRule(alerts, alert_name);
      const changed = r.after !== r.before;
      const note = changed
        ? 'acknowledged; no more reminders for this episode'
        : r.after.status !== 'firing'
          ? `not firing (${r.after.status}); nothing to acknowledge`
          : `already acknowledged at ${iso(r.after.acknowledgedAt)}`;
      const structured = {
        alert_name,
        acknowledged: r.after.acknowledgedAt !== null && r.after.status === 'firing',
        status: r.after.status,
        acknowledged_at: iso(r.after.acknowledgedAt),
        note,
      };
      return toolResult(structured, `${alert_name}: ${note}.`);
    },
  );

  server.registerTool(
    'km_delete_performance_alert',
    {
      title: 'Delete a performance alert',
      description:
        'Deletes an alert rule and its state. Its past notifications stay in the alert history.',
      inputSchema: strictParams({
        alert_name: alertName().describe('Name of the rule to delete.'),
      }),
      outputSchema: z.object({ alert_name: z.string(), deleted: z.boolean() }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        ...NAME_ANNOTATIONS,
      },
    },
    (args) => {
      const { alert_name } = args as { alert_name: string };
      if (!alerts.deleteRule(alert_name)) throw unknownRule(alerts, alert_name);
      return toolResult(
        { alert_name, deleted: true },
        `Deleted alert '${alert_name}'; its history is kept.`,
      );
    },
  );

  server.registerTool(
    'km_get_alert_history',
    {
      title: 'Alert history',
      description:
        'Notifications (firing, reminder, resolved) made in a time range, newest first, with how each channel delivered them.',
      inputSchema: strictParams({
        time_range: z
          .enum(Object.keys(HISTORY_RANGES) as [keyof typeof HISTORY_RANGES])
          .default('last_day')
          .describe('How far back: last_hour, last_day, last_week, last_month.'),
        alert_name: alertName()
          .nullable()
          .default(null)
          .describe(
            'Only this rule’s notifications; all rules (deleted ones included) when omitted.',
          ),
        limit: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(100)
          .describe('At most this many events (1-1000).'),
      }),
      outputSchema: z.object({
        range: z.object({ start: z.string(), end: z.string() }),
        events: z.array(
          eventSchema.extend({
            deliveries: z.array(
              z.object({
                channel: z.string(),
                status: z.string(),
                attempts: z.number(),
                last_error: z.string().nullable(),
                relayed_to: z.number().nullable(),
              }),
            ),
          }),
        ),
        truncated: z.boolean(),
      }),
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        ...NAME_ANNOTATIONS,
      },
    },
    (args) => {
      const p = args as {
        time_range: keyof typeof HISTORY_RANGES;
        alert_name: string | null;
        limit: number;
      };
      const now = ctx.clock();
      const from = now - HISTORY_RANGES[p.time_range];
      let ruleId: number | null = null;
      if (p.alert_name !== null) {
        const r = alerts.getRule(p.alert_name);
        if (!r) throw unknownRule(alerts, p.alert_name);
        ruleId = r.rule.id;
      }
      const rows = alerts.eventsBetween(from, now, ruleId, p.limit + 1);
      const truncated = rows.length > p.limit;
      const events = rows.slice(0, p.limit).map((e) => ({
        ...eventView(e, e.rule_name),
        deliveries: alerts.deliveries.of(e.id),
      }));
      const structured = {
        range: { start: iso(from) as string, end: iso(now) as string },
        events,
        truncated,
      };
      const text =
        events.length === 0
          ? `No alert notifications in the ${p.time_range.replace('_', ' ')}.`
          : events.map((e) => `${e.at} ${e.kind}: ${e.message}`).join('\n');
      return toolResult(structured, text);
    },
  );
}
