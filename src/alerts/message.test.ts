import { describe, expect, it } from 'vitest';
import { entityLabel, notificationMessage } from './message.js';
import { normalizeRule, type AlertRuleInput } from './rule.js';
import type { Notification } from './state.js';

const rule = (over: Partial<AlertRuleInput>) => ({
  ...normalizeRule({ alert_name: 'r', metric_type: 'cpu', threshold_value: 80, ...over }),
  id: 1,
});

const n = (kind: Notification['kind'], value: number | null, seq = 0): Notification => ({
  kind,
  ruleId: 1,
  episode: 1,
  seq,
  dedupeKey: '',
  at: 0,
  ts: 0,
  value,
  severity: 'medium',
});

describe('notificationMessage', () => {
  it('says what fired, where, and the value now', () => {
    expect(notificationMessage(rule({ alert_severity: 'high' }), n('firing', 91.23456))).toBe(
      '[high] r: cpu_percent > 80 on system for 300 s (now 91.23)',
    );
    expect(
      notificationMessage(
        rule({ metric_type: 'error_rate', threshold_operator: 'gte', threshold_value: 0.5 }),
        n('repeat', null, 2),
      ),
    ).toBe(
      '[medium] r: error_rate ≥ 0.5 on any automation still firing, reminder 2 (now no data; acknowledge to stop reminders)',
    );
    const lt = rule({
      threshold_operator: 'lt',
      monitoring_scope: 'macro',
      target_id: 'M',
      metric_type: 'execution_time',
    });
    expect(notificationMessage(lt, n('resolved', 1200))).toBe(
      '[medium] r: execution_time_ms < 80 on automation M resolved (now 1200)',
    );
    expect(notificationMessage(rule({ threshold_operator: 'lte' }), n('firing', 1))).toContain(
      '≤ 80',
    );
    expect(notificationMessage(rule({ threshold_operator: 'eq' }), n('firing', 1))).toContain(
      '= 80',
    );
  });

  it('labels entities', () => {
    expect(entityLabel({ kind: 'system' })).toBe('system');
    expect(entityLabel({ kind: 'automation', name: null })).toBe('any automation');
  });
});
