import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LastSeen, QuietIndex, type QuietMember } from './quiet-index.js';
import { normalizeRule, OPERATORS, type Operator } from './rule.js';
import { initialState, quietCondition, quietStep, type AlertState } from './state.js';

function member(
  op: Operator,
  threshold: number,
  over: Partial<AlertState> = {},
  metric: string | null = 'cpu_percent',
): QuietMember {
  const rule = normalizeRule({
    alert_name: `${op} ${threshold}`,
    metric_type: 'cpu',
    threshold_value: threshold,
    threshold_operator: op,
  });
  return {
    systemMetric: metric,
    cond: quietCondition(rule),
    state: { ...initialState(), ...over },
    seen: -1,
  };
}

/** The index holding these members, all joined. */
function indexOf(members: readonly QuietMember[]) {
  const index = new QuietIndex<QuietMember>();
  for (const m of members) index.add(m);
  return index;
}

const breachedBy = (index: QuietIndex<QuietMember>, v: number, metric = 'cpu_percent') => {
  const out: QuietMember[] = [];
  index.breached(metric, v, out);
  return out.map((m) => m.cond.threshold);
};

/** What quietStep judges: a quiet state it will not move is one the value breaches. */
const breaches = (m: QuietMember, v: number) => !quietStep(m.cond, initialState(), 0, v);

describe('QuietIndex.breached', () => {
  const thresholds = [1, 2, 2, 3];

  it.each([
    ['gt', 2, [1]],
    ['gte', 2, [1, 2, 2]],
    ['lt', 2, [3]],
    ['lte', 2, [2, 2, 3]],
    ['eq', 2, [2, 2]],
    ['gt', 1, []],
    ['gte', 1, [1]],
    ['lt', 3, []],
    ['lte', 3, [3]],
    ['gt', 3.5, [1, 2, 2, 3]],
    ['lt', 0.5, [1, 2, 2, 3]],
    ['eq', 2.5, []],
  ] as const)('%s with the value %d breaches thresholds %j', (op, v, expected) => {
    const index = indexOf(thresholds.map((t) => member(op, t)));
    expect(breachedBy(index, v)).toEqual(expected);
  });

  it('eq confirms each threshold with its own tolerance within the widest', () => {
    // tolerances: 1e-9 for 0, 0.5 for 100, 5 for 1000
    const index = indexOf([0, 100, 1000, -100].map((t) => member('eq', t)));
    expect(breachedBy(index, 100.5)).toEqual([100]);
    expect(breachedBy(index, 100.6)).toEqual([]);
    expect(breachedBy(index, 995)).toEqual([1000]);
    expect(breachedBy(index, 4)).toEqual([]);
    expect(breachedBy(index, 1e-9)).toEqual([0]);
    expect(breachedBy(index, -99.5)).toEqual([-100]);
    // the widest tolerance need not be the highest threshold's
    expect(breachedBy(indexOf([-1000, 1].map((t) => member('eq', t))), -996)).toEqual([-1000]);
  });

  it('finds exactly the members a value breaches, for any thresholds and operators', () => {
    const near = fc.oneof(
      fc.constantFrom(0, -0, 1, 2, 80, 80.4, 100, 1e-9, -1e-9, 1e12),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    );
    // values at, just inside and just outside a threshold's tolerance
    const offset = fc.constantFrom(0, 0.004, -0.004, 0.005, -0.005, 0.006, -0.006, 0.02);
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom(...OPERATORS), t: near }), { maxLength: 30 }),
        fc.array(
          fc.oneof(
            near.map((v) => ({ v })),
            fc.record({ i: fc.nat(), f: offset }),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (defs, picks) => {
          const members = defs.map((d) => member(d.op, d.t));
          const index = indexOf(members);
          for (const p of picks) {
            const base = 'v' in p ? p.v : (defs[p.i % Math.max(1, defs.length)]?.t ?? 0);
            const v = 'v' in p ? p.v : base * (1 + p.f);
            const out: QuietMember[] = [];
            index.breached('cpu_percent', v, out);
            expect(new Set(out)).toEqual(new Set(members.filter((m) => breaches(m, v))));
            expect(out).toHaveLength(new Set(out).size);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('sees members that joined or left since the last search, and other metrics not at all', () => {
    const a = member('gt', 10);
    const b = member('gt', 20);
    const index = indexOf([a]);
    expect(breachedBy(index, 30)).toEqual([10]);
    index.add(b);
    expect(breachedBy(index, 30)).toEqual([10, 20]);
    index.remove(a);
    expect(breachedBy(index, 30)).toEqual([20]);
    expect(breachedBy(index, 30, 'load1')).toEqual([]);
    expect([...index.members('cpu_percent')]).toEqual([b]);
    expect([...index.members('load1')]).toEqual([]);
  });
});

describe('QuietIndex last-seen fields', () => {
  it('a track moves lastTs on every sample, the value only on a sample with one', () => {
    const t = new LastSeen();
    t.feed(1000, 5);
    t.feed(2000, null);
    expect(t).toMatchObject({ lastTs: 2000, lastDataTs: 1000, lastValue: 5, seq: 2, dataSeq: 1 });
  });

  it('materialises what the track saw since the member joined, and nothing before', () => {
    const index = new QuietIndex<QuietMember>();
    const track = index.track('cpu_percent');
    track.feed(1000, 7);
    const m = member('gt', 80, { lastTs: 500, lastDataTs: 400, lastValue: 3 });
    index.add(m);
    index.materialise(m);
    expect(m.state).toMatchObject({ lastTs: 500, lastDataTs: 400, lastValue: 3 });
    track.feed(2000, null);
    index.materialise(m);
    expect(m.state).toMatchObject({ lastTs: 2000, lastDataTs: 400, lastValue: 3 });
    track.feed(3000, 9);
    track.feed(4000, null);
    index.materialise(m);
    expect(m.state).toMatchObject({ lastTs: 4000, lastDataTs: 3000, lastValue: 9 });
    // and the same as a quietStep of each sample since it joined
    const stepped: AlertState = { ...initialState(), lastTs: 500, lastDataTs: 400, lastValue: 3 };
    for (const [ts, v] of [
      [2000, null],
      [3000, 9],
      [4000, null],
    ] as const) {
      expect(quietStep(m.cond, stepped, ts, v)).toBe(true);
    }
    expect(m.state).toEqual(stepped);
  });

  it('leaves a rule that is not a member alone, and materialises one that leaves', () => {
    const index = new QuietIndex<QuietMember>();
    const outside = member('gt', 80, { lastTs: 1 });
    index.track('cpu_percent').feed(1000, 5);
    index.materialise(outside);
    expect(outside.state.lastTs).toBe(1);
    const m = member('gt', 80);
    index.add(m);
    index.track('cpu_percent').feed(2000, 6);
    index.remove(m);
    expect([m.seen, m.state.lastTs, m.state.lastValue]).toEqual([-1, 2000, 6]);
    index.track('cpu_percent').feed(3000, 7);
    index.materialise(m);
    expect(m.state.lastTs).toBe(2000);
  });

  it('admits quiet system rules that are not ahead of their track', () => {
    const index = new QuietIndex<QuietMember>();
    expect(index.canJoin(member('gt', 80))).toBe(true);
    // no sample fed yet: a stored timestamp must first be judged by a sample
    expect(index.canJoin(member('gt', 80, { lastTs: 1000 }))).toBe(false);
    index.track('cpu_percent').feed(1000, 5);
    expect(index.canJoin(member('gt', 80, { lastTs: 1000 }))).toBe(true);
    expect(index.canJoin(member('gt', 80, { lastTs: 1001 }))).toBe(false);
    expect(index.canJoin(member('gt', 80, { status: 'resolved' }))).toBe(true);
    expect(index.canJoin(member('gt', 80, { status: 'pending' }))).toBe(false);
    expect(index.canJoin(member('gt', 80, { status: 'firing' }))).toBe(false);
    expect(index.canJoin(member('gt', 80, { status: 'resolved', clearSince: 1 }))).toBe(false);
    expect(index.canJoin(member('gt', 80, {}, null))).toBe(false);
  });
});
