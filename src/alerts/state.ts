/**
 * The alert state machine, pure: inactive → pending → firing → resolved, as in Prometheus's
 * rules/alerting.go, with Netdata-style hysteresis and a clear period on the way down.
 *
 * Two clocks, on purpose: durations that judge the DATA (for, clear period, gaps) use sample
 * timestamps, so late or replayed samples are judged by when they were taken; cooldowns
 * between NOTIFICATIONS use the wall clock `now`, since that is what a person experiences.
 */
import type { AlertRule, Operator, RuleDefinition, Severity } from './rule.js';
import { sameCondition } from './rule.js';

export type AlertStatus = 'inactive' | 'pending' | 'firing' | 'resolved';
export type NotificationKind = 'firing' | 'repeat' | 'resolved';

/** Everything needed to continue exactly after a restart; stored as JSON. */
export interface AlertState {
  status: AlertStatus;
  /** Episodes started so far; the current (or last) one's id. An episode begins at pending. */
  episode: number;
  /** Data time the condition began holding in this episode (pending and firing). */
  activeAt: number | null;
  firedAt: number | null;
  /** Wall time of the last firing or repeat notification; the cooldown counts from here. */
  notifiedAt: number | null;
  /** Repeat notifications sent in this episode (the sequence number of the last one). */
  repeats: number;
  /** Data time the value went past threshold ± hysteresis while firing; null when it is not. */
  clearSince: number | null;
  acknowledgedAt: number | null;
  resolvedAt: number | null;
  /** Data time of the last accepted sample, with or without a value. */
  lastTs: number | null;
  /** Data time of the last sample that had a value; gaps are measured from here. */
  lastDataTs: number | null;
  lastValue: number | null;
  /** Samples ignored because their timestamp went backwards. */
  outOfOrder: number;
}

export interface Sample {
  ts: number;
  /** null (or a non-finite number) means no data at ts. */
  value: number | null;
}

export interface Notification {
  kind: NotificationKind;
  ruleId: number;
  episode: number;
  /** 0 for firing and resolved; 1, 2, … for repeats. */
  seq: number;
  /** rule:episode:kind:seq — unique for ever (rule ids are never reused), so delivery can be idempotent. */
  dedupeKey: string;
  /** Wall time the notification was made. */
  at: number;
  /** Data time of the sample that caused it. */
  ts: number;
  value: number | null;
  severity: Severity;
}

export interface StepResult {
  state: AlertState;
  effects: readonly Notification[];
}

export interface StepOptions {
  /**
   * A silence in the data longer than this breaks "held continuously": a pending alert
   * returns to inactive and a clearing one restarts its clear period.
   */
  maxGapMs: number;
}

/** Long enough to ride out a restart of the daemon, short against the 30 s minimum `for`. */
export const MIN_MAX_GAP_MS = 10_000;

/** max(3 sample intervals, 10 s): one or two missed ticks are not a gap. */
export function maxGapFor(intervalMs: number): number {
  return Math.max(3 * intervalMs, MIN_MAX_GAP_MS);
}

export const DEFAULT_STEP: StepOptions = { maxGapMs: MIN_MAX_GAP_MS };

const NONE: readonly Notification[] = Object.freeze([]);

export function initialState(): AlertState {
  return {
    status: 'inactive',
    episode: 0,
    activeAt: null,
    firedAt: null,
    notifiedAt: null,
    repeats: 0,
    clearSince: null,
    acknowledgedAt: null,
    resolvedAt: null,
    lastTs: null,
    lastDataTs: null,
    lastValue: null,
    outOfOrder: 0,
  };
}

/**
 * A field-by-field copy: step copies every state on every tick, and this is several times
 * cheaper there than object spread, which V8 runs on a generic path for these objects.
 */
function copy(s: AlertState): AlertState {
  return {
    status: s.status,
    episode: s.episode,
    activeAt: s.activeAt,
    firedAt: s.firedAt,
    notifiedAt: s.notifiedAt,
    repeats: s.repeats,
    clearSince: s.clearSince,
    acknowledgedAt: s.acknowledgedAt,
    resolvedAt: s.resolvedAt,
    lastTs: s.lastTs,
    lastDataTs: s.lastDataTs,
    lastValue: s.lastValue,
    outOfOrder: s.outOfOrder,
  };
}

/** The raise condition. */
export function breaches(rule: RuleDefinition, v: number): boolean {
  return crosses(rule.spec.threshold_operator, rule.spec.threshold_value, rule.tolerance, v);
}

/** The raise condition from its parts (see QuietCondition). */
function crosses(op: Operator, t: number, tolerance: number, v: number): boolean {
  switch (op) {
    case 'gt':
      return v > t;
    case 'gte':
      return v >= t;
    case 'lt':
      return v < t;
    case 'lte':
      return v <= t;
    case 'eq':
      return Math.abs(v - t) <= tolerance;
  }
}

/** The clear condition: back past the threshold by the hysteresis margin. */
export function clears(rule: RuleDefinition, v: number): boolean {
  const t = rule.spec.threshold_value;
  const h = rule.hysteresis;
  switch (rule.spec.threshold_operator) {
    case 'gt':
      return v <= t - h;
    case 'gte':
      return v < t - h;
    case 'lt':
      return v >= t + h;
    case 'lte':
      return v > t + h;
    case 'eq':
      return Math.abs(v - t) > rule.tolerance + h;
  }
}

function notify(
  rule: AlertRule,
  s: AlertState,
  kind: NotificationKind,
  seq: number,
  ts: number,
  now: number,
): Notification {
  return {
    kind,
    ruleId: rule.id,
    episode: s.episode,
    seq,
    dedupeKey: `${rule.id}:${s.episode}:${kind}:${seq}`,
    at: now,
    ts,
    value: s.lastValue,
    severity: rule.spec.alert_severity,
  };
}

/** A firing, unacknowledged alert repeats once per cooldown of wall time. */
function repeatDue(rule: AlertRule, s: AlertState, ts: number, now: number): StepResult {
  if (s.status !== 'firing' || s.acknowledgedAt !== null || s.notifiedAt === null) {
    return { state: s, effects: NONE };
  }
  // The wall clock stepped back past the last notification: restart the cooldown from now
  // rather than stall repeats for the size of the step (or send one early).
  if (now < s.notifiedAt) return { state: { ...s, notifiedAt: now }, effects: NONE };
  if (now - s.notifiedAt < rule.cooldownMs) return { state: s, effects: NONE };
  const next = { ...s, notifiedAt: now, repeats: s.repeats + 1 };
  return { state: next, effects: [notify(rule, next, 'repeat', next.repeats, ts, now)] };
}

/** Feeds one sample; returns the next state and the notifications it causes. Pure. */
export function step(
  rule: AlertRule,
  state: AlertState,
  sample: Sample,
  now: number,
  opts: StepOptions = DEFAULT_STEP,
): StepResult {
  const ts = sample.ts;
  if (state.lastTs !== null && ts < state.lastTs) {
    return { state: { ...state, outOfOrder: state.outOfOrder + 1 }, effects: NONE };
  }
  const v = sample.value !== null && Number.isFinite(sample.value) ? sample.value : null;
  let s = copy(state);
  s.lastTs = ts;
  if (s.lastDataTs !== null && ts - s.lastDataTs > opts.maxGapMs) {
    if (s.status === 'pending') s = { ...s, status: 'inactive', activeAt: null };
    s.clearSince = null;
  }
  if (v === null) return repeatDue(rule, s, ts, now);
  s.lastDataTs = ts;
  s.lastValue = v;

  if (s.status === 'inactive' || s.status === 'resolved') {
    if (!breaches(rule, v)) return { state: s, effects: NONE };
    s = {
      ...s,
      status: 'pending',
      episode: s.episode + 1,
      activeAt: ts,
      firedAt: null,
      notifiedAt: null,
      repeats: 0,
      clearSince: null,
      acknowledgedAt: null,
    };
  }
  if (s.status === 'pending') {
    if (!breaches(rule, v))
      return { state: { ...s, status: 'inactive', activeAt: null }, effects: NONE };
    if (ts - (s.activeAt as number) < rule.forMs) return { state: s, effects: NONE };
    s = { ...s, status: 'firing', firedAt: ts, notifiedAt: now };
    return { state: s, effects: [notify(rule, s, 'firing', 0, ts, now)] };
  }

  // firing: only a value past the hysteresis band, held for the clear period, ends it
  if (!clears(rule, v)) {
    s.clearSince = null;
  } else {
    s.clearSince ??= ts;
    if (ts - s.clearSince >= rule.clearMs) {
      const auto = rule.spec.auto_resolution;
      if (auto || s.acknowledgedAt !== null) {
        s = { ...s, status: 'resolved', activeAt: null, clearSince: null, resolvedAt: ts };
        // An acknowledged alert without auto_resolution closes silently: its owner has seen it.
        return { state: s, effects: auto ? [notify(rule, s, 'resolved', 0, ts, now)] : NONE };
      }
    }
  }
  return repeatDue(rule, s, ts, now);
}

/**
 * A rule's raise condition copied out of its definition, so that quietStep and the quiet
 * index read one small object instead of the rule, its spec and its entity (at 1 Hz each is
 * a cache miss).
 */
export interface QuietCondition {
  op: Operator;
  threshold: number;
  tolerance: number;
}

export function quietCondition(rule: RuleDefinition): QuietCondition {
  return {
    op: rule.spec.threshold_operator,
    threshold: rule.spec.threshold_value,
    tolerance: rule.tolerance,
  };
}

/**
 * The usual tick of a rule, without a copy: the rule is not active (inactive or resolved)
 * and the sample, in order, has no value or one that does not breach. Then `step` would
 * change nothing but the last-seen fields and notify nobody; this moves those fields in
 * place and returns true. Otherwise it returns false and leaves the state as it was, for
 * `step`. Quiet rules on system metrics are not stepped at all but indexed (quiet-index.ts,
 * which keeps these semantics once per metric); this serves the rules stepped one by one.
 */
export function quietStep(
  cond: QuietCondition,
  state: AlertState,
  ts: number,
  value: number | null,
): boolean {
  if (state.status !== 'inactive' && state.status !== 'resolved') return false;
  if (state.clearSince !== null || (state.lastTs !== null && ts < state.lastTs)) return false;
  if (value === null || !Number.isFinite(value)) {
    state.lastTs = ts;
    return true;
  }
  if (crosses(cond.op, cond.threshold, cond.tolerance, value)) return false;
  state.lastTs = ts;
  state.lastDataTs = ts;
  state.lastValue = value;
  return true;
}

/** Stops repeats of the current firing episode. Anything but an unacknowledged firing is unchanged. */
export function acknowledge(state: AlertState, now: number): AlertState {
  if (state.status !== 'firing' || state.acknowledgedAt !== null) return state;
  return { ...state, acknowledgedAt: now };
}

/**
 * After a restart: the notifications that fell due while nothing ran, once. Only a repeat
 * can fall due without data, and at most one is sent however long the outage (no flood);
 * it moves notifiedAt, so resuming the resulting state again yields nothing.
 */
export function resume(rule: AlertRule, state: AlertState, now: number): StepResult {
  return repeatDue(rule, state, state.lastTs ?? now, now);
}

/**
 * When a rule is redefined under the same name: a pending clock measured a different
 * condition, so it restarts; a firing alert keeps firing under the new definition (so its
 * resolution is still reported) but its clear evidence was against the old levels.
 */
export function rebase(prev: RuleDefinition, next: RuleDefinition, state: AlertState): AlertState {
  if (sameCondition(prev, next)) return state;
  if (state.status === 'pending') return { ...state, status: 'inactive', activeAt: null };
  return state.clearSince === null ? state : { ...state, clearSince: null };
}

/**
 * Whether a state must be written now. Timestamps and the last value move every tick; they
 * are written only while they decide something on restart (a pending `for` clock, a clear
 * period in progress) or with any other change. Stale stored timestamps only ever make a
 * gap look longer, so a missed write can delay a firing but never cause a wrong one.
 */
export function needsSave(prev: AlertState, next: AlertState): boolean {
  if (next.status === 'pending' || next.clearSince !== null) return true;
  return (
    prev.status !== next.status ||
    prev.episode !== next.episode ||
    prev.activeAt !== next.activeAt ||
    prev.firedAt !== next.firedAt ||
    prev.notifiedAt !== next.notifiedAt ||
    prev.repeats !== next.repeats ||
    prev.clearSince !== next.clearSince ||
    prev.acknowledgedAt !== next.acknowledgedAt ||
    prev.resolvedAt !== next.resolvedAt ||
    prev.outOfOrder !== next.outOfOrder
  );
}
