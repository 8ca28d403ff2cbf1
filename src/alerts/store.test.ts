import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { openDatabase, StoreError, type Db } from '../store/db.js';
import { backoffMs, MAX_ATTEMPTS } from './deliveries.js';
import { normalizeRule, type AlertRule, type AlertRuleInput } from './rule.js';
import { acknowledge, initialState, type AlertState, type Notification } from './state.js';
import { AlertStore } from './store.js';

function open(): { db: Db; store: AlertStore; file: string } {
  const file = path.join(tempDir(), 'kmpm.db');
  const db = openDatabase(file);
  return { db, store: new AlertStore(db), file };
}

const def = (over: Partial<AlertRuleInput> = {}) =>
  normalizeRule({ alert_name: 'cpu', metric_type: 'cpu', threshold_value: 80, ...over });

function notification(rule: AlertRule, over: Partial<Notification> = {}): Notification {
  return {
    kind: 'firing',
    ruleId: rule.id,
    episode: 1,
    seq: 0,
    dedupeKey: `${rule.id}:1:firing:0`,
    at: 5000,
    ts: 4000,
    value: 91,
    severity: 'medium',
    ...over,
  };
}

const firing: AlertState = { ...initialState(), status: 'firing', episode: 1, notifiedAt: 5000 };

describe('AlertStore rules', () => {
  it('creates, then updates by name keeping the id, and reports which happened', () => {
    const { store } = open();
    const a = store.upsertRule(def(), 1);
    expect(a.created).toBe(true);
    const b = store.upsertRule(def({ alert_severity: 'critical' }), 2);
    expect(b).toMatchObject({ created: false, rule: { id: a.rule.id } });
    const got = store.getRule('cpu');
    expect(got).toMatchObject({ createdAt: 1, updatedAt: 2, state: initialState() });
    expect(got?.rule.spec.alert_severity).toBe('critical');
    expect(store.getRule('nope')).toBeNull();
  });

  it('lists rules with their states in creation order, across a reopen', () => {
    const { db, store, file } = open();
    const a = store.upsertRule(def(), 1).rule;
    store.upsertRule(def({ alert_name: 'mem', metric_type: 'memory' }), 1);
    store.save([{ ruleId: a.id, state: firing }], [], 3);
    db.close();
    const again = new AlertStore(openDatabase(file));
    const { rules, broken } = again.listRules();
    expect(broken).toEqual([]);
    expect(rules.map((r) => [r.rule.spec.alert_name, r.rule.metric, r.state.status])).toEqual([
      ['cpu', 'cpu_percent', 'firing'],
      ['mem', 'memory_used_percent', 'inactive'],
    ]);
    again.db.close();
  });

  it('redefining the condition restarts a pending hold; other edits keep the state', () => {
    const { store } = open();
    const r = store.upsertRule(def(), 1).rule;
    const pending: AlertState = { ...initialState(), status: 'pending', episode: 1, activeAt: 0 };
    store.save([{ ruleId: r.id, state: pending }], [], 2);
    store.upsertRule(def({ alert_cooldown: 120 }), 3);
    expect(store.getRule('cpu')?.state).toEqual(pending);
    store.upsertRule(def({ threshold_value: 50 }), 4);
    expect(store.getRule('cpu')?.state).toMatchObject({ status: 'inactive', episode: 1 });
  });

  it('deletes a rule and its state but keeps its events; ids are never reused', () => {
    const { store } = open();
    const r = store.upsertRule(def(), 1).rule;
    store.save([], [{ notification: notification(r), message: 'm', channels: ['log'] }], 5);
    expect(store.deleteRule('cpu')).toBe(true);
    expect(store.deleteRule('cpu')).toBe(false);
    expect(store.listRules().rules).toEqual([]);
    expect(store.events(r.id)).toHaveLength(1);
    const again = store.upsertRule(def(), 6).rule;
    expect(again.id).toBeGreaterThan(r.id);
    expect(store.getRule('cpu')?.state).toEqual(initialState());
  });

  it('bumps the version on every outside change, not on evaluator saves', () => {
    const { store } = open();
    expect(store.version()).toBe(0);
    const r = store.upsertRule(def(), 1).rule;
    expect(store.version()).toBe(1);
    store.save([{ ruleId: r.id, state: firing }], [], 2);
    expect(store.version()).toBe(1);
    store.updateState('cpu', 3, (s) => acknowledge(s, 3));
    expect(store.version()).toBe(2);
    // nothing to acknowledge any more: no write, no bump
    const same = store.updateState('cpu', 4, (s) => acknowledge(s, 4));
    expect(same?.before).toBe(same?.after);
    expect(store.version()).toBe(2);
    expect(store.updateState('nope', 4, (s) => s)).toBeNull();
    store.deleteRule('cpu');
    expect(store.version()).toBe(3);
  });

  it('reports a stored rule it cannot load as broken, with the cause, and keeps the others', () => {
    const { db, store } = open();
    store.upsertRule(def(), 1);
    store.upsertRule(def({ alert_name: 'bad' }), 1);
    db.prepare("UPDATE alert_rule SET definition = '{\"metric_type\":1}' WHERE name = 'bad'").run();
    const { rules, broken } = store.listRules();
    expect(rules.map((r) => r.rule.spec.alert_name)).toEqual(['cpu']);
    expect(broken).toHaveLength(1);
    expect(broken[0]?.error).toBeInstanceOf(StoreError);
    expect(broken[0]?.error.message).toContain("'bad'");
    expect(broken[0]?.error.cause).toBeInstanceOf(Error);
    // redefining a broken rule replaces it and starts its state over
    expect(store.upsertRule(def({ alert_name: 'bad' }), 2).created).toBe(false);
    expect(store.listRules().broken).toEqual([]);
  });

  it('an unreadable state is a StoreError naming the rule', () => {
    const { db, store } = open();
    store.upsertRule(def(), 1);
    db.prepare("UPDATE alert_state SET state = '{'").run();
    expect(store.listRules().broken[0]?.error.message).toContain("state of alert rule 'cpu'");
  });
});

describe('AlertStore events and deliveries', () => {
  it('stores a notification once with a pending delivery per channel; replays are ignored', () => {
    const { store } = open();
    const r = store.upsertRule(def({ notification_channels: ['log', 'mcp'] }), 1).rule;
    const e = { notification: notification(r), message: 'cpu high', channels: ['log', 'mcp'] };
    expect(store.save([{ ruleId: r.id, state: firing }], [e], 5)).toBe(1);
    expect(store.save([{ ruleId: r.id, state: firing }], [e], 6)).toBe(0);
    const events = store.events(r.id);
    expect(events).toEqual([
      {
        id: events[0]?.id,
        rule_id: r.id,
        ts: 5000,
        kind: 'firing',
        severity: 'medium',
        value: 91,
        message: 'cpu high',
        dedupe_key: `${r.id}:1:firing:0`,
      },
    ]);
    expect(store.events(null, 10)).toEqual(events);
    const due = store.deliveries.pending(5000);
    expect(due.map((d) => [d.channel, d.attempts, d.event.dedupe_key])).toEqual([
      ['log', 0, `${r.id}:1:firing:0`],
      ['mcp', 0, `${r.id}:1:firing:0`],
    ]);
    expect(store.deliveries.pending(4999)).toEqual([]);
  });

  it('marks deliveries sent, or retries failures with backoff until giving up', () => {
    const { store } = open();
    const r = store.upsertRule(def(), 1).rule;
    store.save(
      [],
      [{ notification: notification(r), message: 'm', channels: ['log', 'desktop'] }],
      5,
    );
    const id = store.events(r.id)[0]?.id as number;
    store.deliveries.markDelivered(id, 'log', 6000);
    let now = 6000;
    const first = store.deliveries.markFailed(id, 'desktop', 'no display', now);
    expect(first).toEqual({ status: 'pending', nextAttemptAt: now + 30_000 });
    expect(store.deliveries.pending(now + 29_999)).toEqual([]);
    expect(store.deliveries.pending(now + 30_000).map((d) => d.attempts)).toEqual([1]);
    let last = first;
    for (let i = 2; i <= MAX_ATTEMPTS; i++) {
      now = last.nextAttemptAt;
      last = store.deliveries.markFailed(id, 'desktop', `fail ${i}`, now);
    }
    expect(last.status).toBe('failed');
    expect(store.deliveries.pending(Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(store.deliveries.of(id)).toEqual([
      {
        channel: 'desktop',
        status: 'failed',
        attempts: MAX_ATTEMPTS,
        last_error: `fail ${MAX_ATTEMPTS}`,
        relayed_to: null,
      },
      { channel: 'log', status: 'sent', attempts: 1, last_error: null, relayed_to: null },
    ]);
    expect(() => store.deliveries.markDelivered(id, 'webhook:x', now)).toThrow(StoreError);
  });

  it('backs off 30 s doubling to a 1 h cap', () => {
    expect([1, 2, 3, 8, 9, 30].map(backoffMs)).toEqual([
      30_000, 60_000, 120_000, 3_600_000, 3_600_000, 3_600_000,
    ]);
  });

  it('writes states and events atomically: a failing event write keeps the old state', () => {
    const { db, store } = open();
    const r = store.upsertRule(def(), 1).rule;
    db.exec('DROP TABLE alert_delivery');
    expect(() =>
      store.save(
        [{ ruleId: r.id, state: firing }],
        [{ notification: notification(r), message: 'm', channels: ['log'] }],
        5,
      ),
    ).toThrow();
    expect(store.getRule('cpu')?.state).toEqual(initialState());
    expect(store.events(r.id)).toEqual([]);
  });
});
