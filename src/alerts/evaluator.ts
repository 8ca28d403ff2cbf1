/**
 * Runs every rule once per recorder tick: one sample per rule from the snapshot pair (system
 * metrics) or the automation runs seen so far, one `step` per rule, and — when a state must
 * be stored or a notification was caused — one transaction that writes both. The in-memory
 * states move only after that transaction commits, so a failed write is retried whole next
 * tick and can neither lose a notification nor send one twice. (The exception is a quiet
 * rule — not active, no breach — whose last-seen fields move in place, see quietStep: nothing
 * about it is stored, so nothing needs rolling back.) Quiet ticks write nothing, and with no
 * rules a tick is one read of the rules' version.
 */
import { deriveSystem, type SystemValues } from '../analyze/derive.js';
import type { Clock, Snapshot } from '../types.js';
import { notificationMessage } from './message.js';
import type { AlertEntity, AlertRule } from './rule.js';
import { AutomationValues, type FinishedRun } from './runs.js';
import {
  initialState,
  maxGapFor,
  needsSave,
  quietCondition,
  quietStep,
  resume,
  type QuietCondition,
  step,
  type AlertState,
  type Notification,
  type StepOptions,
  type StepResult,
} from './state.js';
import type { AlertStore, BrokenRule, NewEvent, StateChange } from './store.js';

export interface EvaluatorOptions {
  /** The recorder's sampling interval; gaps are judged against it. */
  intervalMs: number;
  clock?: Clock;
  /** Defaults to maxGapFor(intervalMs). */
  maxGapMs?: number;
  /**
   * Every state is written at least this often (default 60 s), so stored last values and
   * timestamps are never older than this for listings and restarts.
   */
  checkpointMs?: number;
  /**
   * Automation runs that finished in [from, to]; read on each tick only while some rule
   * watches automations. Without it, runs come only through observeRuns().
   */
  runs?: (from: number, to: number) => Iterable<FinishedRun>;
}

/** When a rule on automations appears, runs finished this long ago still count (error rate spans the last 10 runs). */
export const RUN_LOOKBACK_MS = 24 * 3600_000;
/** Runs are re-read with this overlap, since a run is stored when it finishes, not when it ended. */
export const RUN_OVERLAP_MS = 60_000;

export class AlertEngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlertEngineError';
  }
}

interface Entry {
  rule: AlertRule;
  state: AlertState;
  /** The rule's raise condition, for quietStep. */
  cond: QuietCondition;
  /** The system metric watched; null for a rule on automations. */
  systemMetric: string | null;
}

function entry(rule: AlertRule, state: AlertState, like?: Entry): Entry {
  return {
    rule,
    state,
    cond: like?.cond ?? quietCondition(rule),
    systemMetric: rule.entity.kind === 'system' ? rule.metric : null,
  };
}

type Values = Record<string, number | null>;

/** Many automations, one value: the one that most violates the rule. */
function worst(rule: AlertRule, values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const t = rule.spec.threshold_value;
  switch (rule.spec.threshold_operator) {
    case 'gt':
    case 'gte':
      return Math.max(...values);
    case 'lt':
    case 'lte':
      return Math.min(...values);
    case 'eq':
      return values.reduce((a, b) => (Math.abs(b - t) < Math.abs(a - t) ? b : a));
  }
}

interface Loaded {
  entries: Entry[];
  version: number;
  broken: BrokenRule[];
}

interface Advanced {
  entries: Entry[];
  changes: StateChange[];
  events: NewEvent[];
  notifications: Notification[];
}

const NONE: readonly Notification[] = Object.freeze([]);

/**
 * What an advance returns when quietStep moved a state in place: a rule that is not active
 * and did not breach. Nothing about it is stored (but at a checkpoint), so there is nothing
 * to roll back if the tick's transaction fails; its last-seen fields simply stay moved.
 */
const QUIET: StepResult = Object.freeze({ state: initialState(), effects: NONE });

export class AlertEvaluator {
  private entries: Entry[] = [];
  private version = -1;
  private lastCheckpoint = -Infinity;
  private readonly runs = new AutomationValues();
  private runsReadUpTo: number | null = null;
  private watchesSystem = false;
  private watchesAutomations = false;
  private readonly stepOpts: StepOptions;
  private readonly clock: Clock;
  /** Stored rules this version could not load, from the last reload. */
  broken: BrokenRule[] = [];

  constructor(
    private readonly store: AlertStore,
    private readonly opts: EvaluatorOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.stepOpts = { maxGapMs: opts.maxGapMs ?? maxGapFor(opts.intervalMs) };
  }

  /** Rules and their states as the evaluator holds them now. */
  current(): readonly Readonly<Entry>[] {
    return this.entries;
  }

  /** Feeds finished automation runs (duplicates are ignored, so overlapping batches are fine). */
  observeRuns(runs: Iterable<FinishedRun>): void {
    for (const r of runs) this.runs.observe(r);
  }

  /**
   * Call once on start: loads rules and states and sends, once, what fell due while nothing
   * was running (a repeat whose cooldown elapsed). Returns the notifications stored.
   */
  start(now = this.clock()): readonly Notification[] {
    return this.tick(now, (e) => resume(e.rule, e.state, now));
  }

  /**
   * Evaluates every rule against the snapshot `cur` (rates need `prev`; gauges do not).
   * With no rules this is one read of the rules' version.
   */
  evaluate(prev: Snapshot | null, cur: Snapshot, now = this.clock()): readonly Notification[] {
    let system: SystemValues | null = null;
    return this.tick(
      now,
      (e) => this.stepOne(e, cur.ts, this.sample(e, system, cur.ts), now),
      // With no previous snapshot, pairing cur with itself yields the gauges and no rates.
      () => {
        system = this.watchesSystem ? deriveSystem(prev ?? cur, cur) : null;
      },
    );
  }

  /** The same with system values already derived (history replay, tests). */
  evaluateValues(
    ts: number,
    system: SystemValues | null,
    now = this.clock(),
  ): readonly Notification[] {
    return this.tick(now, (e) => this.stepOne(e, ts, this.sample(e, system, ts), now));
  }

  /** QUIET when quietStep moved the state in place, else step's result. */
  private stepOne(e: Entry, ts: number, value: number | null, now: number): StepResult {
    if (quietStep(e.cond, e.state, ts, value)) return QUIET;
    return step(e.rule, e.state, { ts, value }, now, this.stepOpts);
  }

  private cache = new Map<string, number[]>();

  private sample(e: Entry, system: SystemValues | null, ts: number): number | null {
    if (e.systemMetric !== null) return (system as Values | null)?.[e.systemMetric] ?? null;
    const rule = e.rule;
    // A rule without a system metric watches automations.
    const entity = rule.entity as Extract<AlertEntity, { kind: 'automation' }>;
    if (entity.name !== null) return this.runs.value(rule.metric, entity.name, ts);
    let values = this.cache.get(rule.metric);
    if (!values) {
      values = [];
      for (const name of this.runs.names()) {
        const v = this.runs.value(rule.metric, name, ts);
        if (v !== null) values.push(v);
      }
      this.cache.set(rule.metric, values);
    }
    return worst(rule, values);
  }

  /**
   * One evaluation of every rule. The rules are reloaded first when their version moved
   * (one read when it did not). The steps are computed outside any transaction; when they
   * change nothing that must be stored — the usual quiet tick — nothing is written. Otherwise
   * one transaction checks the version again (another process may have changed a rule in
   * between: then the steps are recomputed from what it stored) and writes the changed states
   * with the notifications they caused.
   */
  private tick(
    now: number,
    advance: (e: Entry) => StepResult,
    prepare?: () => void,
  ): readonly Notification[] {
    try {
      this.refresh(this.store.version());
      if (this.entries.length === 0) return NONE;
      this.feedRuns(now);
      prepare?.();
      const checkpoint = now - this.lastCheckpoint >= (this.opts.checkpointMs ?? 60_000);
      let loaded: Loaded = { entries: this.entries, version: this.version, broken: this.broken };
      let r = this.advance(loaded.entries, advance, checkpoint);
      if (r.changes.length > 0 || r.events.length > 0) {
        [loaded, r] = this.store.transaction(() => {
          const version = this.store.version();
          if (version === loaded.version) {
            this.store.save(r.changes, r.events, now);
            return [loaded, r] as const;
          }
          const fresh = this.load(version);
          const again = this.advance(fresh.entries, advance, checkpoint);
          this.store.save(again.changes, again.events, now);
          return [fresh, again] as const;
        });
      }
      // Only a committed tick (or one with nothing to commit) moves the evaluator on.
      if (loaded.version !== this.version) this.adopt(loaded);
      this.entries = r.entries;
      if (checkpoint) this.lastCheckpoint = now;
      return r.notifications;
    } catch (err) {
      throw new AlertEngineError('alert evaluation failed; it will be retried next tick', {
        cause: err,
      });
    } finally {
      this.cache.clear();
    }
  }

  private advance(
    entries: Entry[],
    advance: (e: Entry) => StepResult,
    checkpoint: boolean,
  ): Advanced {
    const changes: StateChange[] = [];
    const events: NewEvent[] = [];
    const notifications: Notification[] = [];
    const next: Entry[] = new Array<Entry>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      const r = advance(e);
      if (r === QUIET) {
        next[i] = e;
        if (checkpoint) changes.push({ ruleId: e.rule.id, state: e.state });
        continue;
      }
      next[i] = r.state === e.state ? e : entry(e.rule, r.state, e);
      if (checkpoint || needsSave(e.state, r.state)) {
        changes.push({ ruleId: e.rule.id, state: r.state });
      }
      for (const n of r.effects) {
        notifications.push(n);
        events.push({
          notification: n,
          message: notificationMessage(e.rule, n),
          channels: e.rule.spec.notification_channels,
        });
      }
    }
    return { entries: next, changes, events, notifications };
  }

  /** Reloads the rules when their version is not the one held. */
  private refresh(version: number): void {
    if (version !== this.version) this.adopt(this.load(version));
  }

  private adopt(loaded: Loaded): void {
    this.entries = loaded.entries;
    this.version = loaded.version;
    this.broken = loaded.broken;
    this.watchesSystem = this.entries.some((e) => e.rule.entity.kind === 'system');
    this.watchesAutomations = this.entries.some((e) => e.rule.entity.kind === 'automation');
  }

  /**
   * Reads the automation runs finished since the last read, only while some rule watches
   * automations; when one appears the read reaches RUN_LOOKBACK_MS back.
   */
  private feedRuns(now: number): void {
    const source = this.opts.runs;
    if (!source) return;
    if (!this.watchesAutomations) {
      this.runsReadUpTo = null;
      return;
    }
    const from =
      this.runsReadUpTo === null ? now - RUN_LOOKBACK_MS : this.runsReadUpTo - RUN_OVERLAP_MS;
    this.observeRuns(source(from, now));
    this.runsReadUpTo = now;
  }

  /**
   * The rules as stored under `version`. Stored states carry every durable change; only the
   * last-seen timestamps and value may be fresher in memory (outside writers copy them
   * unchanged), so those are kept.
   */
  private load(version: number): Loaded {
    const held = new Map(this.entries.map((e) => [e.rule.id, e.state]));
    const { rules, broken } = this.store.listRules();
    const entries = rules.map(({ rule, state }) => {
      const mine = held.get(rule.id);
      if (!mine || (mine.lastTs ?? -Infinity) <= (state.lastTs ?? -Infinity)) {
        return entry(rule, state);
      }
      const { lastTs, lastDataTs, lastValue } = mine;
      return entry(rule, { ...state, lastTs, lastDataTs, lastValue });
    });
    return { entries, version, broken };
  }
}
