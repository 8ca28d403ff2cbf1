/** One-line human text of a notification, stored with its event and sent by every channel. */
import type { AlertEntity, AlertRule, Operator } from './rule.js';
import type { Notification } from './state.js';

const OPERATOR_TEXT: Record<Operator, string> = {
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  eq: '=',
};

export function entityLabel(entity: AlertEntity): string {
  if (entity.kind === 'system') return 'system';
  return entity.name === null ? 'any automation' : `automation ${entity.name}`;
}

function formatValue(v: number | null): string {
  if (v === null) return 'no data';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

export function notificationMessage(rule: AlertRule, n: Notification): string {
  const s = rule.spec;
  const condition = `${rule.metric} ${OPERATOR_TEXT[s.threshold_operator]} ${s.threshold_value}`;
  const head = `[${s.alert_severity}] ${s.alert_name}: ${condition} on ${entityLabel(rule.entity)}`;
  const value = formatValue(n.value);
  switch (n.kind) {
    case 'firing':
      return `${head} for ${s.evaluation_period} s (now ${value})`;
    case 'repeat':
      return `${head} still firing, reminder ${n.seq} (now ${value}; acknowledge to stop reminders)`;
    case 'resolved':
      return `${head} resolved (now ${value})`;
  }
}
