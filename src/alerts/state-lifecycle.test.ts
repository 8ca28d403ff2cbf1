import { describe, expect, it } from 'vitest';
import { normalizeRule, type AlertRule, type AlertRuleInput } from './rule.js';
import { acknowledge, initialState, needsSave, rebase, resume, type AlertState } from './state.js';

const S = 1000;

function rule(over: Partial<AlertRuleInput> = {}): AlertRule {
  return {
    ...normalizeRule({
      alert_name: 'cpu high',
      metric_type: 'cpu',
      threshold_value: 80,
      evaluation_period: 30,
      alert_cooldown: 60,
      ...over,
    }),
    id: 7,
  };
}

describe('acknowledge', () => {
  it('only changes an unacknowledged firing alert', () => {
    const idle = initialState();
    expect(acknowledge(idle, 5)).toBe(idle);
    const firing: AlertState = { ...idle, status: 'firing', episode: 1, notifiedAt: 0 };
    const acked = acknowledge(firing, 5);
    expect(acked.acknowledgedAt).toBe(5);
    expect(acknowledge(acked, 9)).toBe(acked);
  });
});

describe('resume after a restart', () => {
  const firing = (over: Partial<AlertState> = {}): AlertState => ({
    ...initialState(),
    status: 'firing',
    episode: 3,
    activeAt: 0,
    firedAt: 30 * S,
    notifiedAt: 30 * S,
    lastTs: 40 * S,
    lastDataTs: 40 * S,
    lastValue: 95,
    ...over,
  });

  it('sends a repeat that fell due while down exactly once, however long the outage', () => {
    const r = rule();
    const first = resume(r, firing(), 10_000 * S);
    expect(first.effects.map((e) => e.dedupeKey)).toEqual(['7:3:repeat:1']);
    expect(first.effects[0]).toMatchObject({ value: 95, ts: 40 * S, at: 10_000 * S });
    expect(resume(r, first.state, 10_000 * S).effects).toEqual([]);
    expect(resume(r, first.state, 10_059 * S).effects).toEqual([]);
    expect(resume(r, first.state, 10_060 * S).effects.map((e) => e.seq)).toEqual([2]);
  });

  it('sends nothing when nothing is due', () => {
    const r = rule();
    expect(resume(r, firing(), 89 * S).effects).toEqual([]);
    expect(resume(r, firing({ acknowledgedAt: 35 * S }), 10_000 * S).effects).toEqual([]);
    expect(resume(r, { ...firing(), status: 'pending' }, 10_000 * S).effects).toEqual([]);
    expect(resume(r, initialState(), 10_000 * S).effects).toEqual([]);
  });
});

describe('needsSave', () => {
  const base = initialState();
  it('skips writes that only move timestamps of an idle or firing alert', () => {
    expect(needsSave(base, { ...base, lastTs: 5, lastDataTs: 5, lastValue: 1 })).toBe(false);
    const firing: AlertState = { ...base, status: 'firing' };
    expect(needsSave(firing, { ...firing, lastTs: 5 })).toBe(false);
  });
  it('writes pending and clearing states every time, and every durable change', () => {
    expect(needsSave(base, { ...base, status: 'pending' })).toBe(true);
    expect(needsSave(base, { ...base, status: 'firing', clearSince: 3 })).toBe(true);
    for (const key of [
      'episode',
      'activeAt',
      'firedAt',
      'notifiedAt',
      'repeats',
      'acknowledgedAt',
      'resolvedAt',
      'outOfOrder',
    ] as const) {
      expect(needsSave(base, { ...base, [key]: 1 })).toBe(true);
    }
    expect(needsSave(base, { ...base, status: 'resolved' })).toBe(true);
  });
});

describe('rebase on redefinition', () => {
  const pending: AlertState = { ...initialState(), status: 'pending', episode: 1, activeAt: 0 };
  const clearing: AlertState = { ...initialState(), status: 'firing', episode: 1, clearSince: 9 };
  it('keeps everything when the condition is the same', () => {
    expect(rebase(rule(), rule({ alert_severity: 'high' }), pending)).toBe(pending);
  });
  it('restarts a pending hold and a clear period when the condition changed', () => {
    expect(rebase(rule(), rule({ threshold_value: 70 }), pending)).toMatchObject({
      status: 'inactive',
      activeAt: null,
    });
    expect(rebase(rule(), rule({ threshold_operator: 'gte' }), clearing)).toMatchObject({
      status: 'firing',
      clearSince: null,
    });
    const firing = { ...clearing, clearSince: null };
    expect(rebase(rule(), rule({ metric_type: 'memory' }), firing)).toBe(firing);
  });
});
