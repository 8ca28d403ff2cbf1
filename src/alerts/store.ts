/**
 * Alert rules, their state, the notifications they caused and each notification's delivery
 * per channel. A state change and the notifications it caused are written in one
 * transaction, so after any crash either both exist or neither: nothing is lost, and the
 * unique dedupe key stops a replayed notification from being stored twice.
 */
import { StoreError, type Db } from '../store/db.js';
import { DeliveryQueue, type RelayPolicy } from './deliveries.js';
import { normalizeRule, type AlertRule, type AlertRuleSpec, type RuleDefinition } from './rule.js';
import {
  initialState,
  rebase,
  type AlertState,
  type Notification,
  type NotificationKind,
} from './state.js';

export interface RuleWithState {
  rule: AlertRule;
  state: AlertState;
  createdAt: number;
  updatedAt: number;
}

/** A stored rule this version cannot load (e.g. its metric left the catalog); kept, not run. */
export interface BrokenRule {
  id: number;
  name: string;
  error: StoreError;
}

export interface StateChange {
  ruleId: number;
  state: AlertState;
}

export interface NewEvent {
  notification: Notification;
  message: string;
  channels: readonly string[];
}

export interface AlertEvent {
  id: number;
  rule_id: number;
  ts: number;
  kind: NotificationKind;
  severity: string;
  value: number | null;
  message: string;
  dedupe_key: string;
}

const VERSION_KEY = 'alerts_version';

/** Changes to rules and states made through each connection (see AlertStore.changesHere). */
const changesHere = new WeakMap<Db, number>();

interface RuleRow {
  id: number;
  name: string;
  definition: string;
  created_at: number;
  updated_at: number;
  state: string | null;
}

/**
 * The definition with its id, every field spelt out: a spread (`{ ...def, id }`) gives
 * each rule a hidden class of its own in V8, ~0.3 KB a rule an evaluator holds.
 */
function storedRule(def: RuleDefinition, id: number): AlertRule {
  const { spec, metric, entity, tolerance, hysteresis, forMs, cooldownMs, clearMs } = def;
  return { id, spec, metric, entity, tolerance, hysteresis, forMs, cooldownMs, clearMs };
}

function parseRule(row: RuleRow): AlertRule {
  try {
    return storedRule(normalizeRule(JSON.parse(row.definition) as AlertRuleSpec), row.id);
  } catch (err) {
    throw new StoreError(`alert rule '${row.name}' (id ${row.id}) cannot be loaded`, {
      cause: err,
    });
  }
}

function parseState(row: RuleRow): AlertState {
  if (row.state === null) return initialState();
  try {
    return { ...initialState(), ...(JSON.parse(row.state) as Partial<AlertState>) };
  } catch (err) {
    throw new StoreError(`state of alert rule '${row.name}' is unreadable`, { cause: err });
  }
}

export class AlertStore {
  private readonly stmt;
  /** Each notification's delivery per channel, retried with backoff. */
  readonly deliveries: DeliveryQueue;

  /** `relay`: the channels a recorder leaves to relays in other processes (deliveries.ts). */
  constructor(
    readonly db: Db,
    opts: { relay?: RelayPolicy } = {},
  ) {
    this.deliveries = new DeliveryQueue(db, opts.relay ?? null);
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      version: p('SELECT value FROM meta WHERE key = ?').pluck(),
      bump: p(
        `INSERT INTO meta (key, value) VALUES (?, '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
      ),
      rules: p(
        `SELECT r.id, r.name, r.definition, r.created_at, r.updated_at, s.state
         FROM alert_rule r LEFT JOIN alert_state s ON s.rule_id = r.id ORDER BY r.id`,
      ),
      byName: p(
        `SELECT r.id, r.name, r.definition, r.created_at, r.updated_at, s.state
         FROM alert_rule r LEFT JOIN alert_state s ON s.rule_id = r.id WHERE r.name = ?`,
      ),
      insertRule: p(
        'INSERT INTO alert_rule (name, definition, created_at, updated_at) VALUES (?, ?, ?, ?)',
      ),
      updateRule: p('UPDATE alert_rule SET definition = ?, updated_at = ? WHERE id = ?'),
      deleteRule: p('DELETE FROM alert_rule WHERE id = ?'),
      deleteState: p('DELETE FROM alert_state WHERE rule_id = ?'),
      saveState: p(
        `INSERT INTO alert_state (rule_id, state, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      ),
      insertEvent: p(
        `INSERT INTO alert_event (rule_id, ts, kind, severity, value, message, dedupe_key)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
      ),
      events: p('SELECT * FROM alert_event WHERE rule_id = ? ORDER BY id DESC LIMIT ?'),
      allEvents: p('SELECT * FROM alert_event ORDER BY id DESC LIMIT ?'),
      between: p(
        `SELECT e.*, r.name AS rule_name FROM alert_event e LEFT JOIN alert_rule r ON r.id = e.rule_id
         WHERE e.ts >= ? AND e.ts <= ? AND (? IS NULL OR e.rule_id = ?)
         ORDER BY e.ts DESC, e.id DESC LIMIT ?`,
      ),
    };
  }

  /** Runs fn in one IMMEDIATE transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Changes whenever rules or states are changed from outside the evaluator (define,
   * delete, acknowledge), so a running evaluator knows to reload.
   */
  version(): number {
    return Number(this.stmt.version.get(VERSION_KEY) ?? 0);
  }

  /**
   * Counts the changes that move version() made through this connection, by any AlertStore
   * on it, in memory: an evaluator learns of them without reading the store (it reads
   * version() for those made by other processes).
   */
  changesHere(): number {
    return changesHere.get(this.db) ?? 0;
  }

  /** Moves the version (inside the caller's transaction) and counts the change here. */
  private bump(): void {
    this.stmt.bump.run(VERSION_KEY);
    changesHere.set(this.db, this.changesHere() + 1);
  }

  /** Creates the rule, or updates the one with the same name (keeping its id and state). */
  upsertRule(def: RuleDefinition, now: number): { rule: AlertRule; created: boolean } {
    return this.transaction(() => {
      const json = JSON.stringify(def.spec);
      const row = this.stmt.byName.get(def.spec.alert_name) as RuleRow | undefined;
      this.bump();
      if (!row) {
        const id = Number(
          this.stmt.insertRule.run(def.spec.alert_name, json, now, now).lastInsertRowid,
        );
        this.stmt.saveState.run(id, JSON.stringify(initialState()), now);
        return { rule: storedRule(def, id), created: true };
      }
      this.stmt.updateRule.run(json, now, row.id);
      let prev: RuleDefinition | null = null;
      try {
        prev = parseRule(row);
      } catch {
        // a definition this version cannot read is simply replaced; its state starts over
      }
      const state = prev ? rebase(prev, def, parseState(row)) : initialState();
      this.stmt.saveState.run(row.id, JSON.stringify(state), now);
      return { rule: storedRule(def, row.id), created: false };
    });
  }

  /** Removes a rule and its state; its events and their deliveries stay (history, no loss). */
  deleteRule(name: string): boolean {
    return this.transaction(() => {
      const row = this.stmt.byName.get(name) as RuleRow | undefined;
      if (!row) return false;
      this.stmt.deleteState.run(row.id);
      this.stmt.deleteRule.run(row.id);
      this.bump();
      return true;
    });
  }

  getRule(name: string): RuleWithState | null {
    const row = this.stmt.byName.get(name) as RuleRow | undefined;
    return row ? this.toRuleWithState(row) : null;
  }

  listRules(): { rules: RuleWithState[]; broken: BrokenRule[] } {
    const rules: RuleWithState[] = [];
    const broken: BrokenRule[] = [];
    for (const row of this.stmt.rules.all() as RuleRow[]) {
      try {
        rules.push(this.toRuleWithState(row));
      } catch (err) {
        broken.push({ id: row.id, name: row.name, error: err as StoreError });
      }
    }
    return { rules, broken };
  }

  private toRuleWithState(row: RuleRow): RuleWithState {
    return {
      rule: parseRule(row),
      state: parseState(row),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Applies a pure state change (e.g. acknowledge) to a named rule; null when it is unknown. */
  updateState(
    name: string,
    now: number,
    change: (state: AlertState) => AlertState,
  ): { before: AlertState; after: AlertState } | null {
    return this.transaction(() => {
      const row = this.stmt.byName.get(name) as RuleRow | undefined;
      if (!row) return null;
      const before = parseState(row);
      const after = change(before);
      if (after !== before) {
        this.stmt.saveState.run(row.id, JSON.stringify(after), now);
        this.bump();
      }
      return { before, after };
    });
  }

  /**
   * Writes states and the notifications they caused together. Each new event gets a pending
   * delivery per channel; an event whose dedupe key is already stored is skipped whole.
   * Returns the events actually inserted.
   */
  save(states: readonly StateChange[], events: readonly NewEvent[], now: number): number {
    return this.transaction(() => {
      for (const c of states) this.stmt.saveState.run(c.ruleId, JSON.stringify(c.state), now);
      let inserted = 0;
      for (const e of events) {
        const n = e.notification;
        const info = this.stmt.insertEvent.run(
          n.ruleId,
          n.at,
          n.kind,
          n.severity,
          n.value,
          e.message,
          n.dedupeKey,
        );
        if (info.changes === 0) continue;
        inserted++;
        this.deliveries.enqueue(Number(info.lastInsertRowid), e.channels, n.at, now);
      }
      return inserted;
    });
  }

  /** Newest first; of one rule, or of all rules (deleted ones included) when ruleId is null. */
  events(ruleId: number | null, limit = 100): AlertEvent[] {
    return (
      ruleId === null ? this.stmt.allEvents.all(limit) : this.stmt.events.all(ruleId, limit)
    ) as AlertEvent[];
  }

  /**
   * Events made in [from, to], newest first, of one rule or of all; rule_name is null for
   * events of rules deleted since.
   */
  eventsBetween(
    from: number,
    to: number,
    ruleId: number | null,
    limit = 100,
  ): (AlertEvent & { rule_name: string | null })[] {
    return this.stmt.between.all(from, to, ruleId, ruleId, limit) as (AlertEvent & {
      rule_name: string | null;
    })[];
  }
}
