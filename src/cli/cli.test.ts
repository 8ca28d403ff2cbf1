import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { busyFor } from '../../test/helpers/busy.js';
import { waitFor } from '../../test/helpers/cli.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { pino } from 'pino';
import { createBackend } from '../collect/backend.js';
import { Recorder } from '../collect/recorder.js';
import { Store } from '../store/index.js';
import type { Io } from './common.js';
import { main } from './main.js';

function capture(extra: Partial<Io> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), ...extra };
  return { io, out, err, text: () => out.join('\n'), errors: () => err.join('\n') };
}

const kmpm = (args: string[], io: Io) => main(['node', 'kmpm', ...args], io);

function count(dir: string, table: string): number {
  const file = path.join(dir, 'kmpm.db');
  if (!fs.existsSync(file)) return 0;
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('kmpm CLI (in process)', () => {
  it('prints help and version, and exits 2 on bad usage', async () => {
    const c = capture();
    expect(await kmpm(['--help'], c.io)).toBe(0);
    expect(c.text()).toMatch(/Usage: kmpm/);
    expect(await kmpm(['--version'], c.io)).toBe(0);
    expect(c.text()).toContain('0.1.0');
    for (const command of ['daemon', 'mcp']) {
      const h = capture();
      expect(await kmpm([command, '--help'], h.io)).toBe(0);
      expect(h.text()).toContain(`node --v8-pool-size=1 bin/kmpm ${command}.`);
    }
    const bad = capture();
    expect(await kmpm(['nope'], bad.io)).toBe(2);
    expect(bad.errors()).toBe("kmpm: unknown command 'nope'");
    expect(await kmpm(['audit', 'frob'], bad.io)).toBe(2);
  });

  it('records with the daemon until told to stop, and reports status', async () => {
    const dir = tempDir();
    const stop = new AbortController();
    const c = capture({ shutdown: stop.signal });
    const running = kmpm(
      ['daemon', '--interval', '0.1', '--flush-interval', '0.5', '--data-dir', dir],
      c.io,
    );
    await waitFor(() => count(dir, 'system_raw') >= 3, 10_000, 'samples');

    const second = capture();
    expect(await kmpm(['daemon', '--data-dir', dir], second.io)).toBe(1);
    expect(second.errors()).toMatch(/another recorder \(pid \d+/);

    const status = capture();
    expect(await kmpm(['status', '--data-dir', dir], status.io)).toBe(0);
    expect(status.text()).toMatch(/recorder\s+pid \d+ recording since/);
    expect(status.text()).toMatch(/latest\s+cpu [\d.]+ %, memory [\d.]+ %/);

    stop.abort();
    expect(await running).toBe(0);
    expect(fs.existsSync(path.join(dir, 'recorder.lock'))).toBe(false);
    const json = capture();
    expect(await kmpm(['status', '--json', '--data-dir', dir], json.io)).toBe(0);
    const report = JSON.parse(json.text());
    expect(report.recorder).toBeNull();
    expect(report.samples.count).toBeGreaterThanOrEqual(3);
    expect(report.processes_tracked).toBeGreaterThan(5);
  });

  it("reports the recorder's cost with its alert evaluation time a tick", async () => {
    const dir = tempDir();
    const store = Store.open(dir);
    const sampler = createBackend({ procRoot: '/proc' }).createSampler({ processes: false });
    const T = Date.now() - 120_000;
    const recorder = new Recorder(sampler, store, {
      intervalMs: 1000,
      logger: pino({ level: 'silent' }),
      clock: () => T,
      housekeepingMs: 3600_000,
      onSnapshot: () => busyFor(3),
    });
    recorder.tick(T);
    recorder.housekeeping(T + 60_000);
    recorder.tick(T + 61_000);
    recorder.tick(T + 62_000);
    recorder.housekeeping(T + 120_000);
    sampler.close();
    store.close();

    const json = capture();
    expect(await kmpm(['status', '--json', '--data-dir', dir], json.io)).toBe(0);
    const cost = JSON.parse(json.text()).recorder_cost;
    expect(cost.ticks).toBe(2);
    expect(cost.alert_evaluation_ms_per_tick).toBeGreaterThanOrEqual(3);
    const text = capture();
    expect(await kmpm(['status', '--data-dir', dir], text.io)).toBe(0);
    expect(text.text()).toMatch(
      /recorder cost {3}[\d.]+ % of one core, [\d.]+ MiB RSS, alert evaluation [\d.]+ ms a tick \(last minute\)/,
    );
  });

  it('shows an empty data directory plainly', async () => {
    const c = capture();
    expect(await kmpm(['status', '--data-dir', tempDir()], c.io)).toBe(0);
    expect(c.text()).toMatch(/recorder\s+not running \(start one with: kmpm daemon\)/);
    expect(c.text()).toMatch(/samples\s+0\n/);
  });

  it('runs a command as an automation run and lists and verifies the audit log', async () => {
    const dir = tempDir();
    const c = capture();
    expect(
      await kmpm(['run', '--name', 'job', '--data-dir', dir, '--', 'sh', '-c', 'exit 4'], c.io),
    ).toBe(4);
    expect(c.errors()).toMatch(/kmpm: job: failed \(exit 4\)/);
    expect(
      await kmpm(
        ['run', '--name', 'job', '--data-dir', dir, '--', 'sh', '-c', 'kill -TERM $$'],
        c.io,
      ),
    ).toBe(143);
    expect(
      await kmpm(['run', '--name', 'job', '--data-dir', dir, '--', './no/such/thing'], c.io),
    ).toBe(127);
    expect(count(dir, 'automation_run')).toBe(2);

    const list = capture();
    expect(await kmpm(['audit', 'list', '--data-dir', dir], list.io)).toBe(0);
    expect(list.out).toHaveLength(3);
    expect(list.out[0]).toMatch(/^3\t.*\tcli\tcli:run\terror\t/);
    const json = capture();
    expect(
      await kmpm(['audit', 'list', '--json', '--limit', '1', '--data-dir', dir], json.io),
    ).toBe(0);
    expect(JSON.parse(json.text())).toHaveLength(1);
    const empty = capture();
    expect(await kmpm(['audit', 'list', '--data-dir', tempDir()], empty.io)).toBe(0);
    expect(empty.text()).toBe('no audit entries');

    const ok = capture();
    expect(await kmpm(['audit', 'verify', '--data-dir', dir], ok.io)).toBe(0);
    expect(ok.text()).toBe('audit log intact: 3 entries verified');
    const db = new Database(path.join(dir, 'kmpm.db'));
    db.prepare("UPDATE audit SET outcome = 'ok' WHERE seq = 2").run();
    db.close();
    const tampered = capture();
    expect(await kmpm(['audit', 'verify', '--data-dir', dir], tampered.io)).toBe(1);
    expect(tampered.errors()).toMatch(
      /audit log TAMPERED: 1 problem\(s\) in 3 entries\n {2}seq 2: edited/,
    );
  });

  it('serves MCP on the given streams and records while it runs', async () => {
    const dir = tempDir();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        buf = buf.slice(i + 1);
      }
    });
    const c = capture({ stdin, stdout });
    const serving = kmpm(['mcp', '--interval', '0.2', '--data-dir', dir], c.io);
    const send = (m: object) => stdin.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\n');
    send({
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    });
    await waitFor(() => lines.find((l) => l.id === 1), 10_000, 'initialize result');
    send({ method: 'notifications/initialized' });
    send({
      id: 2,
      method: 'tools/call',
      params: {
        name: 'km_monitor_performance',
        arguments: { monitoring_scope: 'system', monitoring_duration: 1 },
      },
    });
    const res = (await waitFor(() => lines.find((l) => l.id === 2), 10_000, 'tool result')) as {
      result: { structuredContent: { status: string } };
    };
    expect(res.result.structuredContent.status).toBe('completed');
    await waitFor(() => count(dir, 'system_raw') >= 2, 10_000, 'recorded samples');
    stdin.end();
    expect(await serving).toBe(0);
    expect(fs.existsSync(path.join(dir, 'recorder.lock'))).toBe(false);
  });

  it('names the bad argument in one line and exits 2', async () => {
    const dir = tempDir();
    const cases: [string[], RegExp][] = [
      [['run', '--data-dir', dir], /run needs --name NAME -- COMMAND/],
      [['run', '--data-dir', dir, '--', 'true'], /run needs --name NAME before -- COMMAND/],
      [['run', '--name', 'x', '--data-dir', dir], /run needs a command after --/],
      [['run', '--name', 'a'.repeat(101), '--data-dir', dir, '--', 'true'], /--name must be 1-100/],
      [
        ['daemon', '--interval', '', '--data-dir', dir],
        /--interval must be a number from 0.1 to 60 \(got ""\)/,
      ],
      [
        ['daemon', '--raw-retention', '0', '--data-dir', dir],
        /--raw-retention must be a number from 1 to 8760/,
      ],
      [
        ['daemon', '--minute-retention', '0.5', '--data-dir', dir],
        /--minute-retention must be a number from 1 to 3650/,
      ],
      [
        ['daemon', '--hour-retention', '40000', '--data-dir', dir],
        /--hour-retention must be a number from 1 to 36500/,
      ],
      [['mcp', '--interval', 'x', '--data-dir', dir], /--interval must be a number/],
      [
        ['mcp', '--raw-retention', '9000', '--data-dir', dir],
        /--raw-retention must be a number from 1 to 8760 \(got "9000"\)/,
      ],
    ];
    for (const [args, re] of cases) {
      const c = capture();
      expect(await kmpm(args, c.io), args.join(' ')).toBe(2);
      expect(c.err).toHaveLength(1);
      expect(c.errors()).toMatch(re);
    }
  });

  it('serves stored data beside a daemon, and never records with --no-record', async () => {
    const dir = tempDir();
    const stop = new AbortController();
    const daemon = kmpm(['daemon', '--data-dir', dir], capture({ shutdown: stop.signal }).io);
    await waitFor(() => fs.existsSync(path.join(dir, 'recorder.lock')), 10_000, 'daemon lock');
    for (const extra of [[], ['--no-record']]) {
      const stdin = new PassThrough();
      const c = capture({ stdin, stdout: new PassThrough() });
      const serving = kmpm(['mcp', ...extra, '--data-dir', dir], c.io);
      await new Promise((r) => setTimeout(r, 300));
      stdin.end();
      expect(await serving).toBe(0);
      expect(fs.existsSync(path.join(dir, 'recorder.lock'))).toBe(true); // still the daemon's
    }
    stop.abort();
    expect(await daemon).toBe(0);
    const fresh = tempDir();
    const stdin = new PassThrough();
    const serving = kmpm(
      ['mcp', '--no-record', '--data-dir', fresh],
      capture({ stdin, stdout: new PassThrough() }).io,
    );
    await new Promise((r) => setTimeout(r, 300));
    stdin.end();
    expect(await serving).toBe(0);
    expect(count(fresh, 'system_raw')).toBe(0);
  });
});
