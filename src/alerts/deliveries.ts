/**
 * The outbox of alert notifications: one row per (event, channel), written in the same
 * transaction as the event. A sender takes due rows, sends, and marks them; a crash between
 * sending and marking re-sends with the same dedupe key, so delivery is at-least-once and
 * receivers can make it exactly-once.
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

export class DeliveryQueue {
  private readonly stmt;
  private readonly transaction: <T>(fn: () => T) => T;

  constructor(db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      insert: p(
        `INSERT OR IGNORE INTO alert_delivery
         (event_id, channel, status, attempts, next_attempt_at, last_error, updated_at)
         VALUES (?, ?, 'pending', 0, ?, NULL, ?)`,
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
        'SELECT channel, status, attempts, last_error FROM alert_delivery WHERE event_id = ? ORDER BY channel',
      ),
    };
    this.transaction = (fn) => db.transaction(fn).immediate();
  }

  /** Called inside the transaction that stores the event. */
  enqueue(eventId: number, channels: readonly string[], dueAt: number, now: number): void {
    for (const ch of channels) this.stmt.insert.run(eventId, ch, dueAt, now);
  }

  /** Deliveries due at `now`, oldest first. */
  pending(now: number, limit = 100): DeliveryJob[] {
    const rows = this.stmt.due.all(now, limit) as (AlertEvent & {
      channel: string;
      attempts: number;
    })[];
    return rows.map(({ channel, attempts, ...event }) => ({ event, channel, attempts }));
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
  of(eventId: number): {
    channel: string;
    status: DeliveryStatus;
    attempts: number;
    last_error: string | null;
  }[] {
    return this.stmt.status.all(eventId) as ReturnType<DeliveryQueue['of']>;
  }

  private attemptsOf(eventId: number, channel: string): number {
    const attempts = this.stmt.attempts.get(eventId, channel) as number | undefined;
    if (attempts === undefined) {
      throw new StoreError(`no delivery of alert event ${eventId} to channel '${channel}'`);
    }
    return attempts;
  }
}
