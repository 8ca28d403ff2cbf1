import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { parseChannel } from './channel-spec.js';
import {
  clearPeriodMs,
  eqTolerance,
  hysteresisFor,
  normalizeRule,
  sameCondition,
  type AlertRuleInput,
} from './rule.js';

const base: AlertRuleInput = { alert_name: 'r', metric_type: 'cpu', threshold_value: 80 };

function fails(over: Record<string, unknown>): InputError {
  try {
    normalizeRule({ ...base, ...over } as AlertRuleInput);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error(`accepted ${JSON.stringify(over)}`);
}

describe('normalizeRule', () => {
  it('applies the documented defaults', () => {
    const r = normalizeRule(base);
    expect(r.spec).toEqual({
      alert_name: 'r',
      metric_type: 'cpu',
      threshold_value: 80,
      threshold_operator: 'gt',
      alert_severity: 'medium',
      notification_channels: ['log'],
      monitoring_scope: 'system',
      target_id: null,
      evaluation_period: 300,
      alert_cooldown: 900,
      auto_resolution: false,
    });
    expect(r).toMatchObject({
      metric: 'cpu_percent',
      entity: { kind: 'system' },
      forMs: 300_000,
      cooldownMs: 900_000,
      clearMs: 60_000,
      tolerance: 0.4,
      hysteresis: 4,
    });
  });

  // [metric_type, scope, target, resolved metric, entity]
  const mappings: [string, AlertRuleInput['monitoring_scope'], string | null, string, object][] = [
    ['cpu', 'system', null, 'cpu_percent', { kind: 'system' }],
    ['memory', 'system', null, 'memory_used_percent', { kind: 'system' }],
    ['disk_busy_percent', 'system', null, 'disk_busy_percent', { kind: 'system' }],
    ['execution_time', 'system', null, 'execution_time_ms', { kind: 'automation', name: null }],
    ['error_rate', 'system', null, 'error_rate', { kind: 'automation', name: null }],
    ['runs_per_minute', 'system', null, 'runs_per_minute', { kind: 'automation', name: null }],
    [
      'execution_time',
      'automation',
      'backup',
      'execution_time_ms',
      { kind: 'automation', name: 'backup' },
    ],
    ['error_rate', 'macro', 'A1-B2', 'error_rate', { kind: 'automation', name: 'A1-B2' }],
    ['cpu', 'automation', 'backup', 'execution_cpu_ms', { kind: 'automation', name: 'backup' }],
    [
      'memory',
      'automation',
      'backup',
      'execution_peak_rss_bytes',
      { kind: 'automation', name: 'backup' },
    ],
    [
      'execution_peak_rss_bytes',
      'automation',
      'backup',
      'execution_peak_rss_bytes',
      { kind: 'automation', name: 'backup' },
    ],
  ];
  for (const [metricType, scope, target, metric, entity] of mappings) {
    it(`maps ${metricType} at ${scope} scope to ${metric}`, () => {
      const r = normalizeRule({
        ...base,
        metric_type: metricType,
        monitoring_scope: scope,
        target_id: target,
      });
      expect(r.metric).toBe(metric);
      expect(r.entity).toEqual(entity);
    });
  }

  // [override, field named, text the message must contain]
  const errors: [Record<string, unknown>, string, string][] = [
    [{ alert_name: '' }, 'alert_name', '1-100 characters'],
    [{ alert_name: '   ' }, 'alert_name', '1-100 characters'],
    [{ alert_name: 'x'.repeat(101) }, 'alert_name', '1-100 characters'],
    [{ alert_name: 'a\nb' }, 'alert_name', 'control characters'],
    [{ alert_name: 5 }, 'alert_name', '1-100'],
    [{ threshold_value: Number.NaN }, 'threshold_value', 'finite'],
    [{ threshold_value: Number.POSITIVE_INFINITY }, 'threshold_value', 'finite'],
    [{ threshold_value: '5' }, 'threshold_value', 'finite'],
    [{ threshold_operator: 'ge' }, 'threshold_operator', 'gt, lt, eq, gte, lte'],
    [{ alert_severity: 'urgent' }, 'alert_severity', 'low, medium, high, critical'],
    [{ monitoring_scope: 'specific' }, 'monitoring_scope', 'system, automation, macro'],
    [{ evaluation_period: 29 }, 'evaluation_period', 'from 30 to 3600'],
    [{ evaluation_period: 3601 }, 'evaluation_period', 'from 30 to 3600'],
    [{ evaluation_period: 30.5 }, 'evaluation_period', 'whole number'],
    [{ alert_cooldown: 59 }, 'alert_cooldown', 'from 60 to 7200'],
    [{ alert_cooldown: 7201 }, 'alert_cooldown', 'from 60 to 7200'],
    [{ auto_resolution: 'yes' }, 'auto_resolution', 'true or false'],
    [{ metric_type: 'disk' }, 'metric_type', 'allowed: cpu, memory, execution_time, error_rate'],
    [{ metric_type: 7 }, 'metric_type', 'catalog metric name'],
    [{ metric_type: 'process_rss_bytes' }, 'metric_type', 'process metrics cannot be alerted'],
    [{ target_id: 'backup' }, 'target_id', "monitoring_scope 'automation'"],
    [{ monitoring_scope: 'automation' }, 'target_id', 'is required'],
    [{ monitoring_scope: 'automation', target_id: '  ' }, 'target_id', '1-200 characters'],
    [
      { monitoring_scope: 'macro', target_id: 'm', metric_type: 'load1' },
      'metric_type',
      'system metric',
    ],
    [
      { monitoring_scope: 'macro', target_id: 'm', metric_type: 'nope' },
      'metric_type',
      'execution_time_ms',
    ],
    [{ notification_channels: [] }, 'notification_channels', '1-10 channels'],
    [{ notification_channels: 'log' }, 'notification_channels', '1-10 channels'],
    [{ notification_channels: [1] }, 'notification_channels', 'strings'],
    [{ notification_channels: ['email'] }, 'notification_channels', 'webhook:URL, command:NAME'],
    [{ notification_channels: ['webhook:nope'] }, 'notification_channels', 'not a URL'],
    [
      { notification_channels: ['webhook:file:///etc/passwd'] },
      'notification_channels',
      'http or https',
    ],
    [{ notification_channels: ['command:rm -rf'] }, 'notification_channels', 'command:NAME'],
    [{ alert_nmae: 'typo' }, 'alert_nmae', 'unknown parameter'],
  ];
  for (const [over, field, text] of errors) {
    it(`rejects ${JSON.stringify(over)} naming ${field}`, () => {
      const err = fails(over);
      expect(err.field).toBe(field);
      expect(err.message).toContain(text);
    });
  }

  it('trims names and targets, dedupes and canonicalizes channels', () => {
    const r = normalizeRule({
      ...base,
      alert_name: '  cpu  ',
      monitoring_scope: 'automation',
      target_id: ' job ',
      metric_type: 'execution_time',
      notification_channels: [
        'log',
        'mcp',
        'log',
        'webhook:https://EXAMPLE.com',
        'command:notify-me',
      ],
    });
    expect(r.spec.alert_name).toBe('cpu');
    expect(r.spec.target_id).toBe('job');
    expect(r.spec.notification_channels).toEqual([
      'log',
      'mcp',
      'webhook:https://example.com/',
      'command:notify-me',
    ]);
    expect(parseChannel('desktop')).toBe('desktop');
  });

  it('keeps the webhook URL parse error as the cause', () => {
    const err = fails({ notification_channels: ['webhook:::'] });
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('round-trips: normalizing a stored spec gives the same rule', () => {
    const r = normalizeRule({ ...base, threshold_operator: 'eq', auto_resolution: true });
    expect(normalizeRule(JSON.parse(JSON.stringify(r.spec)) as AlertRuleInput)).toEqual(r);
  });
});

describe('documented margins', () => {
  it('eq tolerance is 0.5 % of |threshold|, at least 1e-9', () => {
    expect(eqTolerance(200)).toBe(1);
    expect(eqTolerance(-200)).toBe(1);
    expect(eqTolerance(0)).toBe(1e-9);
  });
  it('hysteresis is 5 % of |threshold| (0 at 0)', () => {
    expect(hysteresisFor(80)).toBe(4);
    expect(hysteresisFor(-10)).toBe(0.5);
    expect(hysteresisFor(0)).toBe(0);
  });
  it('the clear period is min(evaluation_period, 60 s)', () => {
    expect(clearPeriodMs(30)).toBe(30_000);
    expect(clearPeriodMs(300)).toBe(60_000);
  });
  it('sameCondition ignores everything but metric, entity, operator and threshold', () => {
    const a = normalizeRule(base);
    expect(
      sameCondition(a, normalizeRule({ ...base, alert_severity: 'low', evaluation_period: 60 })),
    ).toBe(true);
    expect(sameCondition(a, normalizeRule({ ...base, metric_type: 'cpu_percent' }))).toBe(true);
    expect(sameCondition(a, normalizeRule({ ...base, metric_type: 'execution_time' }))).toBe(false);
  });
});
