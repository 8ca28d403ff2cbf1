import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/tmp.js';
import { checkChannels, desktopNotifier, onPath } from './availability.js';

describe('channel availability', () => {
  it('names the desktop notifier of each platform', () => {
    expect(desktopNotifier('linux')).toBe('notify-send');
    expect(desktopNotifier('darwin')).toBe('osascript');
    expect(desktopNotifier('win32')).toBeNull();
  });

  it('finds executables on PATH only', () => {
    const dir = tempDir();
    const exe = path.join(dir, 'tool');
    fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'plain'), '', { mode: 0o644 });
    const p = ['', '/nonexistent', dir].join(path.delimiter);
    expect(onPath('tool', p)).toBe(true);
    expect(onPath('plain', p)).toBe(false);
    expect(onPath('missing', p)).toBe(false);
    expect(onPath('sh')).toBe(true);
  });

  it('reports an unreachable desktop and accepts the rest', () => {
    const none = () => false;
    expect(checkChannels(['log', 'mcp', 'webhook:http://127.0.0.1/x'], none)).toEqual([]);
    expect(checkChannels(['desktop'], () => true, 'linux')).toEqual([]);
    expect(checkChannels(['desktop'], none, 'linux')[0]?.reason).toMatch(
      /notify-send is not installed/,
    );
    expect(checkChannels(['desktop'], none, 'win32')[0]?.reason).toMatch(/not supported on win32/);
  });

  it('refuses command channels, naming notification_channels', () => {
    expect(() => checkChannels(['log', 'command:backup'])).toThrow(
      /notification_channels: 'command:backup'.*registry does not exist yet/,
    );
  });
});
