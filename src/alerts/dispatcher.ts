/**
 * Sends due alert deliveries from the outbox, asynchronously and outside the recorder's
 * tick: a slow or dead endpoint delays only its own delivery, never evaluation. One pass
 * runs at a time, so a delivery still in flight is never taken twice.
 *
 * The recorder calls `onTick` every tick; it reads the outbox only when there is something
 * to send: the tick made notifications, a retry fell due (each pass remembers the earliest
 * pending attempt), or RESCAN_MS passed since the last look (deliveries another process
 * wrote into the same store).
 */
import type { Logger } from '../log.js';
import type { Clock } from '../types.js';
import type { DeliveryJob, DeliveryQueue } from './deliveries.js';

/** Delivers one job or throws why it could not. */
export type Sender = (job: DeliveryJob) => Promise<void>;

/** Senders by channel kind: 'log', 'mcp', 'desktop', 'webhook' (the part before ':'). */
export type Senders = Partial<Record<string, Sender>>;

/** How often the outbox is read even when this process queued nothing and no retry is due. */
export const RESCAN_MS = 30_000;

/**
 * A delivery that cannot succeed however often it is retried (no sender for the channel in
 * this process, no notifier on this machine): it fails for good at once.
 */
export class UndeliverableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UndeliverableError';
  }
}

export function channelKind(channel: string): string {
  const colon = channel.indexOf(':');
  return colon < 0 ? channel : channel.slice(0, colon);
}

export class DeliveryDispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  /** Wall time of the last read of the outbox. */
  private scannedAt = -Infinity;
  /** When the earliest pending delivery falls due, as of the last pass. */
  private dueAt = -Infinity;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly senders: Senders,
    private readonly opts: {
      logger: Logger;
      clock?: Clock;
      batch?: number;
      /** Why a channel with no sender here cannot be delivered (the default names the channel). */
      missing?: (channel: string) => string;
    },
  ) {}

  /** Starts a pass unless one is running (then one more follows it). Never throws. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /**
   * The per-tick hook: starts a pass when `queued` (this tick stored notifications), when a
   * retry is due, or when the outbox was last read RESCAN_MS ago (or the clock went back).
   */
  onTick(queued: boolean): void {
    // A running pass reads when the next delivery falls due as it ends.
    if (this.running && !queued) return;
    const now = this.now();
    if (queued || now >= this.dueAt || now - this.scannedAt >= RESCAN_MS || now < this.scannedAt) {
      void this.kick();
    }
  }

  /** Resolves when the current pass (if any) is done. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }

  private async pass(): Promise<void> {
    let jobs: DeliveryJob[];
    try {
      this.scannedAt = this.now();
      // Until this pass has read the outbox again, the next tick looks again.
      this.dueAt = -Infinity;
      jobs = this.queue.pending(this.scannedAt, this.opts.batch ?? 50);
    } catch (err) {
      this.opts.logger.error({ err }, 'reading due alert deliveries failed; retrying next tick');
      return;
    }
    await Promise.all(jobs.map((job) => this.deliver(job)));
    try {
      this.dueAt = this.queue.nextDue() ?? Infinity;
    } catch (err) {
      this.opts.logger.error({ err }, 'reading the next alert delivery failed; retrying next tick');
    }
  }

  private async deliver(job: DeliveryJob): Promise<void> {
    const { event, channel } = job;
    const send = this.senders[channelKind(channel)];
    try {
      if (!send) {
        throw new UndeliverableError(
          this.opts.missing?.(channel) ??
            `channel '${channel}' cannot be delivered by this process`,
        );
      }
      await send(job);
      this.queue.markDelivered(event.id, channel, this.now());
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      try {
        const r = this.queue.markFailed(
          event.id,
          channel,
          error.slice(0, 500),
          this.now(),
          err instanceof UndeliverableError,
        );
        this.opts.logger.warn(
          { err, channel, event: event.dedupe_key, ...r },
          r.status === 'failed'
            ? 'alert delivery failed for good'
            : 'alert delivery failed; will retry',
        );
      } catch (markErr) {
        this.opts.logger.error({ err: markErr, channel }, 'recording a failed delivery failed');
      }
    }
  }
}
