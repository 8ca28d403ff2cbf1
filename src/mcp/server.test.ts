import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connectInMemory, text, type Harness } from '../../test/helpers/mcp.js';
import { tempDir } from '../../test/helpers/tmp.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

type Structured = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('MCP server (in memory, real backend and store)', () => {
  it('lists tools with titles, described fields, annotations and output schemas', async () => {
    h = await connectInMemory();
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'km_acknowledge_performance_alert',
      'km_analyze_bottlenecks',
      'km_delete_performance_alert',
      'km_get_alert_history',
      'km_get_monitoring_session',
      'km_list_performance_alerts',
      'km_monitor_performance',
      'km_set_performance_alerts',
      'km_stop_monitoring_session',
    ]);
    for (const t of tools) {
      expect(t.title).toBeTruthy();
      expect(t.outputSchema).toBeTruthy();
      expect(t.annotations?.readOnlyHint).toBeTypeOf('boolean');
      for (const [name, prop] of Object.entries(t.inputSchema.properties ?? {})) {
        expect((prop as { description?: string }).description, `${t.name}.${name}`).toBeTruthy();
      }
    }
    const monitor = tools.find((t) => t.name === 'km_monitor_performance');
    expect(monitor?.inputSchema.required).toEqual(['monitoring_scope']);
    expect(monitor?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    const alerts = tools.find((t) => t.name === 'km_set_performance_alerts');
    expect(alerts?.inputSchema.required).toEqual(['alert_name', 'metric_type', 'threshold_value']);
    expect(alerts?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
    });
  });

  it('monitors the system and reports stats, top processes and its own overhead', async () => {
    h = await connectInMemory();
    const r = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: {
        monitoring_scope: 'system',
        monitoring_duration: 1,
        sampling_interval: 0.25,
        metrics_types: ['cpu', 'memory', 'processes'],
        alert_thresholds: { memory_used_bytes: 1 },
      },
    });
    expect(r.isError).toBeFalsy();
    const s = r.structuredContent as Structured;
    expect(s.status).toBe('completed');
    expect(s.window.samples_taken).toBe(4);
    expect(s.metrics.cpu_percent.count).toBeGreaterThan(0);
    expect(s.metrics.memory_used_bytes.min).toBeGreaterThan(0);
    expect(s.metrics.disk_busy_percent).toBeUndefined();
    expect(s.top_processes.by_memory.length).toBe(10);
    expect(s.top_processes.by_cpu.some((p: Structured) => p.pid === process.pid)).toBe(true);
    expect(s.breach_count).toBe(4); // memory in use is always above 1 byte
    expect(s.breaches[0]).toMatchObject({
      metric: 'memory_used_bytes',
      threshold: 1,
      direction: 'above',
    });
    expect(s.overhead.cpu_percent_of_one_core).toBeGreaterThanOrEqual(0);
    expect(s.session_id).toBeNull();
    expect(text(r)).toMatch(/Monitored system/);
    const audit = h.ctx.store.audit.list({ limit: 1 })[0];
    expect(audit).toMatchObject({
      actor: 'mcp:memory',
      action: 'tool:km_monitor_performance',
      outcome: 'ok',
    });
  });

  it('follows one process by PID with all process metrics and exports CSV', async () => {
    h = await connectInMemory();
    const r = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: {
        monitoring_scope: 'specific',
        target_id: String(process.pid),
        monitoring_duration: 1,
        sampling_interval: 0.5,
        metrics_types: ['cpu', 'memory', 'disk', 'processes'],
        export_format: 'csv',
      },
    });
    const s = r.structuredContent as Structured;
    expect(s.target).toMatchObject({ kind: 'pid', pid: process.pid });
    expect(s.metrics.process_rss_bytes.last).toBeGreaterThan(10 * 2 ** 20);
    expect(s.metrics.process_open_fds.last).toBeGreaterThan(2);
    expect(s.metrics.process_threads.last).toBeGreaterThanOrEqual(1);
    const csv = fs.readFileSync(s.export.path, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('timestamp,metric,value,entity');
    expect(csv.length - 1).toBe(s.export.rows);
    expect(csv[1]).toMatch(/^\d{4}-\d\d-\d\dT[^,]+Z,process_\w+,[\d.e+-]+,process:/);
    const link = (r.content as { type: string; uri?: string }[]).find(
      (c) => c.type === 'resource_link',
    );
    expect(link?.uri).toBe(s.export.uri);
    const res = await h.client.readResource({ uri: s.export.uri });
    expect((res.contents[0] as { text: string }).text.split('\n').length).toBe(csv.length + 1);
  });

  it('follows processes by name and renders a text dashboard', async () => {
    h = await connectInMemory();
    // A unique command name: the kernel names a process after the file it executed.
    const bin = `${tempDir()}/kmpm-sleeper`;
    fs.symlinkSync('/bin/sleep', bin);
    const child = spawn(bin, ['30']);
    try {
      const r = await h.client.callTool({
        name: 'km_monitor_performance',
        arguments: {
          monitoring_scope: 'specific',
          target_id: 'kmpm-sleeper',
          monitoring_duration: 1,
          sampling_interval: 0.5,
          export_format: 'dashboard',
        },
      });
      const s = r.structuredContent as Structured;
      expect(s.target).toMatchObject({ kind: 'process_name', name: 'kmpm-sleeper' });
      expect(s.processes.some((p: Structured) => p.pid === child.pid)).toBe(true);
      expect(text(r)).toMatch(/^kmpm · kmpm-sleeper ·/);
      expect(text(r)).toMatch(/process_rss_bytes/);
    } finally {
      child.kill();
    }
  });

  it('reports automation runs and their breaches for automation scope', async () => {
    h = await connectInMemory();
    const { runs } = h.ctx.store;
    const now = Date.now();
    const ok = runs.start('nightly', 'true', 1, now - 5000);
    runs.finish(ok, {
      endedAt: now + 300,
      wallMs: 120,
      cpuMs: 50,
      peakRssBytes: 1e6,
      exitCode: 0,
      signal: null,
      status: 'ok',
    });
    const bad = runs.start('nightly', 'false', 1, now - 4000);
    runs.finish(bad, {
      endedAt: now + 400,
      wallMs: 900,
      cpuMs: 10,
      peakRssBytes: 2e6,
      exitCode: 1,
      signal: null,
      status: 'failed',
    });
    const r = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: {
        monitoring_scope: 'automation',
        target_id: 'nightly',
        monitoring_duration: 1,
        metrics_types: ['execution_time', 'error_rate', 'cpu'],
        alert_thresholds: { execution_time_ms: 500, error_rate: 0.1 },
      },
    });
    const s = r.structuredContent as Structured;
    expect(s.automation_runs.map((x: Structured) => x.status)).toEqual(['ok', 'failed']);
    expect(s.metrics.execution_time_ms).toMatchObject({ count: 2, min: 120, max: 900 });
    expect(s.metrics.error_rate.last).toBe(0.5);
    expect(s.breaches.map((b: Structured) => b.metric).sort()).toEqual([
      'error_rate',
      'execution_time_ms',
    ]);
    expect(s.notes.join(' ')).toMatch(/no run of 'nightly' was active/);
  });

  it('summarises the previous hour when asked, and says when there is none', async () => {
    h = await connectInMemory();
    const r = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 1, include_historical: true },
    });
    const s = r.structuredContent as Structured;
    expect(s.historical.available).toBe(false);
    expect(s.historical.reason).toMatch(/kmpm daemon/);
  });

  it('runs long calls in the background, reads them back and stops them', async () => {
    h = await connectInMemory();
    const r = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 60, sampling_interval: 0.2 },
    });
    const s = r.structuredContent as Structured;
    expect(s.status).toBe('running');
    const id = s.session_id as string;
    const got = await h.client.callTool({
      name: 'km_get_monitoring_session',
      arguments: { session_id: id },
    });
    expect((got.structuredContent as Structured).sessions[0]).toMatchObject({
      session_id: id,
      status: 'running',
    });
    await new Promise((res) => setTimeout(res, 700));
    const stop = await h.client.callTool({
      name: 'km_stop_monitoring_session',
      arguments: { session_id: id },
    });
    expect((stop.structuredContent as Structured).stopped).toBe(true);
    let session: Structured = {};
    for (let i = 0; i < 50 && session.status !== 'cancelled'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      session = (h.ctx.store.sessions.get(id) ?? {}) as Structured;
    }
    expect(session.status).toBe('cancelled');
    expect(session.result.window.samples_taken).toBeGreaterThanOrEqual(2);
    const again = await h.client.callTool({
      name: 'km_stop_monitoring_session',
      arguments: { session_id: id },
    });
    expect(text(again)).toMatch(/already ended \(cancelled\)/);
    const list = await h.client.callTool({ name: 'km_get_monitoring_session', arguments: {} });
    expect(text(list)).toContain(id);
  });

  it('limits concurrent sessions with a clear error', async () => {
    h = await connectInMemory({ maxSessions: 1 });
    const first = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 40 },
    });
    const second = await h.client.callTool({
      name: 'km_monitor_performance',
      arguments: { monitoring_scope: 'system', monitoring_duration: 1 },
    });
    expect(second.isError).toBe(true);
    expect(text(second)).toMatch(/too many monitoring sessions: 1 are running and at most 1/);
    await h.client.callTool({
      name: 'km_stop_monitoring_session',
      arguments: { session_id: (first.structuredContent as Structured).session_id },
    });
  });

  it('sends progress notifications and stops early on cancellation', async () => {
    h = await connectInMemory();
    const progress: number[] = [];
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1500);
    const call = h.client.callTool(
      {
        name: 'km_monitor_performance',
        arguments: { monitoring_scope: 'system', monitoring_duration: 20 },
      },
      undefined,
      { signal: ac.signal, onprogress: (p) => progress.push(p.progress) },
    );
    await expect(call).rejects.toThrow();
    expect(progress.length).toBeGreaterThanOrEqual(1);
    let entry;
    for (let i = 0; i < 50 && !entry; i++) {
      await new Promise((res) => setTimeout(res, 100));
      entry = h.ctx.store.audit.list({ action: 'tool:km_monitor_performance' })[0];
    }
    expect(entry?.outcome).toBe('cancelled');
    expect(entry?.durationMs).toBeLessThan(5000);
  });

  it('answers the snapshot resource and the prompt', async () => {
    h = await connectInMemory();
    const res = await h.client.readResource({ uri: 'kmpm://system/snapshot' });
    expect(JSON.parse((res.contents[0] as { text: string }).text)).toMatchObject({
      available: false,
    });
    const w = h.ctx.store.createWriter();
    const backend = h.ctx.backend.createSampler({ processes: false });
    w.write(backend.sample(Date.now() - 1000).snapshot);
    await new Promise((r) => setTimeout(r, 50));
    w.write(backend.sample(Date.now()).snapshot);
    backend.close();
    const res2 = await h.client.readResource({ uri: 'kmpm://system/snapshot' });
    const body = JSON.parse((res2.contents[0] as { text: string }).text);
    expect(body.available).toBe(true);
    expect(body.values.memory_used_bytes).toBeGreaterThan(0);
    await expect(h.client.readResource({ uri: 'kmpm://exports/nope.csv' })).rejects.toThrow(
      /no export named/,
    );
    await expect(h.client.readResource({ uri: 'kmpm://exports/..%2Fkmpm.db' })).rejects.toThrow(
      /invalid export name/,
    );
    const prompt = await h.client.getPrompt({ name: 'investigate_slowdown' });
    expect(JSON.stringify(prompt.messages)).toContain('km_monitor_performance');
  });
});
