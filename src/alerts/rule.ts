/**
 * The alert rule model: what a user defines (km_set_performance_alerts parameters) and what
 * the engine derives from it (catalog metric, entity, thresholds and timings). Only the
 * user's definition is stored; the derived part is recomputed on load, so a fix to the
 * derivation applies to existing rules too.
 */
import { AUTOMATION_METRICS, SYSTEM_METRICS, metricDef } from '../analyze/catalog.js';
import { InputError } from '../errors.js';
import { parseChannels } from './channel-spec.js';

export const OPERATORS = ['gt', 'lt', 'eq', 'gte', 'lte'] as const;
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const SCOPES = ['system', 'automation', 'macro'] as const;
export const CATEGORIES = ['cpu', 'memory', 'execution_time', 'error_rate'] as const;

export type Operator = (typeof OPERATORS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type Scope = (typeof SCOPES)[number];

export const LIMITS = {
  name: { min: 1, max: 100 },
  evaluationPeriodS: { min: 30, max: 3600, default: 300 },
  cooldownS: { min: 60, max: 7200, default: 900 },
} as const;

/** The parameters of km_set_performance_alerts; absent optional ones take their defaults. */
export interface AlertRuleInput {
  alert_name: string;
  metric_type: string;
  threshold_value: number;
  threshold_operator?: Operator | undefined;
  alert_severity?: Severity | undefined;
  notification_channels?: readonly string[] | undefined;
  monitoring_scope?: Scope | undefined;
  target_id?: string | null | undefined;
  evaluation_period?: number | undefined;
  alert_cooldown?: number | undefined;
  auto_resolution?: boolean | undefined;
}

/** A complete definition with every default applied: exactly what is stored. */
export type AlertRuleSpec = {
  [K in keyof AlertRuleInput]-?: Exclude<AlertRuleInput[K], undefined>;
} & { notification_channels: string[]; target_id: string | null };

/** What a rule watches: the system, one automation, or every automation (name null). */
export type AlertEntity = { kind: 'system' } | { kind: 'automation'; name: string | null };

/** What every system rule watches: one shared object, as rules hold it read-only. */
const SYSTEM_ENTITY: AlertEntity = Object.freeze({ kind: 'system' });

/** A validated rule with everything the state machine needs precomputed. */
export interface RuleDefinition {
  spec: AlertRuleSpec;
  metric: string;
  entity: AlertEntity;
  /** |value − threshold| within this counts as equal (operator eq). */
  tolerance: number;
  /** How far back past the threshold a firing value must go before it counts as clear. */
  hysteresis: number;
  /** The condition must hold this long before firing (Prometheus `for:`). */
  forMs: number;
  /** Minimum time between notifications of one firing alert. */
  cooldownMs: number;
  /** A firing value must stay clear this long before the alert resolves. */
  clearMs: number;
}

/** A stored rule: its definition plus the identity that dedupe keys are built from. */
export interface AlertRule extends RuleDefinition {
  id: number;
}

/**
 * eq compares with a tolerance because metrics are derived from counters and rarely land
 * on an exact float: |v − t| ≤ max(1e-9, 0.5 % of |t|).
 */
export function eqTolerance(threshold: number): number {
  return Math.max(1e-9, 0.005 * Math.abs(threshold));
}

/**
 * Hysteresis (Netdata-style separate raise and clear levels) is 5 % of |threshold|. It is 0
 * for a threshold of 0: most metrics cannot go below 0, so a band there would make
 * `error_rate gt 0` impossible to clear; the clear period still damps flapping.
 */
export function hysteresisFor(threshold: number): number {
  return 0.05 * Math.abs(threshold);
}

/**
 * Resolving waits min(evaluation_period, 60 s): long enough to ride out a short dip, short
 * enough that recovery is reported promptly even for rules that wait long before firing.
 */
export function clearPeriodMs(evaluationPeriodS: number): number {
  return Math.min(evaluationPeriodS, 60) * 1000;
}

const SYSTEM_CATEGORY: Record<string, string> = {
  cpu: 'cpu_percent',
  memory: 'memory_used_percent',
};
const AUTOMATION_CATEGORY: Record<string, string> = {
  execution_time: 'execution_time_ms',
  error_rate: 'error_rate',
  cpu: 'execution_cpu_ms',
  memory: 'execution_peak_rss_bytes',
};
const SYSTEM_NAMES: ReadonlySet<string> = new Set(SYSTEM_METRICS.map((m) => m.name));
const AUTOMATION_NAMES: ReadonlySet<string> = new Set(AUTOMATION_METRICS.map((m) => m.name));
const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'alert_name',
  'metric_type',
  'threshold_value',
  'threshold_operator',
  'alert_severity',
  'notification_channels',
  'monitoring_scope',
  'target_id',
  'evaluation_period',
  'alert_cooldown',
  'auto_resolution',
]);

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], dflt: T): T {
  if (value === undefined) return dflt;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value))
    return value as T;
  throw new InputError(
    field,
    `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`,
  );
}

function intIn(
  field: string,
  value: unknown,
  range: { min: number; max: number; default: number },
) {
  if (value === undefined) return range.default;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    throw new InputError(
      field,
      `must be a whole number of seconds from ${range.min} to ${range.max} (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function alertName(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  const control = [...name].some((c) => c < ' ' || c === '\u007f');
  if (name.length < LIMITS.name.min || name.length > LIMITS.name.max || control) {
    throw new InputError(
      'alert_name',
      `must be ${LIMITS.name.min}-${LIMITS.name.max} characters without control characters`,
    );
  }
  return name;
}

function resolveMetric(metricType: unknown, scope: Scope, targetId: string | null) {
  if (typeof metricType !== 'string') {
    throw new InputError(
      'metric_type',
      `must be one of ${CATEGORIES.join(', ')} or a catalog metric name`,
    );
  }
  if (scope === 'system') {
    if (targetId !== null) {
      throw new InputError(
        'target_id',
        "is not used with monitoring_scope 'system'; use monitoring_scope 'automation' or 'macro' to watch one automation",
      );
    }
    const system =
      SYSTEM_CATEGORY[metricType] ?? (SYSTEM_NAMES.has(metricType) ? metricType : null);
    if (system) return { metric: system, entity: SYSTEM_ENTITY };
    // Automation metrics at system scope watch every automation, whichever is worst.
    const auto =
      AUTOMATION_CATEGORY[metricType] ?? (AUTOMATION_NAMES.has(metricType) ? metricType : null);
    if (auto) return { metric: auto, entity: { kind: 'automation', name: null } as AlertEntity };
  } else {
    if (targetId === null) {
      throw new InputError(
        'target_id',
        `is required with monitoring_scope '${scope}': the automation's name or macro UUID`,
      );
    }
    const auto =
      AUTOMATION_CATEGORY[metricType] ?? (AUTOMATION_NAMES.has(metricType) ? metricType : null);
    if (auto)
      return { metric: auto, entity: { kind: 'automation', name: targetId } as AlertEntity };
    if (SYSTEM_NAMES.has(metricType)) {
      throw new InputError(
        'metric_type',
        `'${metricType}' is a system metric; use monitoring_scope 'system'`,
      );
    }
  }
  const allowed =
    scope === 'system'
      ? [...CATEGORIES, ...SYSTEM_NAMES, ...AUTOMATION_NAMES]
      : [...CATEGORIES, ...AUTOMATION_NAMES];
  const why =
    metricDef(metricType)?.entity === 'process' ? 'process metrics cannot be alerted on yet; ' : '';
  throw new InputError(
    'metric_type',
    `${why}unknown or unsupported '${metricType}' for monitoring_scope '${scope}'; allowed: ${allowed.join(', ')}`,
  );
}

/** Validates a definition, applies defaults and derives what evaluation needs. Pure. */
export function normalizeRule(input: AlertRuleInput): RuleDefinition {
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new InputError(key, `unknown parameter; allowed: ${[...KNOWN_KEYS].join(', ')}`);
    }
  }
  const name = alertName(input.alert_name);
  const threshold = input.threshold_value;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new InputError('threshold_value', 'must be a finite number');
  }
  const scope = oneOf('monitoring_scope', input.monitoring_scope, SCOPES, 'system');
  const rawTarget = input.target_id ?? null;
  if (
    rawTarget !== null &&
    (typeof rawTarget !== 'string' || rawTarget.trim() === '' || rawTarget.length > 200)
  ) {
    throw new InputError(
      'target_id',
      'must be an automation name or macro UUID of 1-200 characters',
    );
  }
  const targetId = rawTarget === null ? null : rawTarget.trim();
  const { metric, entity } = resolveMetric(input.metric_type, scope, targetId);
  if (typeof input.auto_resolution !== 'boolean' && input.auto_resolution !== undefined) {
    throw new InputError('auto_resolution', 'must be true or false');
  }
  const spec: AlertRuleSpec = {
    alert_name: name,
    metric_type: input.metric_type,
    threshold_value: threshold,
    threshold_operator: oneOf('threshold_operator', input.threshold_operator, OPERATORS, 'gt'),
    alert_severity: oneOf('alert_severity', input.alert_severity, SEVERITIES, 'medium'),
    notification_channels: parseChannels(input.notification_channels),
    monitoring_scope: scope,
    target_id: targetId,
    evaluation_period: intIn(
      'evaluation_period',
      input.evaluation_period,
      LIMITS.evaluationPeriodS,
    ),
    alert_cooldown: intIn('alert_cooldown', input.alert_cooldown, LIMITS.cooldownS),
    auto_resolution: input.auto_resolution ?? false,
  };
  return {
    spec,
    metric,
    entity,
    tolerance: eqTolerance(threshold),
    hysteresis: hysteresisFor(threshold),
    forMs: spec.evaluation_period * 1000,
    cooldownMs: spec.alert_cooldown * 1000,
    clearMs: clearPeriodMs(spec.evaluation_period),
  };
}

/** Whether two definitions watch the same condition (so a pending clock stays meaningful). */
export function sameCondition(a: RuleDefinition, b: RuleDefinition): boolean {
  return (
    a.metric === b.metric &&
    JSON.stringify(a.entity) === JSON.stringify(b.entity) &&
    a.spec.threshold_operator === b.spec.threshold_operator &&
    a.spec.threshold_value === b.spec.threshold_value
  );
}
