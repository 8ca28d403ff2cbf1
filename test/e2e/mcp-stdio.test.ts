import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KMPM, countRows, exited, kmpm, startKmpm, waitFor } from '../helpers/cli.js';
import { text } from '../helpers/mcp.js';
import { tempDir } from '../helpers/tmp.js';

type Structured = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function readStat(): { busy: number; total: number } {
  const f = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as number[];
  const total = user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal!;
  return { busy: total - idle! - iowait!, total };
}

function memUsed(): number {
  const kb = (key: string) =>
    Number(
      new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1],
    ) * 1024;
  return kb('MemTotal') - kb('MemAvailable');
}

async function connect(dataDir: string, extra: string[] = []) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [KMPM, 'mcp', '--data-dir', dataDir, ...extra],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  const protocolErrors: Error[] = [];
  client.onerror = (e) => protocolErrors.push(e);
  await client.connect(transport);
  return { client, transport, protocolErrors, stderr: () => stderr };
}

describe('kmpm mcp over stdio (real binary, real client)', () => {
  let dir: string;
  let conn: Awaited<ReturnType<typeof connect>>;
  let hog: ChildProcess;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-e2e-')); // lives for the whole suite
    conn = await connect(dir, ['--flush-interval', '1']);
    hog = spawn(process.execPath, ['-e', 'for(;;){}']);
  });
  afterAll(async () => {
    hog.kill('SIGKILL');
    await conn.client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists the tools', async () => {
    const { tools } = await conn.client.listTools();
    expect(tools.map((t) => t.name)).toContain('km_monitor_performance');
  });

  it('monitors the system for 3 s with values that agree with /proc', async () => {
    const stat0 = readStat();
    const mem0 = memUsed();
    const r = await conn.client.callTool({
      name: 'km_monitor_performance',
      arguments: {
        monitoring_scope: 'system',
        monitoring_duration: 3,
        metrics_types: ['cpu', 'memory', 'disk', 'network'],
      },
    });
    const stat1 = readStat();
    const mem1 = memUsed();
    expect(r.isError).toBeFalsy();
    const s = r.structuredContent as Structured;
    expect(s.window.samples_taken).toBe(3);
    const procCpu = (100 * (stat1.busy - stat0.busy)) / (stat1.total - stat0.total);
    expect(Math.abs(s.metrics.cpu_percent.mean - procCpu)).toBeLessThan(15);
    expect(s.metrics.cpu_percent.mean).toBeGreaterThan(20); // the hog keeps one of the cores busy
    const lo = Math.min(mem0, mem1) * 0.9;
    const hi = Math.max(mem0, mem1) * 1.1;
    expect(s.metrics.memory_used_bytes.mean).toBeGreaterThan(lo);
    expect(s.metrics.memory_used_bytes.mean).toBeLessThan(hi);
    expect(s.top_processes.by_cpu.slice(0, 3).map((p: Structured) => p.pid)).toContain(hog.pid);
    expect(s.metrics.disk_busy_percent.count).toBe(3);
    expect(s.metrics.network_receive_bytes_per_second).toBeDefined();
  });

  it('monitors a busy child process by PID', async () => {
    const r = await conn.client.callTool({
      name: 'km_monitor_performance',
      arguments: {
        monitoring_scope: 'specific',
        target_id: String(hog.pid),
        monitoring_duration: 2,
        sampling_interval: 0.5,
      },
    });
    const s = r.structuredContent as Structured;
    expect(s.target.pid).toBe(hog.pid);
    expect(s.metrics.process_cpu_percent.mean).toBeGreaterThanOrEqual(50);
    expect(s.metrics.process_rss_bytes.last).toBeGreaterThan(1e6);
  });

  it('stops a cancelled call early', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1000);
    const started = Date.now();
    await expect(
      conn.client.callTool(
        {
          name: 'km_monitor_performance',
          arguments: { monitoring_scope: 'system', monitoring_duration: 25 },
        },
        undefined,
        { signal: ac.signal },
      ),
    ).rejects.toThrow();
    const db = path.join(dir, 'kmpm.db');
    const entry = await waitFor(
      () => {
        const d = new Database(db, { readonly: true });
        try {
          return d
            .prepare("SELECT outcome, duration_ms FROM audit WHERE outcome = 'cancelled'")
            .get() as { outcome: string; duration_ms: number } | undefined;
        } finally {
          d.close();
        }
      },
      10_000,
      'the cancelled call in the audit log',
    );
    expect(entry.duration_ms).toBeLessThan(5000);
    expect(Date.now() - started).toBeLessThan(10_000);
    // the server is still there
    const ok = await conn.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 1 },
    });
    expect(ok.isError).toBeFalsy();
  });

  it('returns a session id at once for a 60 s call', async () => {
    const started = Date.now();
    const r = await conn.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 60 },
    });
    expect(Date.now() - started).toBeLessThan(5000);
    const s = r.structuredContent as Structured;
    expect(s.status).toBe('running');
    const got = await conn.client.callTool({
      name: 'km_get_monitoring_session',
      arguments: { session_id: s.session_id },
    });
    expect((got.structuredContent as Structured).sessions[0].status).toBe('running');
    await conn.client.callTool({
      name: 'km_stop_monitoring_session',
      arguments: { session_id: s.session_id },
    });
  });

  it('answers hostile input with tool errors and keeps serving', async () => {
    const bad = [
      { monitoring_scope: 'everything' },
      { monitoring_scope: 'system', monitoring_duration: 0 },
      { monitoring_scope: 'system', sampling_interval: 1e9 },
      { monitoring_scope: 'system', metrics_types: ['cpu', 'gpu'] },
      { monitoring_scope: 'system', monitoring_duraton: 5 },
      { monitoring_scope: 'specific', target_id: '999999999' },
    ];
    for (const args of bad) {
      const r = await conn.client.callTool({ name: 'km_monitor_performance', arguments: args });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(text(r)).toMatch(
        /monitoring_scope|monitoring_duration|sampling_interval|metrics_types|monitoring_duraton|target_id/,
      );
    }
    const { tools } = await conn.client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    expect(conn.protocolErrors).toEqual([]); // nothing but protocol on stdout
  });

  it('records while no daemon does', async () => {
    const db = path.join(dir, 'kmpm.db');
    await waitFor(() => countRows(db, 'system_raw') >= 2, 10_000, 'recorded samples');
  });
});

/**
 * With the recorder holding its samples for 60 s: a resource read, and a tool call a second
 * later, each find the samples taken up to then stored, the latest within seconds.
 */
async function expectWrittenBeforeReads(
  conn: Awaited<ReturnType<typeof connect>>,
  db: string,
): Promise<void> {
  const read = await conn.client.readResource({ uri: 'kmpm://system/snapshot' });
  const latest = JSON.parse((read.contents[0] as { text: string }).text) as {
    available: boolean;
    ts: string;
    values: Record<string, number | null>;
  };
  expect(latest.available).toBe(true);
  expect(latest.values['memory_used_bytes']).toBeGreaterThan(0);
  expect(Date.now() - Date.parse(latest.ts)).toBeLessThan(5000); // the last tick, not 60 s old
  const afterRead = countRows(db, 'system_raw');
  expect(afterRead).toBeGreaterThanOrEqual(3);

  await delay(1000);
  expect(countRows(db, 'system_raw')).toBe(afterRead);
  const list = await conn.client.callTool({ name: 'km_list_performance_alerts', arguments: {} });
  expect(list.isError).toBeFalsy();
  expect(countRows(db, 'system_raw')).toBeGreaterThan(afterRead);
}

describe('kmpm mcp recording with a long flush interval', () => {
  it('writes the samples it holds before a tool call or resource read uses the store', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'kmpm.db');
    const conn = await connect(dir, ['--interval', '0.2', '--flush-interval', '60']);
    try {
      await waitFor(() => fs.existsSync(path.join(dir, 'recorder.lock')), 10_000, 'recorder');
      await delay(1000);
      expect(countRows(db, 'system_raw')).toBe(0); // all in memory, for 60 s

      await expectWrittenBeforeReads(conn, db);
    } finally {
      await conn.client.close();
    }
    // stdin closed: the recorder stopped and wrote what it held; recorder_stat counts each tick
    await waitFor(() => !fs.existsSync(path.join(dir, 'recorder.lock')), 10_000, 'lock released');
    const check = new Database(db, { readonly: true });
    const ticks = check.prepare('SELECT sum(ticks) FROM recorder_stat').pluck().get();
    check.close();
    expect(countRows(db, 'system_raw')).toBe(ticks);
  });
});

describe('kmpm mcp beside a daemon', () => {
  it('has the daemon write the samples it holds before a tool, a resource or status reads', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'kmpm.db');
    const daemon = startKmpm([
      'daemon',
      '--interval',
      '0.2',
      '--flush-interval',
      '60',
      '--data-dir',
      dir,
    ]);
    try {
      await waitFor(() => /"recording"/.test(daemon.stderrText()), 15_000, 'the daemon');
      await delay(1000);
      expect(countRows(db, 'system_raw')).toBe(0); // all in the daemon's memory, for 60 s
      const conn = await connect(dir);
      try {
        await waitFor(() => /already records here/.test(conn.stderr()), 10_000, 'read-only mode');
        await expectWrittenBeforeReads(conn, db);
      } finally {
        await conn.client.close();
      }
      await delay(3000); // nothing read since the tool call: the daemon holds 3 s of samples
      const status = await kmpm(['status', '--json', '--data-dir', dir]);
      const report = JSON.parse(status.stdout) as { samples: { newest: string } };
      expect(Date.now() - Date.parse(report.samples.newest)).toBeLessThan(2000);
      expect(daemon.exitCode).toBeNull(); // asked, never ended, by the signal
    } finally {
      daemon.kill('SIGTERM');
      expect((await exited(daemon)).code).toBe(0);
    }
  });

  it('reads the daemon data instead of recording, and --no-record never records', async () => {
    const dir = tempDir();
    const daemon = startKmpm(['daemon', '--data-dir', dir]);
    try {
      await waitFor(() => fs.existsSync(path.join(dir, 'recorder.lock')), 10_000, 'daemon lock');
      const conn = await connect(dir);
      await waitFor(() => /already records here/.test(conn.stderr()), 10_000, 'read-only notice');
      await conn.client.close();
    } finally {
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
    const empty = tempDir();
    const conn = await connect(empty, ['--no-record']);
    const r = await conn.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 1 },
    });
    expect(r.isError).toBeFalsy();
    await conn.client.close();
    expect(countRows(path.join(empty, 'kmpm.db'), 'system_raw')).toBe(0);
    expect(fs.existsSync(path.join(empty, 'recorder.lock'))).toBe(false);
  });
});
