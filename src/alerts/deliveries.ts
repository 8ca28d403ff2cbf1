/**
 * The outbox of alert notifications: one row per (event, channel), written in the same
 * transaction as the event. A sender takes due rows, sends, and marks them; a crash between
 * sending and marking re-sends with the same dedupe key, so delivery is at-least-once and
 * receivers can make it exactly-once.
 *
 * A channel the recorder cannot deliver itself but other processes can (`mcp` under
 * `kmpm daemon`: the clients are those of the `kmpm mcp` servers reading its data) is left
 * to their relays: its row is due only after a wait, and a relay that delivered it marks it
 * sent. If none did by then, the recorder takes it and fails it.
 */
import { StoreError, type Db } from '../store/db.js';
import type { AlertEvent } from './store.js';

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

export interface DeliveryJob {
  event: AlertEvent;
  channel: string;
  /** Attempts made before this one. */
  attempts: number;
}

/** Retries back off 30 s, 1 min, 2 min, … capped at 1 h; after 12 attempts (~5.5 h) give up. */
export const MAX_ATTEMPTS = 12;

export function backoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

/** Channels this recorder leaves to relays in other processes, and how long it waits for them. */
export interface RelayPolicy {
  channels: readonly string[];
  waitMs: number;
}

export interface DeliveryRow {
  channel: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  /** Clients relays delivered it to; null where the recorder delivers the channel itself. */
  relayed_to: number | null;
}

/** Rows of `SELECT d.channel, d.attempts, e.*` as jobs. */
function toJobs(rows: unknown[]): DeliveryJob[] {
  return (rows as (AlertEvent & { channel: string; attempts: number })[]).map(
    ({ channel, attempts, ...event }) => ({ event, channel, attempts }),
  );
}

export class DeliveryQueue {
  private readonly stmt;
  private readonly transaction: <T>(fn: () => T) => T;

  constructor(
    db: Db,
    private readonly relay: RelayPolicy | null = null,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      insert: p(
        `INSERT OR IGNORE INTO alert_delivery
         (event_id, channel, status, attempts, next_attempt_at, last_error, updated_at, relayed_to)
         VALUES (?, ?, 'pending', 0, ?, NULL, ?, ?)`,
      ),
      due: p(
        `SELECT d.channel, d.attempts, e.* FROM alert_delivery d
         JOIN alert_event e ON e.id = d.event_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= ?
         ORDER BY d.next_attempt_at, e.id LIMIT ?`,
      ),
      attempts: p('SELECT attempts FROM alert_delivery WHERE event_id = ? AND channel = ?').pluck(),
      nextDue: p(
        "SELECT min(next_attempt_at) FROM alert_delivery WHERE status = 'pending'",
      ).pluck(),
      set: p(
        `UPDATE alert_delivery SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?,
         updated_at = ? WHERE event_id = ? AND channel = ?`,
      ),
      status: p(
        `SELECT channel, status, attempts, last_error, relayed_to FROM alert_delivery
         WHERE event_id = ? ORDER BY channel`,
      ),
      // max(id) of an INTEGER PRIMARY KEY reads one end of the table's b-tree
      latest: p('SELECT max(id) FROM alert_event').pluck(),
      channelSince: p(
        `SELECT d.channel, d.attempts, e.* FROM alert_event e
         JOIN alert_delivery d ON d.event_id = e.id AND d.channel = ?
         WHERE e.id > ? AND e.id <= ? ORDER BY e.id LIMIT ?`,
      ),
      relayed: p(
        `UPDATE alert_delivery SET status = 'sent', relayed_to = relayed_to + 1, last_error = NULL,
         updated_at = ? WHERE event_id = ? AND channel = ? AND relayed_to IS NOT NULL`,
      ),
    };
    this.transaction = (fn) => db.transaction(fn).immediate();
  }

  /** Called inside the transaction that stores the event. */
  enqueue(eventId: number, channels: readonly string[], dueAt: number, now: number): void {
    for (const ch of channels) {
      if (this.relay?.channels.includes(ch)) {
        this.stmt.insert.run(eventId, ch, Math.max(dueAt, now) + this.relay.waitMs, now, 0);
      } else {
        this.stmt.insert.run(eventId, ch, dueAt, now, null);
      }
    }
  }

  /** Deliveries due at `now`, oldest first. */
  pending(now: number, limit = 100): DeliveryJob[] {
    return toJobs(this.stmt.due.all(now, limit));
  }

  /** When the earliest pending delivery falls due; null when none is pending. */
  nextDue(): number | null {
    return (this.stmt.nextDue.get() as number | null | undefined) ?? null;
  }

  markDelivered(eventId: number, channel: string, now: number): void {
    this.transaction(() => {
      const attempts = this.attemptsOf(eventId, channel) + 1;
      this.stmt.set.run('sent', attempts, now, null, now, eventId, channel);
    });
  }

  /**
   * Records a failed attempt: retried after a backoff, or failed for good after MAX_ATTEMPTS
   * or at once when retrying cannot help (`permanent`).
   */
  markFailed(
    eventId: number,
    channel: string,
    error: string,
    now: number,
    permanent = false,
  ): { status: DeliveryStatus; nextAttemptAt: number } {
    return this.transaction(() => {
      const attempts = this.attemptsOf(eventId, channel) + 1;
      const status: DeliveryStatus = permanent || attempts >= MAX_ATTEMPTS ? 'failed' : 'pending';
      const nextAttemptAt = status === 'failed' ? now : now + backoffMs(attempts);
      this.stmt.set.run(status, attempts, nextAttemptAt, error, now, eventId, channel);
      return { status, nextAttemptAt };
    });
  }

  /** Every channel's delivery of one event. */
  of(eventId: number): DeliveryRow[] {
    return this.stmt.status.all(eventId) as DeliveryRow[];
  }

  /** The id of the newest stored event; 0 when there is none. */
  latestEventId(): number {
    return (this.stmt.latest.get() as number | null | undefined) ?? 0;
  }

  /** The deliveries to `channel` of events with ids in (after, upTo], oldest first. */
  channelSince(channel: string, after: number, upTo: number, limit = 100): DeliveryJob[] {
    return toJobs(this.stmt.channelSince.all(channel, after, upTo, limit));
  }

  /**
   * A relay delivered the event to its client: a delivery left to relays is sent (whatever
   * it was before: a client did get it), counting the clients reached. A delivery the
   * recorder makes itself is left alone; returns whether the row was one left to relays.
   */
  markRelayed(eventId: number, channel: string, now: number): boolean {
    return this.stmt.relayed.run(now, eventId, channel).changes > 0;
  }

  private attemptsOf(eventId: number, channel: string): number {
    const attempts = this.stmt.attempts.get(eventId, channel) as number | undefined;
    if (attempts === undefined) {
      throw new StoreError(`no delivery of alert event ${eventId} to channel '${channel}'`);
    }
    return attempts;
  }
}
