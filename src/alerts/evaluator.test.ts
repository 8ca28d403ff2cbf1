import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuCounters, diskCounters, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { openDatabase } from '../store/db.js';
import type { Snapshot } from '../types.js';
import {
  AlertEngineError,
  AlertEvaluator,
  RULES_POLL_MS,
  RUN_LOOKBACK_MS,
  RUN_OVERLAP_MS,
} from './evaluator.js';
import { normalizeRule, type AlertRuleInput } from './rule.js';
import type { FinishedRun } from './runs.js';
import { RuleSet } from './rule-set.js';
import { acknowledge, initialState } from './state.js';
import { AlertStore } from './store.js';

const S = 1000;

/** Snapshots whose cpu_percent between two consecutive ones is exactly `busy`. */
function machine() {
  let user = 0;
  let idle = 0;
  return (t: number, busy: number, memUsedPercent = 50): Snapshot => {
    user += busy;
    idle += 100 - busy;
    return snap(t * S, {
      ...cpuCounters(user, idle),
      mem_total_bytes: 1000,
      mem_available_bytes: 1000 - 10 * memUsedPercent,
    });
  };
}

function setup(file = path.join(tempDir(), 'kmpm.db')) {
  const db = openDatabase(file);
  const store = new AlertStore(db);
  const define = (over: Partial<AlertRuleInput>) =>
    store.upsertRule(
      normalizeRule({
        alert_name: 'cpu',
        metric_type: 'cpu',
        threshold_value: 80,
        evaluation_period: 30,
        alert_cooldown: 60,
        ...over,
      }),
      0,
    ).rule;
  const evaluator = (checkpointMs?: number) =>
    new AlertEvaluator(store, {
      intervalMs: 1000,
      clock: () => 0,
      ...(checkpointMs === undefined ? {} : { checkpointMs }),
    });
  return { db, store, define, evaluator, file };
}

/** Drives one evaluator second by second through a cpu profile; returns kinds per second. */
function drive(ev: AlertEvaluator, from: number, to: number, busy: (t: number) => number) {
  const m = machine();
  let prev: Snapshot | null = null;
  const out: string[] = [];
  for (let t = from; t <= to; t++) {
    const cur = m(t, busy(t));
    for (const n of ev.evaluate(prev, cur, t * S)) out.push(`${t}:${n.kind}`);
    prev = cur;
  }
  return out;
}

function run(id: number, automation: string, endedS: number, over: Partial<FinishedRun> = {}) {
  return {
    id,
    automation,
    ended_at: endedS * S,
    wall_ms: 500,
    cpu_ms: 100,
    peak_rss_bytes: 1e6,
    status: 'ok' as const,
    ...over,
  };
}

describe('AlertEvaluator on synthetic snapshots', () => {
  it('fires a system CPU rule after the evaluation period and resolves it with hysteresis', () => {
    const { store, define, evaluator } = setup();
    const rule = define({ auto_resolution: true, notification_channels: ['log', 'mcp'] });
    const ev = evaluator();
    expect(ev.start(0)).toEqual([]);
    // hot from 10 s to 100 s, then 78 % (inside the band) to 150 s, then 50 %
    const kinds = drive(ev, 0, 300, (t) => (t < 10 ? 20 : t <= 100 ? 95 : t <= 150 ? 78 : 50));
    expect(kinds).toEqual(['40:firing', '100:repeat', '160:repeat', '181:resolved']);
    const events = store.events(rule.id).reverse();
    expect(events.map((e) => [e.kind, e.value])).toEqual([
      ['firing', 95],
      ['repeat', 95],
      ['repeat', 50],
      ['resolved', 50],
    ]);
    expect(events[0]?.message).toBe('[medium] cpu: cpu_percent > 80 on system for 30 s (now 95)');
    expect(store.deliveries.pending(Number.MAX_SAFE_INTEGER)).toHaveLength(8);
    expect(store.getRule('cpu')?.state.status).toBe('resolved');
  });

  it('evaluates gauges from the first snapshot alone, rates only from a pair', () => {
    const { define, evaluator } = setup();
    define({ alert_name: 'mem', metric_type: 'memory', threshold_value: 90 });
    define({ alert_name: 'cpu' });
    const ev = evaluator();
    ev.start(0);
    ev.evaluate(null, machine()(0, 99, 95), 0);
    expect(ev.current().map((e) => [e.rule.spec.alert_name, e.state.status])).toEqual([
      ['mem', 'pending'],
      ['cpu', 'inactive'],
    ]);
  });

  it('derives disk and network metrics only while a rule watches one', () => {
    const watches = (...metrics: string[]) =>
      new RuleSet(
        RuleSet.entries(
          metrics.map((metric_type, id) => ({
            rule: {
              ...normalizeRule({ alert_name: metric_type, metric_type, threshold_value: 1 }),
              id,
            },
            state: initialState(),
          })),
        ),
        0,
        [],
        new Map(),
      ).watchesDevices;
    expect(watches('cpu', 'memory', 'load1')).toBe(false);
    expect(watches('cpu', 'disk_busy_percent')).toBe(true);
    expect(watches('network_drops_per_second')).toBe(true);

    const { define, evaluator, store } = setup();
    define({ alert_name: 'cpu' });
    const ev = evaluator();
    ev.start(0);
    const m = machine();
    // A disk busy 50 % of each second: io_ms grows by 500 a second.
    const at = (t: number) => ({
      ...m(t, 10),
      disks: [diskCounters('vda', { io_ms: 500 * t })],
    });
    let prev = at(0);
    const step = (t: number) => {
      const cur = at(t);
      ev.evaluate(prev, cur, t * S);
      prev = cur;
    };
    step(1);
    expect(ev.current()[0]?.state.lastValue).toBe(10);
    store.upsertRule(
      normalizeRule({ alert_name: 'disk', metric_type: 'disk_busy_percent', threshold_value: 40 }),
      S,
    );
    step(2);
    expect(ev.current().map((e) => [e.rule.spec.alert_name, e.state.lastValue])).toEqual([
      ['cpu', 10],
      ['disk', 50],
    ]);
    expect(ev.current()[1]?.state.status).toBe('pending');
  });

  it('alerts on one automation from its runs: the latest run speaks until the next', () => {
    const { store, define, evaluator } = setup();
    const rule = define({
      alert_name: 'slow backup',
      monitoring_scope: 'automation',
      target_id: 'backup',
      metric_type: 'execution_time',
      threshold_value: 1000,
    });
    const ev = evaluator();
    ev.start(0);
    const fired: string[] = [];
    for (let t = 0; t <= 120; t++) {
      if (t === 5) ev.observeRuns([run(1, 'backup', 5, { wall_ms: 3000 }), run(2, 'other', 5)]);
      if (t === 20) ev.observeRuns([run(3, 'backup', 20, { wall_ms: 200 })]);
      if (t === 50) ev.observeRuns([run(4, 'backup', 50, { wall_ms: 2500 })]);
      for (const n of ev.evaluateValues(t * S, null, t * S)) fired.push(`${t}:${n.kind}`);
    }
    expect(fired).toEqual(['80:firing']);
    expect(store.events(rule.id)[0]?.message).toContain('on automation backup');
  });

  it('takes the worst automation for rules over all automations, per operator', () => {
    const { define, evaluator } = setup();
    const common = { metric_type: 'execution_time', evaluation_period: 30 } as const;
    define({ ...common, alert_name: 'max', threshold_value: 2000 });
    define({ ...common, alert_name: 'min', threshold_operator: 'lt', threshold_value: 200 });
    define({ ...common, alert_name: 'eq', threshold_operator: 'eq', threshold_value: 1000 });
    define({ ...common, alert_name: 'gte', threshold_operator: 'gte', threshold_value: 2500 });
    define({ ...common, alert_name: 'lte', threshold_operator: 'lte', threshold_value: 100 });
    define({ alert_name: 'errors', metric_type: 'error_rate', threshold_value: 0.3 });
    define({
      alert_name: 'idle',
      metric_type: 'runs_per_minute',
      threshold_operator: 'lt',
      threshold_value: 0.1,
    });
    const ev = evaluator();
    ev.start(0);
    ev.evaluateValues(0, null, 0);
    expect(ev.current().every((e) => e.state.lastValue === null)).toBe(true);
    ev.observeRuns([
      run(1, 'a', 1, { wall_ms: 2500 }),
      run(2, 'b', 1, { wall_ms: 100 }),
      run(3, 'c', 1, { wall_ms: 1001, status: 'failed' }),
      run(4, 'c', 1, { wall_ms: 1001 }),
    ]);
    ev.evaluateValues(2 * S, null, 2 * S);
    const last = Object.fromEntries(ev.current().map((e) => [e.rule.spec.alert_name, e.state]));
    expect(last.max?.lastValue).toBe(2500);
    expect(last.min?.lastValue).toBe(100);
    expect(last.eq?.lastValue).toBe(1001);
    expect([last.gte?.lastValue, last.lte?.lastValue]).toEqual([2500, 100]);
    expect(last.errors?.lastValue).toBe(0.5);
    expect(last.idle?.lastValue).toBeCloseTo(0.2, 12);
    expect(Object.values(last).map((s) => s?.status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
      'inactive',
    ]);
  });

  it('after a restart sends a repeat that fell due while down once, and never twice', () => {
    const { db, define, evaluator, file } = setup();
    const rule = define({});
    const first = evaluator();
    first.start(0);
    expect(drive(first, 0, 40, () => 95)).toEqual(['31:firing']);
    db.close();

    // down for ten minutes; two restarts in a row
    const again = setup(file);
    expect(
      again
        .evaluator()
        .start(640 * S)
        .map((n) => n.dedupeKey),
    ).toEqual([`${rule.id}:1:repeat:1`]);
    expect(again.evaluator().start(641 * S)).toEqual([]);
    const kinds = again.store.events(rule.id).map((e) => e.kind);
    expect(kinds).toEqual(['repeat', 'firing']);
  });

  it('resumes a pending hold across a restart shorter than the max gap', () => {
    const { db, define, evaluator, file } = setup();
    define({});
    const first = evaluator();
    first.start(0);
    const m = machine();
    let prev = m(0, 95);
    for (let t = 1; t <= 20; t++) first.evaluate(prev, (prev = m(t, 95)), t * S);
    db.close();
    const again = setup(file).evaluator();
    again.start(25 * S);
    // the restarted recorder has no previous snapshot for rates until its second tick
    expect(again.evaluate(null, m(25, 95), 25 * S)).toEqual([]);
    expect(again.evaluate(m(26, 95), m(27, 95), 27 * S)).toEqual([]);
    expect(again.evaluate(m(30, 95), m(31, 95), 31 * S).map((n) => n.kind)).toEqual(['firing']);
  });

  it('sees an acknowledgement made through another connection and stops reminders', () => {
    const { define, evaluator, file } = setup();
    define({});
    const ev = evaluator();
    ev.start(0);
    expect(drive(ev, 0, 40, () => 95)).toEqual(['31:firing']);
    const other = new AlertStore(openDatabase(file));
    other.updateState('cpu', 50 * S, (s) => acknowledge(s, 50 * S));
    other.db.close();
    const m = machine();
    const later: string[] = [];
    for (let t = 41; t <= 200; t++) {
      for (const n of ev.evaluate(m(t - 1, 95), m(t, 95), t * S)) later.push(n.kind);
    }
    expect(later).toEqual([]);
    expect(ev.current()[0]?.state).toMatchObject({ acknowledgedAt: 50 * S, lastTs: 200 * S });
  });

  it('a failed write leaves nothing half-done; the next tick stores the notification once', () => {
    const { db, store, define, evaluator } = setup();
    const rule = define({});
    const ev = evaluator();
    ev.start(0);
    drive(ev, 0, 30, () => 95);
    db.exec(`CREATE TEMP TRIGGER full BEFORE INSERT ON alert_event
             BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    const m = machine();
    expect(() => ev.evaluate(m(30, 95), m(31, 95), 31 * S)).toThrow(AlertEngineError);
    expect(ev.current()[0]?.state.status).toBe('pending');
    db.exec('DROP TRIGGER full');
    expect(ev.evaluate(m(31, 95), m(32, 95), 32 * S).map((n) => n.kind)).toEqual(['firing']);
    expect(store.events(rule.id).map((e) => e.kind)).toEqual(['firing']);
  });

  it('checkpoints active rules and rules on automations, quiet system rules only on change', () => {
    const { store, define, evaluator } = setup();
    define({}); // cpu > 80: quiet at 10 %
    define({ alert_name: 'busy', threshold_value: 5 }); // pending from 1 s, firing from 31 s
    define({
      alert_name: 'slow',
      monitoring_scope: 'automation',
      target_id: 'backup',
      metric_type: 'execution_time',
      threshold_value: 1000,
    });
    const ev = evaluator(10_000);
    ev.start(0);
    ev.observeRuns([run(1, 'backup', 0, { wall_ms: 500 })]);
    expect(drive(ev, 0, 45, () => 10)).toEqual(['31:firing']);
    const stored = (name: string) => store.getRule(name)?.state;
    expect(stored('cpu')).toMatchObject({ status: 'inactive', lastTs: null, lastValue: null });
    expect(stored('busy')).toMatchObject({ status: 'firing', lastTs: 40 * S, lastValue: 10 });
    expect(stored('slow')).toMatchObject({ status: 'inactive', lastTs: 40 * S, lastValue: 500 });
    expect(ev.current().map((e) => [e.state.lastTs, e.state.lastValue])).toEqual([
      [45 * S, 10],
      [45 * S, 10],
      [45 * S, 500],
    ]);
  });

  it('a reload keeps the last value seen in memory, also of a sample at the same timestamp', () => {
    const { define, evaluator } = setup();
    define({});
    const ev = evaluator();
    ev.start(0);
    const cpu = (v: number) => ({ cpu_percent: v }) as never;
    ev.evaluateValues(1 * S, cpu(85), 1 * S); // pending: stored
    ev.evaluateValues(2 * S, cpu(10), 2 * S); // inactive again: stored with lastValue 10
    ev.evaluateValues(2 * S, cpu(20), 2 * S); // quiet, not stored
    define({ alert_name: 'mem', metric_type: 'memory' }); // any rule change reloads them all
    ev.evaluateValues(3 * S, null, 3 * S);
    expect(ev.current()[0]?.state).toMatchObject({
      lastTs: 3 * S,
      lastDataTs: 2 * S,
      lastValue: 20,
    });
  });

  it('reloads rules changed since the last tick and reports broken ones', () => {
    const { db, define, evaluator } = setup();
    define({});
    const ev = evaluator();
    ev.start(0);
    ev.evaluateValues(0, null, 0);
    define({ alert_name: 'mem', metric_type: 'memory' });
    db.prepare("UPDATE alert_rule SET definition = '{}' WHERE name = 'cpu'").run();
    ev.evaluateValues(1 * S, null, 1 * S);
    expect(ev.current().map((e) => e.rule.spec.alert_name)).toEqual(['mem']);
    expect(ev.broken.map((b) => b.name)).toEqual(['cpu']);
  });

  it('with no rules does nothing but notice a rule another process creates, within the poll', () => {
    const { db, evaluator, file } = setup();
    const ev = evaluator();
    ev.start(0);
    const m = machine();
    // The version was read on start and again 5 s (RULES_POLL_MS) later.
    expect(RULES_POLL_MS).toBe(5 * S);
    expect(drive(ev, 0, 5, () => 95)).toEqual([]);
    expect(ev.current()).toEqual([]);
    const other = new AlertStore(openDatabase(file));
    other.upsertRule(
      normalizeRule({ alert_name: 'hot', metric_type: 'cpu', threshold_value: 80 }),
      6 * S,
    );
    other.db.close();
    const names = () => ev.current().map((e) => [e.rule.spec.alert_name, e.state.status]);
    for (let t = 6; t <= 9; t++) ev.evaluate(m(t - 1, 95), m(t, 95), t * S);
    expect(names()).toEqual([]);
    ev.evaluate(m(9, 95), m(10, 95), 10 * S);
    expect(names()).toEqual([['hot', 'pending']]);
    expect(db.prepare('SELECT count(*) FROM alert_state').pluck().get()).toBe(1);
  });

  it('sees a change made through its own connection on the next tick, and reads again when the clock goes back', () => {
    const { db, evaluator, file } = setup();
    const ev = evaluator();
    ev.start(0);
    const m = machine();
    drive(ev, 0, 2, () => 95);
    // Another AlertStore on the same connection (as the MCP tools of a recording server);
    // a quiet rule, so that no write of the evaluator's reads the version either.
    new AlertStore(db).upsertRule(
      normalizeRule({ alert_name: 'here', metric_type: 'cpu', threshold_value: 99 }),
      2 * S,
    );
    ev.evaluate(m(2, 95), m(3, 95), 3 * S);
    expect(ev.current().map((e) => e.rule.spec.alert_name)).toEqual(['here']);
    const other = new AlertStore(openDatabase(file));
    other.deleteRule('here');
    other.db.close();
    ev.evaluate(m(3, 95), m(4, 95), 4 * S);
    expect(ev.current().map((e) => e.rule.spec.alert_name)).toEqual(['here']);
    // The clock went back: the last read's time says nothing, so it reads now.
    ev.evaluate(m(4, 95), m(5, 95), 1 * S);
    expect(ev.current()).toEqual([]);
  });

  it('writes nothing on a quiet tick: it goes on while another connection holds the write lock', () => {
    const { db, store, define, evaluator, file } = setup();
    define({});
    const ev = evaluator(3600_000);
    ev.start(0);
    drive(ev, 0, 3, () => 10);
    db.pragma('busy_timeout = 0'); // a write attempt fails at once instead of waiting
    const other = openDatabase(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const m = machine();
      let prev = m(3, 10);
      for (let t = 4; t <= 10; t++) ev.evaluate(prev, (prev = m(t, 10)), t * S);
      expect(ev.current()[0]?.state).toMatchObject({ status: 'inactive', lastTs: 10 * S });
      // a tick that must store a state needs the lock, fails whole, and is retried
      expect(() => ev.evaluate(prev, (prev = m(11, 95)), 11 * S)).toThrow(AlertEngineError);
      expect(ev.current()[0]?.state.status).toBe('inactive');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const m = machine();
    ev.evaluate(m(11, 95), m(12, 95), 12 * S);
    expect(store.getRule('cpu')?.state).toMatchObject({ status: 'pending', activeAt: 12 * S });
  });

  it('recomputes from stored state when another process changes a rule between read and write', () => {
    const { store, define, evaluator, file } = setup();
    define({});
    const ev = evaluator();
    ev.start(0);
    expect(drive(ev, 0, 40, () => 95)).toEqual(['31:firing']);
    // Acknowledged by another connection just as this tick computes its steps: the tick's
    // first read of the version is before the acknowledgement, its write after.
    const other = new AlertStore(openDatabase(file));
    const realVersion = store.version.bind(store);
    let reads = 0;
    store.version = () => {
      const v = realVersion();
      if (++reads === 1) other.updateState('cpu', 95 * S, (s) => acknowledge(s, 95 * S));
      return v;
    };
    const m = machine();
    // t = 100: a reminder is due (cooldown 60 s), but the alert is acknowledged meanwhile
    expect(ev.evaluate(m(99, 95), m(100, 95), 100 * S)).toEqual([]);
    other.db.close();
    expect(reads).toBe(2);
    expect(store.getRule('cpu')?.state).toMatchObject({ acknowledgedAt: 95 * S, repeats: 0 });
    expect(store.events(1).map((e) => e.kind)).toEqual(['firing']);
  });

  it('reads automation runs only while a rule watches automations, from far back when one appears', () => {
    const { store, define } = setup();
    const reads: [number, number][] = [];
    const ev = new AlertEvaluator(store, {
      intervalMs: 1000,
      clock: () => 0,
      runs: (from, to) => {
        reads.push([from, to]);
        return from <= 10 * S && 10 * S <= to ? [run(1, 'backup', 10, { wall_ms: 5000 })] : [];
      },
    });
    ev.start(0);
    define({});
    for (let t = 100; t <= 102; t++) ev.evaluateValues(t * S, { cpu_percent: 10 } as never, t * S);
    expect(reads).toEqual([]);
    define({
      alert_name: 'slow',
      monitoring_scope: 'automation',
      target_id: 'backup',
      metric_type: 'execution_time',
      threshold_value: 1000,
    });
    ev.evaluateValues(103 * S, null, 103 * S);
    ev.evaluateValues(104 * S, null, 104 * S);
    expect(reads).toEqual([
      [103 * S - RUN_LOOKBACK_MS, 103 * S],
      [103 * S - RUN_OVERLAP_MS, 104 * S],
    ]);
    expect(ev.current()[1]?.state).toMatchObject({ status: 'pending', lastValue: 5000 });
    store.deleteRule('slow');
    ev.evaluateValues(105 * S, null, 105 * S);
    expect(reads).toHaveLength(2);
  });

  it('uses the system clock when none is injected', () => {
    const { store, define } = setup();
    define({});
    const ev = new AlertEvaluator(store, { intervalMs: 1000 });
    const before = Date.now();
    expect(ev.start()).toEqual([]);
    ev.evaluateValues(before, null);
    expect(ev.current()[0]?.state.lastTs).toBe(before);
  });
});
