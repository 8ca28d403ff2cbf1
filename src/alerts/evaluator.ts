/**
 * Runs every rule once per recorder tick: one sample per rule from the snapshot pair (system
 * metrics) or the automation runs seen so far, one `step` per rule, and one transaction that
 * writes the changed states with the notifications they caused. The in-memory states move
 * only after that transaction commits, so a failed write is retried whole next tick and can
 * neither lose a notification nor send one twice.
 */
import { deriveSystem, type SystemValues } from '../analyze/derive.js';
import type { Clock, Snapshot } from '../types.js';
import { notificationMessage } from './message.js';
import type { AlertRule } from './rule.js';
import { AutomationValues, type FinishedRun } from './runs.js';
import {
  maxGapFor,
  needsSave,
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
   * Every state is written at least this often (default 60 s), so stored last values and
   * timestamps are never older than this for listings and restarts.
   */
  checkpointMs?: number;
}

export class AlertEngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlertEngineError';
  }
}

interface Entry {
  rule: AlertRule;
  state: AlertState;
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

export class AlertEvaluator {
  private entries: Entry[] = [];
  private version = -1;
  private lastCheckpoint = -Infinity;
  private readonly runs = new AutomationValues();
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
  start(now = this.clock()): Notification[] {
    return this.tick(now, (e) => resume(e.rule, e.state, now));
  }

  /** Evaluates every rule against the snapshot `cur` (rates need `prev`; gauges do not). */
  evaluate(prev: Snapshot | null, cur: Snapshot, now = this.clock()): Notification[] {
    // With no previous snapshot, pairing cur with itself yields the gauges and no rates.
    const system = deriveSystem(prev ?? cur, cur);
    return this.evaluateValues(cur.ts, system, now);
  }

  /** The same with system values already derived (history replay, tests). */
  evaluateValues(ts: number, system: SystemValues | null, now = this.clock()): Notification[] {
    const sys = system as Values | null;
    const cache = new Map<string, number[]>();
    return this.tick(now, (e) =>
      step(e.rule, e.state, { ts, value: this.sample(e.rule, sys, ts, cache) }, now, this.stepOpts),
    );
  }

  private sample(
    rule: AlertRule,
    system: Values | null,
    ts: number,
    cache: Map<string, number[]>,
  ): number | null {
    const entity = rule.entity;
    if (entity.kind === 'system') return system?.[rule.metric] ?? null;
    if (entity.name !== null) return this.runs.value(rule.metric, entity.name, ts);
    let values = cache.get(rule.metric);
    if (!values) {
      values = [];
      for (const name of this.runs.names()) {
        const v = this.runs.value(rule.metric, name, ts);
        if (v !== null) values.push(v);
      }
      cache.set(rule.metric, values);
    }
    return worst(rule, values);
  }

  private tick(now: number, advance: (e: Entry) => StepResult): Notification[] {
    try {
      const result = this.store.transaction(() => {
        const { entries, version, broken } = this.sync();
        const checkpoint = now - this.lastCheckpoint >= (this.opts.checkpointMs ?? 60_000);
        const changes: StateChange[] = [];
        const events: NewEvent[] = [];
        const notifications: Notification[] = [];
        const next: Entry[] = new Array<Entry>(entries.length);
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i] as Entry;
          const r = advance(e);
          next[i] = { rule: e.rule, state: r.state };
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
        if (changes.length > 0 || events.length > 0) this.store.save(changes, events, now);
        return { entries: next, notifications, version, broken, checkpoint };
      });
      // Only a committed tick moves the evaluator on.
      this.entries = result.entries;
      this.version = result.version;
      this.broken = result.broken;
      if (result.checkpoint) this.lastCheckpoint = now;
      return result.notifications;
    } catch (err) {
      throw new AlertEngineError('alert evaluation failed; it will be retried next tick', {
        cause: err,
      });
    }
  }

  /**
   * Reloads rules when they were changed (by this or another process) since the last tick.
   * Stored states carry every durable change; only the last-seen timestamps and value may be
   * fresher in memory (outside writers copy them unchanged), so those are kept.
   */
  private sync(): { entries: Entry[]; version: number; broken: BrokenRule[] } {
    const version = this.store.version();
    if (version === this.version) return { entries: this.entries, version, broken: this.broken };
    const held = new Map(this.entries.map((e) => [e.rule.id, e.state]));
    const { rules, broken } = this.store.listRules();
    const entries = rules.map(({ rule, state }) => {
      const mine = held.get(rule.id);
      if (!mine || (mine.lastTs ?? -Infinity) <= (state.lastTs ?? -Infinity)) {
        return { rule, state };
      }
      const { lastTs, lastDataTs, lastValue } = mine;
      return { rule, state: { ...state, lastTs, lastDataTs, lastValue } };
    });
    return { entries, version, broken };
  }
}
