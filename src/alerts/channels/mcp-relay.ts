/**
 * The 'mcp' channel in a `kmpm mcp` that does not record. The recorder (`kmpm daemon`, or a
 * recording `kmpm mcp`) stores each notification with a delivery per channel; a relay
 * watches the store for new notifications with an `mcp` delivery and sends each to its own
 * client, as the recording server sends to its client (notifyClient).
 *
 * Watching costs one read of the newest event id per poll while nothing new is stored. The
 * cursor starts at the newest event when the relay is made, so a client hears of
 * notifications stored from then on, never of the history; it moves past an event before
 * the event is sent, so no notification reaches a client twice.
 *
 * A delivery the recorder left to relays (deliveries.ts) is marked sent by each relay that
 * delivered it, counting the clients reached; one that no relay delivered within
 * RELAY_WAIT_MS the recorder fails.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from '../../log.js';
import type { Clock } from '../../types.js';
import type { DeliveryJob, DeliveryQueue, RelayPolicy } from '../deliveries.js';
import { notifyClient, whenInitialized } from './mcp-sender.js';

/** How often a relay looks for new notifications: a client hears of one within ~2 s. */
export const RELAY_POLL_MS = 1000;

/**
 * How long a recorder without an MCP client leaves an `mcp` delivery to relays before it
 * fails it: the first step of the retry schedule, many polls longer than a relay needs.
 */
export const RELAY_WAIT_MS = 30_000;

/** What a recorder without an MCP client of its own (`kmpm daemon`) leaves to relays. */
export const MCP_RELAY: RelayPolicy = { channels: ['mcp'], waitMs: RELAY_WAIT_MS };

export interface McpRelayOptions {
  logger: Logger;
  clock?: Clock;
  pollMs?: number;
  /** Notifications read per query; more follow at once. */
  batch?: number;
}

export class McpRelay {
  /** Id of the newest event looked at; null until the store could be read. */
  private cursor: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  private failing = false;
  /** The last read stopped at a full batch: read again without waiting. */
  private more = false;
  /** Events delivered to the client whose delivery row could not be marked yet. */
  private readonly unmarked: number[] = [];

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly send: (job: DeliveryJob) => Promise<void>,
    private readonly opts: McpRelayOptions,
  ) {
    this.readCursor();
  }

  /** Polls until stop(). */
  start(): void {
    if (this.stopped || this.timer) return;
    this.schedule(0);
  }

  /** Stops polling; resolves when a poll in flight has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /**
   * One look at the store: sends the notifications stored since the last look and returns
   * how many reached the client. Never throws: a failed read is logged and retried.
   */
  async poll(): Promise<number> {
    this.flushMarks();
    if (this.cursor === null && !this.readCursor()) return 0;
    let jobs: DeliveryJob[];
    try {
      const newest = this.queue.latestEventId();
      const after = this.cursor ?? newest;
      jobs = newest > after ? this.queue.channelSince('mcp', after, newest, this.batch()) : [];
      this.more = jobs.length === this.batch();
      // A full batch ends at its last event; the rest are read at once.
      this.cursor = this.more ? (jobs[jobs.length - 1]?.event.id ?? newest) : newest;
      this.recovered();
    } catch (err) {
      this.failed(err);
      return 0;
    }
    let sent = 0;
    for (const job of jobs) {
      if (this.stopped) break;
      try {
        await this.send(job);
      } catch (err) {
        this.opts.logger.warn(
          { err, event: job.event.dedupe_key },
          'relaying an alert notification to the MCP client failed',
        );
        continue;
      }
      sent++;
      this.opts.logger.debug({ event: job.event.dedupe_key }, 'relayed alert notification');
      this.mark(job.event.id, true);
    }
    return sent;
  }

  private batch(): number {
    return this.opts.batch ?? 100;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.poll().finally(() => {
        this.running = null;
        if (!this.stopped) this.schedule(this.more ? 0 : (this.opts.pollMs ?? RELAY_POLL_MS));
      });
    }, ms);
    this.timer.unref();
  }

  private readCursor(): boolean {
    try {
      this.cursor = this.queue.latestEventId();
      this.recovered();
      return true;
    } catch (err) {
      this.failed(err);
      return false;
    }
  }

  /** Marks the delivery relayed; one that cannot be marked is retried at the next poll. */
  private mark(eventId: number, first: boolean): void {
    try {
      this.queue.markRelayed(eventId, 'mcp', (this.opts.clock ?? Date.now)());
    } catch (err) {
      if (first) {
        this.opts.logger.error(
          { err, eventId },
          'recording a relayed alert delivery failed; retrying at every poll',
        );
      }
      this.unmarked.push(eventId);
    }
  }

  private flushMarks(): void {
    for (const id of this.unmarked.splice(0)) this.mark(id, false);
  }

  private failed(err: unknown): void {
    // Logged once per failing streak; the next poll reads again.
    if (!this.failing) {
      this.opts.logger.error({ err }, 'reading new alert notifications failed; retrying');
    }
    this.failing = true;
  }

  private recovered(): void {
    if (this.failing) this.opts.logger.info('reading alert notifications recovered');
    this.failing = false;
  }
}

/**
 * A relay for the client of `server`: its cursor starts now; it polls once the client has
 * initialized and stops when the connection closes.
 */
export function relayToClient(
  server: McpServer,
  queue: DeliveryQueue,
  opts: McpRelayOptions,
): McpRelay {
  const relay = new McpRelay(queue, (job) => notifyClient(server, job), opts);
  void whenInitialized(server).then(() => relay.start());
  const before = server.server.onclose;
  server.server.onclose = () => {
    before?.();
    void relay.stop();
  };
  return relay;
}
