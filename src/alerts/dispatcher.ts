/**
 * Sends due alert deliveries from the outbox, asynchronously and outside the recorder's
 * tick: a slow or dead endpoint delays only its own delivery, never evaluation. One pass
 * runs at a time, so a delivery still in flight is never taken twice.
 */
import type { Logger } from '../log.js';
import type { Clock } from '../types.js';
import type { DeliveryJob, DeliveryQueue } from './deliveries.js';

/** Delivers one job or throws why it could not. */
export type Sender = (job: DeliveryJob) => Promise<void>;

/** Senders by channel kind: 'log', 'mcp', 'desktop', 'webhook' (the part before ':'). */
export type Senders = Partial<Record<string, Sender>>;

export function channelKind(channel: string): string {
  const colon = channel.indexOf(':');
  return colon < 0 ? channel : channel.slice(0, colon);
}

export class DeliveryDispatcher {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly senders: Senders,
    private readonly opts: { logger: Logger; clock?: Clock; batch?: number },
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
      jobs = this.queue.pending(this.now(), this.opts.batch ?? 50);
    } catch (err) {
      this.opts.logger.error({ err }, 'reading due alert deliveries failed; retrying next tick');
      return;
    }
    await Promise.all(jobs.map((job) => this.deliver(job)));
  }

  private async deliver(job: DeliveryJob): Promise<void> {
    const { event, channel } = job;
    const send = this.senders[channelKind(channel)];
    try {
      if (!send) throw new Error(`channel '${channel}' cannot be delivered by this process`);
      await send(job);
      this.queue.markDelivered(event.id, channel, this.now());
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      try {
        const r = this.queue.markFailed(event.id, channel, error.slice(0, 500), this.now());
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
