import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/tmp.js';
import type { DeliveryJob } from '../deliveries.js';
import { UndeliverableError } from '../dispatcher.js';
import { desktopSender } from './senders.js';

const job: DeliveryJob = {
  channel: 'desktop',
  attempts: 0,
  event: {
    id: 1,
    rule_id: 1,
    ts: 0,
    kind: 'firing',
    severity: 'high',
    value: 97,
    message: '[high] hot: cpu_percent > 40',
    dedupe_key: '1:1:firing:0',
  },
};

const savedPath = process.env['PATH'];
afterEach(() => {
  process.env['PATH'] = savedPath;
});

/** A directory holding an executable `name` that writes its arguments to `out` and exits `code`. */
function fakeNotifier(name: string, code = 0): { dir: string; out: string } {
  const dir = tempDir();
  const out = path.join(dir, 'args');
  fs.writeFileSync(
    path.join(dir, name),
    `#!/bin/sh\nprintf '%s\\n' "$@" > '${out}'\nexit ${code}\n`,
    { mode: 0o755 },
  );
  return { dir, out };
}

describe('desktop sender', () => {
  it('runs notify-send with a title and the message', async () => {
    const { dir, out } = fakeNotifier('notify-send');
    process.env['PATH'] = dir;
    await desktopSender(5000, 'linux')(job);
    expect(fs.readFileSync(out, 'utf8')).toBe('kmpm alert (high)\n[high] hot: cpu_percent > 40\n');
  });

  it('passes the message to osascript as an argument, never as script text', async () => {
    const { dir, out } = fakeNotifier('osascript');
    process.env['PATH'] = dir;
    await desktopSender(5000, 'darwin')(job);
    const args = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(args.slice(-2)).toEqual(['kmpm alert (high)', '[high] hot: cpu_percent > 40']);
    expect(args.filter((a) => a === '-e')).toHaveLength(3);
  });

  it('fails for good when the notifier is missing or the platform has none', async () => {
    process.env['PATH'] = tempDir();
    await expect(desktopSender(5000, 'linux')(job)).rejects.toThrow(UndeliverableError);
    await expect(desktopSender(5000, 'linux')(job)).rejects.toThrow(/notify-send is not installed/);
    await expect(desktopSender(5000, 'win32')(job)).rejects.toThrow(UndeliverableError);
  });

  it('a notifier that fails is an ordinary, retried failure', async () => {
    const { dir } = fakeNotifier('notify-send', 1);
    process.env['PATH'] = dir;
    const err = await desktopSender(5000, 'linux')(job).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UndeliverableError);
  });
});
