import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { LOCK_FILE } from './lock.js';
import { FLUSH_SIGNAL, freshSamples } from './samples-fresh.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/**
 * A live process standing in for a recorder: on FLUSH_SIGNAL it runs `onSignal` (given
 * `file`); without a handler the signal would end it, as it ends any process not listening.
 */
async function stand(onSignal: string | null, file = ''): Promise<ChildProcess> {
  const handler =
    onSignal === null ? '' : `process.on(${JSON.stringify(FLUSH_SIGNAL)}, () => { ${onSignal} });`;
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const file = ${JSON.stringify(file)}; ${handler} console.log('ready'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  for await (const line of createInterface({ input: child.stdout! })) if (line === 'ready') break;
  return child;
}

function startTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

function writeLock(dataDir: string, pid: number, extra: Record<string, unknown> = {}): void {
  const owner: Record<string, unknown> = {
    pid,
    startTicks: startTicks(pid),
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    command: 'kmpm daemon',
    flush: { signal: FLUSH_SIGNAL, intervalMs: 200, flushMs: 5000 },
    ...extra,
  };
  fs.writeFileSync(path.join(dataDir, LOCK_FILE), `${JSON.stringify(owner)}\n`);
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

describe('freshSamples', () => {
  it('asks the recorder to write what it holds and waits until its last tick is stored', async () => {
    const dir = tempDir();
    const written = path.join(dir, 'latest');
    const recorder = await stand('fs.writeFileSync(file, String(Date.now()))', written);
    writeLock(dir, recorder.pid!);
    const latest = () => (fs.existsSync(written) ? Number(fs.readFileSync(written, 'utf8')) : null);
    const asked = Date.now();
    expect(await freshSamples(dir, latest, { waitMs: 5000 })).toBe(true);
    expect(latest()).toBeGreaterThanOrEqual(asked);
    expect(alive(recorder)).toBe(true);
  });

  it('waits no longer than it was told when the samples do not come', async () => {
    const dir = tempDir();
    const recorder = await stand('/* holds on to them */');
    writeLock(dir, recorder.pid!);
    const started = Date.now();
    expect(await freshSamples(dir, () => null, { waitMs: 50 })).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(alive(recorder)).toBe(true);
  });

  it('never signals a process it cannot verify as a recorder that takes the signal', async () => {
    const dir = tempDir();
    const bystander = await stand(null); // the signal would end it
    const cases: Parameters<typeof writeLock>[2][] = [
      { flush: undefined }, // a lock of a recorder that does not take it (or an older kmpm)
      { startTicks: startTicks(bystander.pid!) + 1 }, // the pid is another process now
      { startTicks: null }, // its start cannot be compared
      { hostname: 'elsewhere.example' },
      { flush: { signal: FLUSH_SIGNAL, intervalMs: 1000, flushMs: 1000 } }, // writes every tick
    ];
    for (const extra of cases) {
      writeLock(dir, bystander.pid!, extra);
      expect(await freshSamples(dir, () => null, { waitMs: 50 })).toBe(true);
    }
    fs.writeFileSync(path.join(dir, LOCK_FILE), '{"pid": "junk"');
    expect(await freshSamples(dir, () => null)).toBe(true);
    fs.rmSync(path.join(dir, LOCK_FILE));
    expect(await freshSamples(dir, () => null)).toBe(true);
    await delay(200);
    expect(alive(bystander)).toBe(true);
  });
});
