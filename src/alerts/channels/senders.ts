/** The real senders of alert notifications. Each takes a delivery job and sends it once. */
import { execFile } from 'node:child_process';
import type { Logger } from '../../log.js';
import type { AlertEvent } from '../store.js';
import { UndeliverableError, type Sender } from '../dispatcher.js';
import { desktopNotifier } from './availability.js';

/** What a webhook receives and the mcp channel sends: the stored event, as is. */
export function payload(event: AlertEvent, channel: string) {
  return {
    source: 'km-performance-monitor',
    channel,
    id: event.id,
    dedupe_key: event.dedupe_key,
    rule_id: event.rule_id,
    kind: event.kind,
    severity: event.severity,
    value: event.value,
    at: new Date(event.ts).toISOString(),
    message: event.message,
  };
}

const LOG_LEVEL = { low: 'info', medium: 'warn', high: 'error', critical: 'fatal' } as const;

export function logSender(logger: Logger): Sender {
  return ({ event, channel }) => {
    const level = LOG_LEVEL[event.severity as keyof typeof LOG_LEVEL] ?? 'warn';
    logger[level]({ alert: payload(event, channel) }, event.message);
    return Promise.resolve();
  };
}

/**
 * POSTs the event as JSON; a non-2xx answer or no answer within timeoutMs is a failure.
 * A 4xx answer other than 408 (timeout) and 429 (too many requests) says the request
 * itself is wrong (bad URL, refused credentials), so it fails for good, as in Alertmanager;
 * 5xx, 408, 429 and network errors are retried.
 */
export function webhookSender(timeoutMs = 5000): Sender {
  return async ({ event, channel }) => {
    const url = channel.slice('webhook:'.length);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': event.dedupe_key },
      body: JSON.stringify(payload(event, channel)),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    await res.body?.cancel();
    if (res.ok) return;
    const message = `webhook answered HTTP ${res.status}`;
    const s = res.status;
    if (s >= 400 && s < 500 && s !== 408 && s !== 429) throw new UndeliverableError(message);
    throw new Error(message);
  };
}

/**
 * Shows a desktop notification with notify-send (Linux) or osascript (macOS). A platform
 * without a notifier, or a notifier that is not installed, fails the delivery for good.
 */
export function desktopSender(timeoutMs = 5000, platform = process.platform): Sender {
  return ({ event }) =>
    new Promise((resolve, reject) => {
      const notifier = desktopNotifier(platform);
      if (notifier === null) {
        reject(new UndeliverableError(`desktop notifications are not supported on ${platform}`));
        return;
      }
      const title = `kmpm alert (${event.severity})`;
      const args =
        notifier === 'osascript'
          ? [
              '-e',
              'on run argv',
              '-e',
              'display notification (item 2 of argv) with title (item 1 of argv)',
              '-e',
              'end run',
              title,
              event.message,
            ]
          : [title, event.message];
      execFile(notifier, args, { timeout: timeoutMs }, (err) => {
        if (!err) resolve();
        else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new UndeliverableError(`${notifier} is not installed`, { cause: err }));
        } else reject(err);
      });
    });
}
