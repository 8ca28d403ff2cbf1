import { afterEach, describe, expect, it } from 'vitest';
import type { SystemValues } from '../../analyze/derive.js';
import { AlertEvaluator } from '../../alerts/evaluator.js';
import { AlertStore } from '../../alerts/store.js';
import type { Snapshot } from '../../types.js';
import { connectInMemory, text, type Harness } from '../../../test/helpers/mcp.js';
import { snap } from '../../../test/helpers/snapshots.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

type Structured = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(name: string, args: Record<string, unknown>) {
  const r = await (h as Harness).client.callTool({ name, arguments: args });
  return { r, s: r.structuredContent as Structured, text: text(r) };
}

const cpu = (v: number) => ({ cpu_percent: v }) as unknown as SystemValues;

describe('alert tools (in memory, real store)', () => {
  it('creates with defaults, then updates by name, audited', async () => {
    h = await connectInMemory();
    const a = await call('km_set_performance_alerts', {
      alert_name: 'busy',
      metric_type: 'cpu',
      threshold_value: 80,
    });
    expect(a.r.isError).toBeFalsy();
    expect(a.s.created).toBe(true);
    expect(a.s.rule).toMatchObject({
      alert_name: 'busy',
      metric: 'cpu_percent',
      watches: 'system',
      status: 'inactive',
      since: null,
      last_value: null,
      recent_events: [],
    });
    expect(a.s.rule.definition).toMatchObject({
      threshold_operator: 'gt',
      alert_severity: 'medium',
      notification_channels: ['log'],
      evaluation_period: 300,
      alert_cooldown: 900,
      auto_resolution: false,
      target_id: null,
    });
    expect(a.s.notes.join(' ')).toMatch(/not recording samples/);
    expect(a.text).toMatch(/^Created alert 'busy': cpu_percent gt 80 on system for 300 s/);

    const b = await call('km_set_performance_alerts', {
      alert_name: 'busy',
      metric_type: 'execution_time',
      threshold_value: 2000,
      monitoring_scope: 'automation',
      target_id: 'backup',
      alert_severity: 'high',
    });
    expect(b.s.created).toBe(false);
    expect(b.s.rule).toMatchObject({ metric: 'execution_time_ms', watches: 'automation backup' });
    expect(new AlertStore(h.ctx.store.db).listRules().rules).toHaveLength(1);
    const audit = h.ctx.store.audit.list({ limit: 1 })[0];
    expect(audit).toMatchObject({ action: 'tool:km_set_performance_alerts', outcome: 'ok' });
  });

  it('reports unreachable desktop channels, where mcp notifications go, and refuses command channels', async () => {
    h = await connectInMemory();
    const saved = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      const d = await call('km_set_performance_alerts', {
        alert_name: 'desk',
        metric_type: 'memory',
        threshold_value: 90,
        notification_channels: ['desktop', 'log'],
      });
      expect(d.r.isError).toBeFalsy();
      expect(d.s.unavailable_channels).toEqual([
        { channel: 'desktop', reason: expect.stringMatching(/not (installed|supported)/) },
      ]);
      expect(d.text).toMatch(/channel desktop:/);
      expect(d.text).not.toMatch(/channel mcp:/);
      const m = await call('km_set_performance_alerts', {
        alert_name: 'to the client',
        metric_type: 'memory',
        threshold_value: 90,
        notification_channels: ['mcp'],
      });
      expect(m.s.unavailable_channels).toEqual([]);
      expect(m.s.notes.join(' ')).toMatch(
        /channel mcp: this server does not record; it relays the recorder's notifications to its client .* within 30 s is marked failed/,
      );
    } finally {
      process.env['PATH'] = saved;
    }
    const c = await call('km_set_performance_alerts', {
      alert_name: 'cmd',
      metric_type: 'cpu',
      threshold_value: 90,
      notification_channels: ['command:cleanup'],
    });
    expect(c.r.isError).toBe(true);
    expect(c.text).toMatch(/notification_channels: 'command:cleanup'.*registry does not exist/);
    expect(new AlertStore(h.ctx.store.db).getRule('cmd')).toBeNull();
  });

  it('lists state, acknowledges, shows history and deletes', async () => {
    h = await connectInMemory();
    await call('km_set_performance_alerts', {
      alert_name: 'hot',
      metric_type: 'cpu',
      threshold_value: 40,
      evaluation_period: 30,
      auto_resolution: true,
    });
    await call('km_set_performance_alerts', {
      alert_name: 'cold',
      metric_type: 'cpu',
      threshold_value: 1,
      threshold_operator: 'lt',
    });
    const ev = new AlertEvaluator(new AlertStore(h.ctx.store.db), { intervalMs: 1000 });
    const t0 = Date.now() - 120_000;
    ev.start(t0);
    ev.evaluateValues(t0, cpu(90), t0);
    let l = await call('km_list_performance_alerts', {});
    expect(l.s.counts).toEqual({ inactive: 1, pending: 1, firing: 0, resolved: 0 });
    const hot = () => l.s.rules.find((r: Structured) => r.alert_name === 'hot');
    expect(hot()).toMatchObject({ status: 'pending', since: new Date(t0).toISOString() });

    for (let t = t0 + 5000; t <= t0 + 30_000; t += 5000) ev.evaluateValues(t, cpu(95), t);
    l = await call('km_list_performance_alerts', { alert_name: 'hot' });
    expect(l.s.rules).toHaveLength(1);
    expect(hot()).toMatchObject({ status: 'firing', last_value: 95 });
    expect(hot().recent_events.map((e: Structured) => e.kind)).toEqual(['firing']);
    expect(l.text).toMatch(/hot: firing since/);

    const ack = await call('km_acknowledge_performance_alert', { alert_name: 'hot' });
    expect(ack.s).toMatchObject({ acknowledged: true, status: 'firing' });
    const again = await call('km_acknowledge_performance_alert', { alert_name: 'hot' });
    expect(again.s.note).toMatch(/already acknowledged/);
    const idle = await call('km_acknowledge_performance_alert', { alert_name: 'cold' });
    expect(idle.s).toMatchObject({
      acknowledged: false,
      note: 'not firing (inactive); nothing to acknowledge',
    });

    for (let t = t0 + 35_000; t <= t0 + 100_000; t += 5000) ev.evaluateValues(t, cpu(10), t);
    l = await call('km_list_performance_alerts', { alert_name: 'hot', recent_events: 0 });
    expect(hot()).toMatchObject({ status: 'resolved', recent_events: [] });

    const hist = await call('km_get_alert_history', { time_range: 'last_hour' });
    expect(hist.s.events.map((e: Structured) => e.kind)).toEqual(['resolved', 'firing']);
    expect(hist.s.events[0]).toMatchObject({
      alert_name: 'hot',
      deliveries: [
        { channel: 'log', status: 'pending', attempts: 0, last_error: null, relayed_to: null },
      ],
    });
    expect(hist.text).toMatch(/resolved: \[medium\] hot/);
    const one = await call('km_get_alert_history', { alert_name: 'hot', limit: 1 });
    expect(one.s).toMatchObject({ truncated: true });
    expect(one.s.events).toHaveLength(1);
    const none = await call('km_get_alert_history', { alert_name: 'cold' });
    expect(none.text).toBe('No alert notifications in the last day.');

    const del = await call('km_delete_performance_alert', { alert_name: 'hot' });
    expect(del.s).toEqual({ alert_name: 'hot', deleted: true });
    const kept = await call('km_get_alert_history', {});
    expect(kept.s.events.map((e: Structured) => e.alert_name)).toEqual([null, null]);
    for (const [tool, args] of [
      ['km_delete_performance_alert', { alert_name: 'hot' }],
      ['km_acknowledge_performance_alert', { alert_name: 'hot' }],
      ['km_list_performance_alerts', { alert_name: 'hot' }],
      ['km_get_alert_history', { alert_name: 'hot' }],
    ] as const) {
      const r = await call(tool, args);
      expect(r.r.isError, tool).toBe(true);
      expect(r.text).toMatch(/alert_name: no alert rule named 'hot'; known rules: cold/);
    }
    await call('km_delete_performance_alert', { alert_name: 'cold' });
    const empty = await call('km_list_performance_alerts', {});
    expect(empty.text).toBe('No alert rules are defined.');
    const missing = await call('km_delete_performance_alert', { alert_name: 'cold' });
    expect(missing.text).toMatch(/no rules are defined/);
  });

  it('lists the last value of system rules from the latest recorded sample when it is newer', async () => {
    h = await connectInMemory();
    for (const [alert_name, metric_type] of [
      ['busy', 'cpu'],
      ['mem', 'memory'],
    ] as const) {
      await call('km_set_performance_alerts', { alert_name, metric_type, threshold_value: 80 });
    }
    await call('km_set_performance_alerts', {
      alert_name: 'slow',
      metric_type: 'execution_time',
      threshold_value: 1000,
      monitoring_scope: 'automation',
      target_id: 'backup',
    });
    // a recorder: each snapshot stored, then evaluated; CPU 30 % busy, memory not read
    const alerts = new AlertStore(h.ctx.store.db);
    const ev = new AlertEvaluator(alerts, { intervalMs: 1000 });
    const writer = h.ctx.store.createWriter();
    const t0 = Date.now() - 300_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    ev.start(t0);
    let prev: Snapshot | null = null;
    for (let t = 0; t <= 150; t++) {
      const cpu = { cpu_user: 30 * t, cpu_idle: 70 * t, cpu_nice: 0, cpu_system: 0 };
      const idle = { cpu_iowait: 0, cpu_irq: 0, cpu_softirq: 0, cpu_steal: 0 };
      const cur = snap(t0 + t * 1000, { ...cpu, ...idle });
      writer.write(cur);
      ev.evaluate(prev, cur, cur.ts);
      prev = cur;
    }
    // quiet rules on system metrics are not written as they go; rules on automations are, every minute
    expect(alerts.getRule('busy')?.state).toMatchObject({ lastTs: null, lastValue: null });
    alerts.updateState('mem', t0, (s) => ({ ...s, lastTs: t0, lastDataTs: t0, lastValue: 42 }));
    let l = await call('km_list_performance_alerts', {});
    const rule = (name: string) => l.s.rules.find((r: Structured) => r.alert_name === name);
    expect(rule('busy')).toMatchObject({
      status: 'inactive',
      last_value: 30,
      last_sample_at: at(150),
    });
    // the latest sample had no memory reading: its time, and the last value there was
    expect(rule('mem')).toMatchObject({ last_value: 42, last_sample_at: at(150) });
    expect(rule('slow')).toMatchObject({ last_value: null, last_sample_at: at(120) });
    expect(l.text).toMatch(/busy: inactive \(cpu_percent gt 80 on system; last 30\)/);

    // a state newer than every stored sample speaks for itself
    ev.evaluateValues(t0 + 160_000, { cpu_percent: 85 } as unknown as SystemValues, t0 + 160_000);
    l = await call('km_list_performance_alerts', { alert_name: 'busy' });
    expect(rule('busy')).toMatchObject({
      status: 'pending',
      last_value: 85,
      last_sample_at: at(160),
    });
  });

  it('lists rules this version cannot load without failing', async () => {
    h = await connectInMemory();
    await call('km_set_performance_alerts', {
      alert_name: 'x',
      metric_type: 'cpu',
      threshold_value: 1,
    });
    h.ctx.store.db.prepare("UPDATE alert_rule SET definition = '{' WHERE name = 'x'").run();
    const l = await call('km_list_performance_alerts', {});
    expect(l.s.rules).toEqual([]);
    expect(l.s.unloadable[0]).toMatchObject({
      name: 'x',
      error: expect.stringMatching(/cannot be loaded/),
    });
    expect(l.text).toMatch(/x: cannot be loaded/);
  });
});
