import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeRule, OPERATORS, type AlertRule } from './rule.js';
import {
  acknowledge,
  initialState,
  quietCondition,
  quietStep,
  resume,
  step,
  type AlertState,
  type Notification,
} from './state.js';

const S = 1000;

type Event =
  | { kind: 'sample'; dt: number; value: number | null; dNow: number }
  | { kind: 'ack'; dNow: number }
  | { kind: 'restart'; dNow: number };

const ruleArb = fc
  .record({
    op: fc.constantFrom(...OPERATORS),
    auto: fc.boolean(),
    period: fc.constantFrom(30, 45, 120),
    cooldown: fc.constantFrom(60, 90),
  })
  .map(({ op, auto, period, cooldown }): AlertRule => ({
    ...normalizeRule({
      alert_name: 'p',
      metric_type: 'cpu',
      threshold_value: 80,
      threshold_operator: op,
      auto_resolution: auto,
      evaluation_period: period,
      alert_cooldown: cooldown,
    }),
    id: 1,
  }));

/** Values around the threshold, inside and outside the hysteresis band and tolerance. */
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(50, 70, 75.9, 77, 79.9, 80, 80.2, 81, 84, 90, 110) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 160, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(null, Number.NaN) },
);

/**
 * Stretches of one value (so conditions hold long enough to fire and to clear), with
 * occasional long gaps, samples from the past, acknowledgements and restarts between.
 */
const eventsArb = (wallMayGoBack: boolean) =>
  fc
    .array(
      fc.oneof(
        {
          weight: 12,
          arbitrary: fc.record({
            kind: fc.constant('stretch' as const),
            value: valueArb,
            count: fc.integer({ min: 1, max: 40 }),
            dt: fc.integer({ min: 1, max: 6 }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant('sample' as const),
            dt: fc.oneof(fc.integer({ min: 9, max: 200 }), fc.integer({ min: -30, max: 0 })),
            value: valueArb,
            dNow: fc.integer({ min: wallMayGoBack ? -300 : 0, max: 10 }),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('ack' as const), dNow: fc.nat(5) }) },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('restart' as const), dNow: fc.nat(3000) }),
        },
      ),
      { maxLength: 40 },
    )
    .map((parts) =>
      parts.flatMap((p): Event[] =>
        p.kind === 'stretch'
          ? Array.from({ length: p.count }, () => ({
              kind: 'sample',
              dt: p.dt,
              value: p.value,
              dNow: p.dt,
            }))
          : [p],
      ),
    );

interface Run {
  effects: Notification[];
  final: AlertState;
  ackedEpisodes: Set<number>;
}

/** Samples the quiet fast path took over all plays (it must be exercised, not just allowed). */
let quietSteps = 0;

/** Plays events, persisting (JSON round trip) and resuming at every restart. */
function play(rule: AlertRule, events: readonly Event[]): Run {
  let s = initialState();
  let ts = 0;
  let now = 0;
  const effects: Notification[] = [];
  const ackedEpisodes = new Set<number>();
  for (const e of events) {
    now += e.dNow * S;
    if (e.kind === 'ack') {
      s = acknowledge(s, now);
      if (s.acknowledgedAt !== null) ackedEpisodes.add(s.episode);
    } else if (e.kind === 'restart') {
      const stored = JSON.parse(JSON.stringify(s)) as AlertState;
      const r = resume(rule, stored, now);
      // resuming the resumed state again sends nothing: what was due went out once
      expect(resume(rule, r.state, now).effects).toEqual([]);
      effects.push(...r.effects);
      s = r.state;
    } else {
      ts += e.dt * S;
      const sample = { ts, value: e.value };
      const r = step(rule, s, sample, now);
      // what is stored is exactly what runs: a JSON round trip changes nothing
      expect(step(rule, JSON.parse(JSON.stringify(s)) as AlertState, sample, now)).toEqual(r);
      // the in-place fast path, where it applies, is step exactly
      const quiet = structuredClone(s);
      if (quietStep(quietCondition(rule), quiet, ts, e.value)) {
        quietSteps++;
        expect(r.effects).toEqual([]);
        expect(quiet).toEqual(r.state);
      } else {
        expect(quiet).toEqual(s);
      }
      effects.push(...r.effects);
      s = r.state;
      ts = Math.max(ts, s.lastTs ?? ts);
    }
  }
  return { effects, final: s, ackedEpisodes };
}

function byEpisode(effects: readonly Notification[]): Map<number, Notification[]> {
  const out = new Map<number, Notification[]>();
  for (const n of effects) {
    const list = out.get(n.episode) ?? [];
    list.push(n);
    out.set(n.episode, list);
  }
  return out;
}

describe('state machine properties', () => {
  it('quietStep takes the usual tick of a rule that is not active, and changes what step would', () => {
    quietSteps = 0;
    fc.assert(
      fc.property(ruleArb, eventsArb(true), (rule, events) => {
        play(rule, events);
      }),
      { numRuns: 300 },
    );
    expect(quietSteps).toBeGreaterThan(1000);
  });

  it('every episode reads firing, repeat 1..n, then at most one resolved; keys are unique', () => {
    fc.assert(
      fc.property(ruleArb, eventsArb(true), (rule, events) => {
        const { effects, final, ackedEpisodes } = play(rule, events);
        const keys = effects.map((n) => n.dedupeKey);
        expect(new Set(keys).size).toBe(keys.length);
        const firings = effects.filter((n) => n.kind === 'firing').length;
        expect(firings).toBeLessThanOrEqual(final.episode);
        for (const [episode, list] of byEpisode(effects)) {
          const kinds = list.map((n) => (n.kind === 'repeat' ? `repeat:${n.seq}` : n.kind));
          const repeats = kinds.filter((k) => k.startsWith('repeat'));
          const expected = [
            'firing',
            ...repeats.map((_, i) => `repeat:${i + 1}`),
            ...(kinds.at(-1) === 'resolved' ? ['resolved'] : []),
          ];
          // never a resolved (or a repeat) without the firing before it
          expect(kinds).toEqual(expected);
          if (kinds.includes('resolved')) expect(rule.spec.auto_resolution).toBe(true);
          if (ackedEpisodes.has(episode)) {
            // after the acknowledgement only a resolved may follow
            const ackAt = list.findIndex((n) => n.kind === 'resolved');
            expect(ackAt === -1 || ackAt === list.length - 1).toBe(true);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('no storm: firings are at least evaluation_period of data time apart', () => {
    fc.assert(
      fc.property(ruleArb, eventsArb(true), (rule, events) => {
        const firings = play(rule, events).effects.filter((n) => n.kind === 'firing');
        for (let i = 1; i < firings.length; i++) {
          const gap = (firings[i] as Notification).ts - (firings[i - 1] as Notification).ts;
          expect(gap).toBeGreaterThanOrEqual(rule.forMs);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('with a monotonic wall clock, reminders of one episode are at least a cooldown apart', () => {
    fc.assert(
      fc.property(ruleArb, eventsArb(false), (rule, events) => {
        for (const list of byEpisode(play(rule, events).effects).values()) {
          const sent = list.filter((n) => n.kind !== 'resolved');
          for (let i = 1; i < sent.length; i++) {
            const gap = (sent[i] as Notification).at - (sent[i - 1] as Notification).at;
            expect(gap).toBeGreaterThanOrEqual(rule.cooldownMs);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ignores samples from the past entirely: same notifications as if never sent', () => {
    fc.assert(
      fc.property(
        ruleArb,
        eventsArb(true),
        fc.integer({ min: 1, max: 60 }),
        (rule, events, back) => {
          const forward = events.filter((e) => e.kind !== 'sample' || e.dt > 0);
          const withPast = forward.flatMap((e): Event[] =>
            e.kind === 'sample' ? [e, { kind: 'sample', dt: -back, value: 500, dNow: 0 }] : [e],
          );
          const clean = play(rule, forward);
          const noisy = play(rule, withPast);
          expect(noisy.effects).toEqual(clean.effects);
          const samples = forward.filter((e) => e.kind === 'sample').length;
          expect(noisy.final).toEqual({ ...clean.final, outOfOrder: samples });
        },
      ),
      { numRuns: 200 },
    );
  });
});
