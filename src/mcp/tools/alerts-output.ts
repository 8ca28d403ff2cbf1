/** The shapes alert tools return: a rule with its live state, and stored events. */
import { z } from 'zod';
import { entityLabel } from '../../alerts/message.js';
import type { AlertState } from '../../alerts/state.js';
import type { AlertEvent, RuleWithState } from '../../alerts/store.js';
import type { LatestSystem } from '../../store/latest.js';

export const iso = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();

export const eventSchema = z.object({
  id: z.number(),
  alert_name: z.string().nullable(),
  at: z.string(),
  kind: z.enum(['firing', 'repeat', 'resolved']),
  severity: z.string(),
  value: z.number().nullable(),
  message: z.string(),
  dedupe_key: z.string(),
});

export const ruleViewSchema = z.object({
  alert_name: z.string(),
  definition: z
    .object({ alert_name: z.string(), metric_type: z.string(), threshold_value: z.number() })
    .loose(),
  metric: z.string(),
  watches: z.string(),
  status: z.enum(['inactive', 'pending', 'firing', 'resolved']),
  since: z.string().nullable(),
  last_value: z
    .number()
    .nullable()
    .describe(
      'The latest value of the metric seen for the rule: of a system metric, from the latest recorded sample when that is newer than the rule’s stored state. null before any value.',
    ),
  last_sample_at: z
    .string()
    .nullable()
    .describe(
      'When the latest sample was taken, with or without a value (last_value is from the latest that had one).',
    ),
  acknowledged_at: z.string().nullable(),
  episode: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
  recent_events: z.array(eventSchema),
});

export type RuleView = z.infer<typeof ruleViewSchema>;
export type EventView = z.infer<typeof eventSchema>;

/** When the current status began: pending and firing from their data time, resolved from its end. */
function since(s: AlertState): number | null {
  switch (s.status) {
    case 'pending':
      return s.activeAt;
    case 'firing':
      return s.firedAt;
    case 'resolved':
      return s.resolvedAt;
    case 'inactive':
      return null;
  }
}

export function eventView(e: AlertEvent, name: string | null): EventView {
  return {
    id: e.id,
    alert_name: name,
    at: iso(e.ts) as string,
    kind: e.kind,
    severity: e.severity,
    value: e.value,
    message: e.message,
    dedupe_key: e.dedupe_key,
  };
}

/**
 * The last sample a rule saw. A quiet rule on a system metric is not written on every tick
 * (see alerts/evaluator.ts), so a stored sample newer than its state speaks for it, as the
 * recorder saw it: a sample without a value moves the time alone.
 */
function lastSeen(
  r: RuleWithState,
  latest: LatestSystem,
): { value: number | null; ts: number | null } {
  const { rule, state } = r;
  if (
    rule.entity.kind !== 'system' ||
    latest.ts === null ||
    latest.ts <= (state.lastTs ?? -Infinity)
  ) {
    return { value: state.lastValue, ts: state.lastTs };
  }
  const v = (latest.values as Record<string, number | null>)[rule.metric] ?? null;
  return { value: v !== null && Number.isFinite(v) ? v : state.lastValue, ts: latest.ts };
}

/** A rule with its state; `latest` (latestSystemValues) freshens its last value. */
export function ruleView(
  r: RuleWithState,
  events: readonly AlertEvent[],
  latest: LatestSystem,
): RuleView {
  const { rule, state } = r;
  const last = lastSeen(r, latest);
  return {
    alert_name: rule.spec.alert_name,
    definition: rule.spec,
    metric: rule.metric,
    watches: entityLabel(rule.entity),
    status: state.status,
    since: iso(since(state)),
    last_value: last.value,
    last_sample_at: iso(last.ts),
    acknowledged_at: iso(state.acknowledgedAt),
    episode: state.episode,
    created_at: iso(r.createdAt) as string,
    updated_at: iso(r.updatedAt) as string,
    recent_events: events.map((e) => eventView(e, rule.spec.alert_name)),
  };
}
