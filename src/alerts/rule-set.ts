/**
 * The rules an evaluator holds, as loaded under one version of the store: each with its
 * state, split into the quiet system rules of the QuietIndex and the rest ("loose"), which
 * are stepped one by one on every tick.
 */
import { metricDef } from '../analyze/catalog.js';
import { QuietIndex, type QuietMember, type Tracks } from './quiet-index.js';
import type { AlertRule } from './rule.js';
import { quietCondition, type AlertState, type QuietCondition } from './state.js';
import type { BrokenRule } from './store.js';

export interface Entry extends QuietMember {
  readonly rule: AlertRule;
  /** Replaced when a tick commits; an index member's last-seen fields are as of `seen`. */
  state: AlertState;
  /** The rule's raise condition, for quietStep and the index. */
  readonly cond: QuietCondition;
  /** The system metric watched; null for a rule on automations. */
  readonly systemMetric: string | null;
  /** Position among the rules (id order): steps, writes and notifications keep this order. */
  readonly pos: number;
  seen: number;
}

export class RuleSet {
  readonly index: QuietIndex<Entry>;
  /** The system metrics watched, each fed to its track on every tick. */
  readonly metrics: readonly string[];
  readonly watchesSystem: boolean;
  /** Some metric watched is a disk or network one (deriving those reads every device). */
  readonly watchesDevices: boolean;
  readonly watchesAutomations: boolean;
  /** The entries outside the index, in entries order; null until needed after a change. */
  private loose: Entry[] | null = null;

  constructor(
    readonly entries: readonly Entry[],
    readonly version: number,
    readonly broken: BrokenRule[],
    tracks: Tracks,
  ) {
    this.index = new QuietIndex(tracks);
    const metrics = new Set<string>();
    for (const e of entries) {
      if (e.systemMetric !== null) metrics.add(e.systemMetric);
      if (this.index.canJoin(e)) this.index.add(e);
    }
    this.metrics = [...metrics];
    this.watchesSystem = metrics.size > 0;
    this.watchesDevices = this.metrics.some((m) => {
      const category = metricDef(m)?.category;
      return category === 'disk' || category === 'network';
    });
    this.watchesAutomations = entries.some((e) => e.systemMetric === null);
  }

  static entries(rules: readonly { rule: AlertRule; state: AlertState }[]): Entry[] {
    return rules.map(({ rule, state }, pos) => ({
      rule,
      state,
      cond: quietCondition(rule),
      systemMetric: rule.entity.kind === 'system' ? rule.metric : null,
      pos,
      seen: -1,
    }));
  }

  looseEntries(): readonly Entry[] {
    this.loose ??= this.entries.filter((e) => !this.index.has(e));
    return this.loose;
  }

  /**
   * After a committed step gave `e` its next state (and its metric's track was fed the same
   * sample): a rule that turned quiet joins the index, one that turned active leaves it.
   */
  settle(e: Entry): void {
    const member = this.index.has(e);
    // A member's new state saw every sample its track was fed.
    if (member) e.seen = this.index.track(e.systemMetric as string).seq;
    if (member === this.index.canJoin(e)) return;
    if (member) this.index.remove(e);
    else this.index.add(e);
    this.loose = null;
  }

  /** Every state with its last-seen fields current, for reading them all. */
  materialised(): readonly Entry[] {
    for (const e of this.entries) this.index.materialise(e);
    return this.entries;
  }
}
