/**
 * Quiet system rules, indexed so that a tick costs nothing per rule. A quiet rule (inactive
 * or resolved, no clear period running: quietStep's preconditions) changes on a sample only
 * when the sample breaches it; otherwise it just moves its last-seen fields, and every quiet
 * rule of a metric moves them the same way. So the index keeps those fields once per metric
 * (LastSeen), and per (metric, operator) the quiet rules' thresholds sorted in a
 * Float64Array: a binary search on the tick's value finds the only rules it can breach,
 * without reading any other rule.
 *
 * A member's state holds its own last-seen fields as of `seen` (a count of the samples its
 * metric's LastSeen was fed); `materialise` brings them up to date. Membership changes only
 * mark a group dirty; it is sorted again when next searched, so a rule flapping every tick
 * costs one sort of its group per tick at worst.
 */
import type { Operator } from './rule.js';
import type { AlertState, QuietCondition } from './state.js';

/** What the quiet rules of one metric have seen: the fields quietStep moves, kept once. */
export class LastSeen {
  lastTs: number | null = null;
  lastDataTs: number | null = null;
  lastValue: number | null = null;
  /** Samples fed so far, and that count as of the last one with a value. */
  seq = 0;
  dataSeq = 0;

  /** One sample in order (ts ≥ lastTs); a null value moves lastTs only, as quietStep does. */
  feed(ts: number, value: number | null): void {
    this.seq++;
    this.lastTs = ts;
    if (value === null) return;
    this.lastDataTs = ts;
    this.lastValue = value;
    this.dataSeq = this.seq;
  }
}

export interface QuietMember {
  /** The system metric watched; null for a rule on automations, which is never a member. */
  readonly systemMetric: string | null;
  readonly cond: QuietCondition;
  state: AlertState;
  /** While a member: the LastSeen count its state's last-seen fields are current as of; else -1. */
  seen: number;
}

/** Whether a state is one quietStep may move: not active, no clear period running. */
export function quietState(s: AlertState): boolean {
  return (s.status === 'inactive' || s.status === 'resolved') && s.clearSince === null;
}

/** The quiet members of one metric with one operator, by threshold. */
class Group<T extends QuietMember> {
  readonly members = new Set<T>();
  private dirty = false;
  private sorted: T[] = [];
  private thresholds = new Float64Array(0);
  /** eq only: each member's tolerance, and the largest. */
  private tolerances = new Float64Array(0);
  private maxTolerance = 0;

  constructor(private readonly op: Operator) {}

  add(m: T): void {
    this.members.add(m);
    this.dirty = true;
  }

  delete(m: T): void {
    this.members.delete(m);
    this.dirty = true;
  }

  private rebuild(): void {
    this.sorted = [...this.members].sort((a, b) => a.cond.threshold - b.cond.threshold);
    const n = this.sorted.length;
    this.thresholds = new Float64Array(n);
    this.tolerances = new Float64Array(this.op === 'eq' ? n : 0);
    this.maxTolerance = 0;
    for (let i = 0; i < n; i++) {
      const c = (this.sorted[i] as T).cond;
      this.thresholds[i] = c.threshold;
      if (this.op !== 'eq') continue;
      this.tolerances[i] = c.tolerance;
      this.maxTolerance = Math.max(this.maxTolerance, c.tolerance);
    }
    this.dirty = false;
  }

  /** Appends the members that `v` breaches, ascending by threshold. */
  breached(v: number, out: T[]): void {
    if (this.members.size === 0) return;
    if (this.dirty) this.rebuild();
    const t = this.thresholds;
    let from = 0;
    let to = t.length;
    switch (this.op) {
      case 'gt': // t < v
        to = firstIndex(t, (x) => x >= v);
        break;
      case 'gte': // t ≤ v
        to = firstIndex(t, (x) => x > v);
        break;
      case 'lt': // t > v
        from = firstIndex(t, (x) => x > v);
        break;
      case 'lte': // t ≥ v
        from = firstIndex(t, (x) => x >= v);
        break;
      case 'eq':
        return this.near(v, out);
    }
    for (let i = from; i < to; i++) out.push(this.sorted[i] as T);
  }

  /**
   * eq: |v − t| ≤ tolerance. The range searched holds every t within the largest tolerance,
   * found with the same subtractions the condition makes, so rounding cannot drop one; each
   * is then confirmed with its own tolerance.
   */
  private near(v: number, out: T[]): void {
    const t = this.thresholds;
    const w = this.maxTolerance;
    const end = firstIndex(t, (x) => x - v > w);
    for (let i = firstIndex(t, (x) => v - x <= w); i < end; i++) {
      if (Math.abs(v - (t[i] as number)) <= (this.tolerances[i] as number)) {
        out.push(this.sorted[i] as T);
      }
    }
  }
}

/** The first index whose value satisfies `past`, which must be false then true along `a`. */
function firstIndex(a: Float64Array, past: (x: number) => boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (past(a[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const OPERATOR_SLOT: Record<Operator, number> = { gt: 0, gte: 1, lt: 2, lte: 3, eq: 4 };

/** One metric's groups, one per operator. */
class MetricGroups<T extends QuietMember> {
  readonly groups: Group<T>[] = [
    new Group<T>('gt'),
    new Group<T>('gte'),
    new Group<T>('lt'),
    new Group<T>('lte'),
    new Group<T>('eq'),
  ];

  of(m: T): Group<T> {
    return this.groups[OPERATOR_SLOT[m.cond.op]] as Group<T>;
  }
}

/** LastSeen per metric. It outlives an index: rules reloaded join against the same tracks. */
export type Tracks = Map<string, LastSeen>;

export class QuietIndex<T extends QuietMember> {
  private readonly byMetric = new Map<string, MetricGroups<T>>();

  constructor(private readonly tracks: Tracks = new Map()) {}

  track(metric: string): LastSeen {
    let t = this.tracks.get(metric);
    if (!t) this.tracks.set(metric, (t = new LastSeen()));
    return t;
  }

  /**
   * Whether a rule can be a member now: a system rule in a quiet state that is not ahead of
   * its metric's track (a state stored with a later timestamp than any sample fed since must
   * judge the next samples one by one, as out of order).
   */
  canJoin(m: T): boolean {
    if (m.systemMetric === null || !quietState(m.state)) return false;
    const last = m.state.lastTs;
    if (last === null) return true;
    const seen = this.track(m.systemMetric).lastTs;
    return seen !== null && last <= seen;
  }

  has(m: T): boolean {
    return m.seen >= 0;
  }

  /** Adds a rule that canJoin, its last-seen fields current as of its track now. */
  add(m: T): void {
    const metric = m.systemMetric as string;
    let groups = this.byMetric.get(metric);
    if (!groups) this.byMetric.set(metric, (groups = new MetricGroups()));
    groups.of(m).add(m);
    m.seen = this.track(metric).seq;
  }

  /** Removes a member, its state materialised first. */
  remove(m: T): void {
    this.materialise(m);
    this.byMetric
      .get(m.systemMetric as string)
      ?.of(m)
      .delete(m);
    m.seen = -1;
  }

  /** Brings a member's last-seen fields up to its track (in place); others are left alone. */
  materialise(m: T): void {
    if (m.seen < 0) return;
    const t = this.track(m.systemMetric as string);
    if (t.seq > m.seen) {
      const s = m.state;
      s.lastTs = t.lastTs;
      if (t.dataSeq > m.seen) {
        s.lastDataTs = t.lastDataTs;
        s.lastValue = t.lastValue;
      }
    }
    m.seen = t.seq;
  }

  /** Every member of a metric, in no particular order. */
  *members(metric: string): Generator<T> {
    const groups = this.byMetric.get(metric);
    if (!groups) return;
    for (const g of groups.groups) yield* g.members;
  }

  /** Appends the members of a metric that the value `v` breaches (exactly, as quietStep judges). */
  breached(metric: string, v: number, out: T[]): void {
    const groups = this.byMetric.get(metric);
    if (!groups) return;
    for (const g of groups.groups) g.breached(v, out);
  }
}
