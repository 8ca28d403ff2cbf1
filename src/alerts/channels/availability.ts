/**
 * Whether a syntactically valid channel can be reached on this machine. Unreachable desktop
 * notifications are reported, not refused (the rule still logs and keeps its history);
 * command channels are refused because the automation registry they name does not exist yet.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../errors.js';

export interface ChannelProblem {
  channel: string;
  reason: string;
}

/** The desktop notifier command of a platform, or null where there is none. */
export function desktopNotifier(platform: NodeJS.Platform = process.platform): string | null {
  if (platform === 'darwin') return 'osascript';
  if (platform === 'linux') return 'notify-send';
  return null;
}

/** Whether an executable of that name is on PATH. */
export function onPath(command: string, pathEnv = process.env['PATH'] ?? ''): boolean {
  return pathEnv
    .split(path.delimiter)
    .filter((dir) => dir !== '')
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, command), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * Throws for channels that can never work here yet (command:NAME); returns the channels
 * that are accepted but will not be delivered, with why.
 */
export function checkChannels(
  channels: readonly string[],
  isAvailable: (command: string) => boolean = (c) => onPath(c),
  platform: NodeJS.Platform = process.platform,
): ChannelProblem[] {
  const problems: ChannelProblem[] = [];
  for (const channel of channels) {
    if (channel.startsWith('command:')) {
      throw new InputError(
        'notification_channels',
        `'${channel}': command channels run a registered automation, and the automation registry does not exist yet; use log, mcp, desktop or webhook:URL`,
      );
    }
    if (channel === 'desktop') {
      const notifier = desktopNotifier(platform);
      if (notifier === null || !isAvailable(notifier)) {
        problems.push({
          channel,
          reason:
            notifier === null
              ? `desktop notifications are not supported on ${platform}`
              : `${notifier} is not installed, so desktop notifications cannot be shown; events are still logged and kept in the history`,
        });
      }
    }
  }
  return problems;
}
