/**
 * Runs the rules once per recorder tick. Quiet system rules (not active, nothing breached:
 * the usual case) are not visited at all: per metric, a QuietIndex finds by binary search
 * on the tick's value the only ones it breaches, and keeps their last-seen fields once.
 * Those, the active rules and the rules on automations are stepped one by one, with one
 * sample each from the snapshot pair (system metrics) or the automation runs seen so far.
 * When a state must be stored or a notification was caused, one transaction writes both.
 * The rules move only after that transaction commits, so a failed write is retried whole
 * next tick and can neither lose a notification nor send one twice. (A rule stepped one by
 * one that stays quiet moves its last-seen fields in place, see quietStep: nothing about it
 * is stored, so nothing needs rolling back.) Quiet ticks write nothing, and with no rules a
 * tick does nothing at all but, every rulesPollMs, read the rules' version.
 *
 * Rule changes made through this process's connection are known at once, without a read
 * (AlertStore.changesHere); those made by another process (the CLI, a second MCP server)
 * are seen by that read, at most rulesPollMs late. Nothing can act on the rules it has not
 * seen yet: every write checks the version in its transaction first (see tick).
 *
 * Quiet system rules are not checkpointed either: their stored states differ from memory
 * only in the last-seen fields, which decide nothing on restart (see needsSave), and
 * listings read a fresher last value from the stored samples. Active rules and rules on
 * automations are written at least every checkpointMs.
 */
import { deriveSystem, type SystemValues } from '../analyze/derive.js';
import type { Clock, Snapshot } from '../types.js';
import { notificationMessage } from './message.js';
import { quietState, type Tracks } from './quiet-index.js';
import type { AlertEntity, AlertRule } from './rule.js';
import { RuleSet, type Entry } from './rule-set.js';
import { AutomationValues, type FinishedRun } from './runs.js';
import {
  initialState,
  maxGapFor,
  needsSave,
  quietStep,
  resume,
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
   * Active rules and rules on automations are written at least this often (default 60 s),
   * so their stored last values and timestamps are never older than this for listings and
   * restarts. Quiet system rules are not (see above).
   */
  checkpointMs?: number;
  /**
   * How often the rules' version is read to learn of changes made by other processes
   * (default RULES_POLL_MS); changes made through this connection are seen at once.
   */
  rulesPollMs?: number;
  /**
   * Automation runs that finished in [from, to]; read on each tick only while some rule
   * watches automations. Without it, runs come only through observeRuns().
   */
  runs?: (from: number, to: number) => Iterable<FinishedRun>;
}

/** Rule changes made by other processes take effect within this long. */
export const RULES_POLL_MS = 5_000;

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

/** A tick's samples: their time and the system values (null when none were derived). */
interface TickInput {
  ts: number;
  system: SystemValues | null;
}

/** A metric's value of the tick, for its track. */
interface Feed {
  metric: string;
  value: number | null;
}

interface Advanced {
  /** The rules stepped one by one, in entries order, and the states they step to. */
  stepped: readonly Entry[];
  states: AlertState[];
  /** The metrics whose tracks take the tick's sample (all but those it is out of order for). */
  feeds: Feed[];
  changes: StateChange[];
  events: NewEvent[];
  notifications: Notification[];
}

const NONE: readonly Notification[] = Object.freeze([]);

/**
 * What stepOne returns when quietStep moved a state in place: a rule that is not active
 * and did not breach. Nothing about it is stored (unless a checkpoint writes it), so there
 * is nothing to roll back if the tick's transaction fails; its last-seen fields simply stay
 * moved.
 */
const QUIET: StepResult = Object.freeze({ state: initialState(), effects: NONE });

export class AlertEvaluator {
  /** LastSeen per system metric; kept across reloads, so reloaded quiet rules join at once. */
  private readonly tracks: Tracks = new Map();
  private rules: RuleSet = new RuleSet([], -1, [], this.tracks);
  private lastCheckpoint = -Infinity;
  private readonly runs = new AutomationValues();
  private runsReadUpTo: number | null = null;
  private readonly stepOpts: StepOptions;
  private readonly clock: Clock;
  /** When the rules' version was last read, and changesHere() as of then. */
  private polledAt = -Infinity;
  private changesSeen = -1;
  /** Rules stepped one by one on the last committed tick; quiet system rules were not. */
  steppedLastTick = 0;

  constructor(
    private readonly store: AlertStore,
    private readonly opts: EvaluatorOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.stepOpts = { maxGapMs: opts.maxGapMs ?? maxGapFor(opts.intervalMs) };
  }

  /** Stored rules this version could not load, from the last reload. */
  get broken(): readonly BrokenRule[] {
    return this.rules.broken;
  }

  /** Rules and their states as the evaluator holds them now (last-seen fields current). */
  current(): readonly Readonly<Entry>[] {
    return this.rules.materialised();
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
    return this.tick(now, () => null);
  }

  /**
   * Evaluates every rule against the snapshot `cur` (rates need `prev`; gauges do not).
   * With no rules this does nothing but poll the rules' version (see the header).
   */
  evaluate(prev: Snapshot | null, cur: Snapshot, now = this.clock()): readonly Notification[] {
    return this.tick(now, () => {
      const set = this.rules;
      // With no previous snapshot, pairing cur with itself yields the gauges and no rates.
      const system = set.watchesSystem ? deriveSystem(prev ?? cur, cur, set.watchesDevices) : null;
      return { ts: cur.ts, system };
    });
  }

  /** The same with system values already derived (history replay, tests). */
  evaluateValues(
    ts: number,
    system: SystemValues | null,
    now = this.clock(),
  ): readonly Notification[] {
    return this.tick(now, () => ({ ts, system }));
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
   * One evaluation (`input` null: the resumption on start). The rules are reloaded first
   * when they changed (see refresh). The steps are computed outside any
   * transaction; when they change nothing that must be stored — the usual quiet tick —
   * nothing is written. Otherwise one transaction checks the version again (another process
   * may have changed a rule in between: then the steps are recomputed from what it stored)
   * and writes the changed states with the notifications they caused.
   */
  private tick(now: number, input: () => TickInput | null): readonly Notification[] {
    try {
      this.refresh(now);
      if (this.rules.entries.length === 0) return NONE;
      this.feedRuns(now);
      const sample = input();
      const checkpoint = now - this.lastCheckpoint >= (this.opts.checkpointMs ?? 60_000);
      let set = this.rules;
      let r = this.advance(set, sample, now, checkpoint);
      if (r.changes.length > 0 || r.events.length > 0) {
        [set, r] = this.store.transaction(() => {
          const version = this.store.version();
          if (version === set.version) {
            this.store.save(r.changes, r.events, now);
            return [set, r] as const;
          }
          const fresh = this.load(version);
          const again = this.advance(fresh, sample, now, checkpoint);
          this.store.save(again.changes, again.events, now);
          return [fresh, again] as const;
        });
      }
      // Only a committed tick (or one with nothing to commit) moves the evaluator on.
      this.commit(set, r, sample);
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

  /**
   * The rules a tick steps one by one: those outside the index and, of each metric, the
   * members its value breaches — or all its members when its samples went back in time, so
   * that each judges the sample against its own last timestamp. Members are materialised
   * (as of the previous tick) before they are stepped.
   */
  private plan(set: RuleSet, sample: TickInput): { stepped: readonly Entry[]; feeds: Feed[] } {
    const feeds: Feed[] = [];
    const extra: Entry[] = [];
    for (const metric of set.metrics) {
      const raw = (sample.system as Values | null)?.[metric] ?? null;
      const value = raw !== null && Number.isFinite(raw) ? raw : null;
      const last = set.index.track(metric).lastTs;
      if (last !== null && sample.ts < last) {
        for (const m of set.index.members(metric)) extra.push(m);
        continue;
      }
      feeds.push({ metric, value });
      if (value !== null) set.index.breached(metric, value, extra);
    }
    const loose = set.looseEntries();
    if (extra.length === 0) return { stepped: loose, feeds };
    for (const m of extra) set.index.materialise(m);
    return { stepped: [...loose, ...extra].sort((a, b) => a.pos - b.pos), feeds };
  }

  private advance(
    set: RuleSet,
    sample: TickInput | null,
    now: number,
    checkpoint: boolean,
  ): Advanced {
    // On start only the rules outside the index can have something due: members are quiet.
    const { stepped, feeds } =
      sample === null ? { stepped: set.looseEntries(), feeds: [] } : this.plan(set, sample);
    const states = new Array<AlertState>(stepped.length);
    const changes: StateChange[] = [];
    const events: NewEvent[] = [];
    const notifications: Notification[] = [];
    for (let i = 0; i < stepped.length; i++) {
      const e = stepped[i] as Entry;
      const r =
        sample === null
          ? resume(e.rule, e.state, now)
          : this.stepOne(e, sample.ts, this.sample(e, sample.system, sample.ts), now);
      // A quiet system rule is written only when it must be (see the header).
      const due = checkpoint && (e.systemMetric === null || !quietState(e.state));
      if (r === QUIET) {
        states[i] = e.state;
        if (due) changes.push({ ruleId: e.rule.id, state: e.state });
        continue;
      }
      states[i] = r.state;
      if (due || needsSave(e.state, r.state)) changes.push({ ruleId: e.rule.id, state: r.state });
      for (const n of r.effects) {
        notifications.push(n);
        events.push({
          notification: n,
          message: notificationMessage(e.rule, n),
          channels: e.rule.spec.notification_channels,
        });
      }
    }
    return { stepped, states, feeds, changes, events, notifications };
  }

  /** Moves the rules on by a tick whose writes (if any) committed. */
  private commit(set: RuleSet, r: Advanced, sample: TickInput | null): void {
    this.rules = set;
    if (sample !== null) {
      for (const f of r.feeds) set.index.track(f.metric).feed(sample.ts, f.value);
    }
    for (let i = 0; i < r.stepped.length; i++) {
      const e = r.stepped[i] as Entry;
      e.state = r.states[i] as AlertState;
      set.settle(e);
    }
    this.steppedLastTick = r.stepped.length;
  }

  /**
   * Reloads the rules when their version is not the one held, reading it when this
   * connection changed them or rulesPollMs passed since the last read (or the clock went
   * back).
   */
  private refresh(now: number): void {
    const here = this.store.changesHere();
    const pollMs = this.opts.rulesPollMs ?? RULES_POLL_MS;
    if (here === this.changesSeen && now >= this.polledAt && now - this.polledAt < pollMs) return;
    this.changesSeen = here;
    this.polledAt = now;
    const version = this.store.version();
    if (version !== this.rules.version) this.rules = this.load(version);
  }

  /**
   * Reads the automation runs finished since the last read, only while some rule watches
   * automations; when one appears the read reaches RUN_LOOKBACK_MS back.
   */
  private feedRuns(now: number): void {
    const source = this.opts.runs;
    if (!source) return;
    if (!this.rules.watchesAutomations) {
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
   * unchanged, and quiet system rules are not checkpointed), so those are kept — also at an
   * equal timestamp, since a sample repeating the last timestamp moves the value alone.
   */
  private load(version: number): RuleSet {
    const held = new Map(this.rules.materialised().map((e) => [e.rule.id, e.state]));
    const { rules, broken } = this.store.listRules();
    const merged = rules.map(({ rule, state }) => {
      const mine = held.get(rule.id);
      if (!mine || (mine.lastTs ?? -Infinity) < (state.lastTs ?? -Infinity)) {
        return { rule, state };
      }
      const { lastTs, lastDataTs, lastValue } = mine;
      return { rule, state: { ...state, lastTs, lastDataTs, lastValue } };
    });
    return new RuleSet(RuleSet.entries(merged), version, broken, this.tracks);
  }
}
