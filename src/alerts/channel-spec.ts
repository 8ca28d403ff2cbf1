/**
 * Syntax of notification channels: log, mcp, desktop, webhook:URL, command:NAME. Whether a
 * channel can actually be reached is the delivery layer's concern.
 */
import { InputError } from '../errors.js';

export const MAX_CHANNELS = 10;

const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Checks one channel's syntax; delivery (a later layer) decides whether it can reach it. */
export function parseChannel(channel: string): string {
  if (channel === 'log' || channel === 'mcp' || channel === 'desktop') return channel;
  if (channel.startsWith('webhook:')) {
    const raw = channel.slice('webhook:'.length);
    let url: URL;
    try {
      url = new URL(raw);
    } catch (err) {
      throw new InputError('notification_channels', `'${raw}' is not a URL`, { cause: err });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InputError(
        'notification_channels',
        `webhook URLs must be http or https (got ${url.protocol})`,
      );
    }
    return `webhook:${url.href}`;
  }
  if (channel.startsWith('command:') && COMMAND_NAME.test(channel.slice('command:'.length))) {
    return channel;
  }
  throw new InputError(
    'notification_channels',
    `unknown channel ${JSON.stringify(channel)}; allowed: log, mcp, desktop, webhook:URL, command:NAME (NAME of letters, digits, . _ -)`,
  );
}

export function parseChannels(value: unknown): string[] {
  if (value === undefined) return ['log'];
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CHANNELS) {
    throw new InputError(
      'notification_channels',
      `must be a list of 1-${MAX_CHANNELS} channels: log, mcp, desktop, webhook:URL, command:NAME`,
    );
  }
  const out: string[] = [];
  for (const c of value) {
    if (typeof c !== 'string')
      throw new InputError('notification_channels', 'channels are strings');
    const parsed = parseChannel(c);
    if (!out.includes(parsed)) out.push(parsed);
  }
  // An exact-size copy: an array grown by push keeps room for 17 (a rule holds its list).
  return out.slice();
}
