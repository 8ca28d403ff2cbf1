import { describe, expect, it } from 'vitest';
import { normalizeRule, type AlertRule, type AlertRuleInput } from './rule.js';
import {
  acknowledge,
  initialState,
  maxGapFor,
  step,
  type AlertState,
  type AlertStatus,
} from './state.js';

const S = 1000;

/** evaluation_period 30 s (clear period 30 s), cooldown 60 s; threshold cpu > 80. */
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

/** [seconds, value, expected status, expected effects as kind:seq] — now = the sample time. */
type Row = [number, number | null, AlertStatus, string?];
/** An action between samples. */
type Action =
  { ack: number } | { now: number; t: number; v: number | null; status: AlertStatus; fx?: string };

/** Plays rows; the max gap defaults to 100 s so that sparse tables mean what they say. */
function play(
  r: AlertRule,
  rows: readonly (Row | Action)[],
  state = initialState(),
  gapS = 100,
): AlertState {
  let s = state;
  for (const row of rows) {
    if (!Array.isArray(row) && 'ack' in row) {
      s = acknowledge(s, row.ack * S);
      continue;
    }
    const [t, v, status, fx, now] = Array.isArray(row)
      ? [row[0], row[1], row[2], row[3], row[0]]
      : [row.t, row.v, row.status, row.fx, row.now];
    const res = step(r, s, { ts: t * S, value: v }, (now as number) * S, { maxGapMs: gapS * S });
    const got = res.effects.map((e) => `${e.kind}:${e.seq}`).join(',');
    expect({ t, status: res.state.status, effects: got }).toEqual({ t, status, effects: fx ?? '' });
    s = res.state;
  }
  return s;
}

describe('transitions (table-driven, like Prometheus rules/alerting.go)', () => {
  const cases: {
    name: string;
    rule?: Partial<AlertRuleInput>;
    gap?: number;
    rows: (Row | Action)[];
  }[] = [
    {
      name: 'stays inactive below the threshold and at it',
      rows: [
        [0, 10, 'inactive'],
        [1, 80, 'inactive'],
        [2, null, 'inactive'],
      ],
    },
    {
      name: 'pending when the condition first holds, firing once it held for evaluation_period',
      rows: [
        [0, 10, 'inactive'],
        [1, 90, 'pending'],
        [30, 90, 'pending'],
        [31, 95, 'firing', 'firing:0'],
        [32, 95, 'firing'],
      ],
    },
    {
      name: 'one sample below the threshold resets pending (the hold must be continuous)',
      rows: [
        [0, 90, 'pending'],
        [29, 90, 'pending'],
        [30, 79, 'inactive'],
        [31, 90, 'pending'],
        [60, 90, 'pending'],
        [61, 90, 'firing', 'firing:0'],
      ],
    },
    {
      name: 'short silences (≤ max gap) do not break the hold; firing needs a real sample',
      gap: 10,
      rows: [
        [0, 90, 'pending'],
        [5, null, 'pending'],
        [10, 90, 'pending'],
        [15, null, 'pending'],
        [20, 90, 'pending'],
        [29, 90, 'pending'],
        [30, null, 'pending'],
        [31, 90, 'firing', 'firing:0'],
      ],
    },
    {
      name: 'a gap longer than max gap returns pending to inactive, even with no sample yet',
      gap: 10,
      rows: [
        [0, 90, 'pending'],
        [10, null, 'pending'],
        [10.001, null, 'inactive'],
        [12, 90, 'pending'],
        [22, 90, 'pending'],
        [32, 90, 'pending'],
        [42, 90, 'firing', 'firing:0'],
      ],
    },
    {
      name: 'a gap before the next value restarts the hold from that value',
      gap: 10,
      rows: [
        [0, 90, 'pending'],
        [25, 90, 'pending'],
        [35, 90, 'pending'],
        [45, 90, 'pending'],
        [54, 90, 'pending'],
        [55, 90, 'firing', 'firing:0'],
      ],
    },
    {
      name: 'dips inside the hysteresis band keep it firing (keep_firing semantics)',
      rule: { auto_resolution: true },
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [31, 79, 'firing'],
        [40, 77, 'firing'],
        [80, 76.5, 'firing'],
        [85, 90, 'firing'],
      ],
    },
    {
      name: 'auto_resolution: resolved after staying clear for the clear period, then a new episode',
      rule: { auto_resolution: true },
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [40, 70, 'firing'],
        [69, 70, 'firing'],
        [70, 70, 'resolved', 'resolved:0'],
        [71, 70, 'resolved'],
        [72, 90, 'pending'],
        [100, 79, 'inactive'],
        [101, 90, 'pending'],
        [131, 90, 'firing', 'firing:0'],
      ],
    },
    {
      name: 'a clear stretch shorter than the clear period, interrupted by the band, does not resolve',
      rule: { auto_resolution: true },
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [40, 70, 'firing'],
        [69, 78, 'firing'],
        [70, 70, 'firing'],
        [99, 70, 'firing', 'repeat:1'],
        [100, 70, 'resolved', 'resolved:0'],
      ],
    },
    {
      name: 'a gap while firing never resolves it and restarts the clear period',
      rule: { auto_resolution: true },
      gap: 20,
      rows: [
        [0, 90, 'pending'],
        [15, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [40, 70, 'firing'],
        [61, null, 'firing'],
        [65, 70, 'firing'],
        [80, 70, 'firing'],
        [94, 70, 'firing', 'repeat:1'],
        [95, 70, 'resolved', 'resolved:0'],
      ],
    },
    {
      name: 'without auto_resolution it keeps firing and repeats once per cooldown, even without data',
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [60, 10, 'firing'],
        [89, 10, 'firing'],
        [90, 10, 'firing', 'repeat:1'],
        [149, null, 'firing'],
        [150, null, 'firing', 'repeat:2'],
        [151, 90, 'firing'],
      ],
    },
    {
      name: 'acknowledge stops repeats; the alert then resolves silently once clear',
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        { ack: 40 },
        [90, 90, 'firing'],
        [200, 70, 'firing'],
        [229, 70, 'firing'],
        [230, 70, 'resolved'],
        [231, 90, 'pending'],
        [261, 90, 'firing', 'firing:0'],
        [321, 90, 'firing', 'repeat:1'],
      ],
    },
    {
      name: 'acknowledging an alert that has been clear long enough resolves it on the next sample',
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [31, 50, 'firing'],
        [89, 50, 'firing'],
        [90, 50, 'firing', 'repeat:1'],
        { ack: 95 },
        [96, 50, 'resolved'],
      ],
    },
    {
      name: 'with auto_resolution an acknowledged alert still reports its resolution',
      rule: { auto_resolution: true },
      rows: [
        [0, 90, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        { ack: 31 },
        [100, 90, 'firing'],
        [101, 50, 'firing'],
        [131, 50, 'resolved', 'resolved:0'],
      ],
    },
    {
      name: 'samples going back in time are ignored; the next in-order sample continues',
      rows: [
        [0, 90, 'pending'],
        [20, 90, 'pending'],
        [10, 10, 'pending'],
        [5, 10, 'pending'],
        [30, 90, 'firing', 'firing:0'],
        [25, 10, 'firing'],
      ],
    },
    {
      name: 'non-finite values are no data',
      gap: 10,
      rows: [
        [0, 90, 'pending'],
        [5, Number.NaN, 'pending'],
        [12, Number.POSITIVE_INFINITY, 'inactive'],
      ],
    },
    {
      name: 'a wall clock stepping back restarts the cooldown instead of stalling or bursting',
      rows: [
        [0, 90, 'pending'],
        { t: 30, v: 90, now: 1000, status: 'firing', fx: 'firing:0' },
        { t: 31, v: 90, now: 500, status: 'firing' },
        { t: 32, v: 90, now: 559, status: 'firing' },
        { t: 33, v: 90, now: 560, status: 'firing', fx: 'repeat:1' },
      ],
    },
    {
      name: 'lt: fires when the value stays low, resolves when it rises past threshold + hysteresis',
      rule: { threshold_operator: 'lt', threshold_value: 20, auto_resolution: true },
      rows: [
        [0, 30, 'inactive'],
        [1, 10, 'pending'],
        [31, 19, 'firing', 'firing:0'],
        [32, 20.5, 'firing'],
        [40, 21, 'firing'],
        [70, 25, 'resolved', 'resolved:0'],
      ],
    },
    {
      name: 'eq: fires within the tolerance, clears outside tolerance + hysteresis',
      rule: { threshold_operator: 'eq', threshold_value: 100, auto_resolution: true },
      rows: [
        [0, 100.4, 'pending'],
        [30, 99.6, 'firing', 'firing:0'],
        [31, 104, 'firing'],
        [32, 106, 'firing'],
        [62, 94, 'resolved', 'resolved:0'],
      ],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      play(rule(c.rule), c.rows, initialState(), c.gap);
    });
  }

  it('counts ignored out-of-order samples', () => {
    const s = play(rule(), [
      [10, 90, 'pending'],
      [5, 90, 'pending'],
      [4, 90, 'pending'],
    ]);
    expect(s.outOfOrder).toBe(2);
    expect(s.lastTs).toBe(10 * S);
  });

  it('builds dedupe keys from rule, episode, kind and sequence', () => {
    const r = rule();
    let s = initialState();
    const keys: string[] = [];
    for (let t = 0; t <= 200; t += 10) {
      const res = step(r, s, { ts: t * S, value: 90 }, t * S);
      keys.push(...res.effects.map((e) => e.dedupeKey));
      s = res.state;
    }
    expect(keys).toEqual(['7:1:firing:0', '7:1:repeat:1', '7:1:repeat:2']);
  });

  it('notifications carry the value, severity and both clocks', () => {
    const r = rule({ alert_severity: 'critical' });
    const s = step(r, initialState(), { ts: 0, value: 85 }, 0).state;
    const { effects } = step(r, s, { ts: 30 * S, value: 91 }, 31 * S, { maxGapMs: 60 * S });
    expect(effects[0]).toEqual({
      kind: 'firing',
      ruleId: 7,
      episode: 1,
      seq: 0,
      dedupeKey: '7:1:firing:0',
      at: 31 * S,
      ts: 30 * S,
      value: 91,
      severity: 'critical',
    });
  });

  it('flapping around the threshold after firing produces exactly one firing and no resolved', () => {
    const r = rule({ auto_resolution: true });
    let s = initialState();
    const fx: string[] = [];
    for (let t = 0; t < 3600; t++) {
      // first 40 s hot, then a swing past the hysteresis band every 20 s: never clear for 30 s
      const v = t < 40 ? 90 : Math.floor(t / 20) % 2 === 0 ? 60 : 85;
      const res = step(r, s, { ts: t * S, value: v }, t * S);
      fx.push(...res.effects.filter((e) => e.kind !== 'repeat').map((e) => e.kind));
      s = res.state;
    }
    expect(fx).toEqual(['firing']);
  });

  it('flapping from the start never fires: the condition never holds continuously', () => {
    const r = rule();
    let s = initialState();
    for (let t = 0; t < 600; t++) {
      const res = step(r, s, { ts: t * S, value: t % 2 ? 79 : 81 }, t * S);
      expect(res.effects).toEqual([]);
      s = res.state;
    }
    expect(s.episode).toBe(300);
  });

  it('max gap is three sample intervals, at least 10 s', () => {
    expect(maxGapFor(1000)).toBe(10_000);
    expect(maxGapFor(60_000)).toBe(180_000);
  });
});

describe('restart of a pending alert', () => {
  it('a pending alert resumes its hold after a restart shorter than the max gap', () => {
    const r = rule();
    const before = play(r, [
      [0, 90, 'pending'],
      [20, 90, 'pending'],
    ]);
    const restored = JSON.parse(JSON.stringify(before)) as AlertState;
    play(r, [[30, 90, 'firing', 'firing:0']], restored);
  });
});
