import { afterEach, describe, expect, it } from 'vitest';
import { cpuCounters, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { webhookServer, type WebhookServer } from '../../test/helpers/webhook.js';
import { silentLogger } from '../log.js';
import { Store } from '../store/index.js';
import type { Snapshot } from '../types.js';
import { webhookSender } from './channels/senders.js';
import { backoffMs, type DeliveryJob } from './deliveries.js';
import { normalizeRule, type AlertRuleInput } from './rule.js';
import { AlertRuntime } from './runtime.js';
import { AlertStore } from './store.js';

const S = 1000;
let hook: WebhookServer | null = null;
afterEach(async () => {
  await hook?.close();
  hook = null;
});

/** Snapshots whose cpu_percent between two consecutive ones is exactly `busy`. */
function machine() {
  let user = 0;
  let idle = 0;
  return (t: number, busy: number): Snapshot => {
    user += busy;
    idle += 100 - busy;
    return snap(t * S, {
      ...cpuCounters(user, idle),
    });
  };
}

function setup(dataDir = tempDir()) {
  const store = Store.open(dataDir);
  const alerts = new AlertStore(store.db);
  const now = { t: 0 };
  const logged: DeliveryJob[] = [];
  const runtime = (extra: { webhook?: ReturnType<typeof webhookSender> } = {}) =>
    new AlertRuntime(alerts, store.runs, {
      intervalMs: S,
      logger: silentLogger(),
      clock: () => now.t,
      senders: {
        log: (job) => {
          logged.push(job);
          return Promise.resolve();
        },
        ...extra,
      },
    });
  const define = (over: Partial<AlertRuleInput>) =>
    alerts.upsertRule(
      normalizeRule({
        alert_name: 'hot',
        metric_type: 'cpu',
        threshold_value: 40,
        evaluation_period: 30,
        alert_cooldown: 60,
        auto_resolution: true,
        ...over,
      }),
      0,
    );
  return { store, alerts, now, logged, runtime, define, dataDir };
}

describe('AlertRuntime', () => {
  it('evaluates each snapshot against the previous one and delivers outside the tick', async () => {
    hook = await webhookServer();
    hook.respond = 'hang';
    const { alerts, now, logged, runtime, define } = setup();
    define({ notification_channels: ['log', `webhook:${hook.url}`] });
    const rt = runtime({ webhook: webhookSender(500) });
    rt.start();
    const m = machine();
    const status = () => alerts.getRule('hot')?.state.status;
    for (let t = 1; t <= 40; t++) {
      now.t = t * S;
      const started = Date.now();
      rt.onSnapshot(m(t, 95));
      // a hanging webhook never holds up evaluation
      expect(Date.now() - started).toBeLessThan(200);
      if (t === 2) expect(status()).toBe('pending');
    }
    expect(status()).toBe('firing');
    await rt.dispatcher.idle();
    expect(logged.map((j) => j.event.kind)).toEqual(['firing']);
    const [, webhook] = alerts.deliveries.of(1);
    expect(webhook).toMatchObject({ status: 'pending', attempts: 1 });
    for (let t = 41; t <= 110; t++) {
      now.t = t * S;
      rt.onSnapshot(m(t, 5));
    }
    await rt.dispatcher.idle();
    expect(status()).toBe('resolved');
    expect(logged.map((j) => j.event.kind)).toEqual(['firing', 'resolved']);
  });

  it('sends a reminder that fell due while down once on start, and reads automation runs', async () => {
    const { store, now, logged, runtime, define, dataDir } = setup();
    define({ auto_resolution: false });
    const first = runtime();
    first.start();
    const m = machine();
    for (let t = 1; t <= 35; t++) {
      now.t = t * S;
      first.onSnapshot(m(t, 95));
    }
    await first.dispatcher.idle();
    expect(logged.map((j) => j.event.kind)).toEqual(['firing']);
    store.close();

    const again = setup(dataDir);
    again.now.t = 600 * S;
    const id = again.store.runs.start('backup', 'true', 1, 590 * S);
    again.store.runs.finish(id, {
      endedAt: 595 * S,
      wallMs: 5000,
      cpuMs: 1,
      peakRssBytes: 1,
      exitCode: 0,
      signal: null,
      status: 'ok',
    });
    again.define({
      alert_name: 'slow',
      metric_type: 'execution_time',
      threshold_value: 1000,
      monitoring_scope: 'automation',
      target_id: 'backup',
    });
    const second = again.runtime();
    second.start();
    second.start();
    await second.dispatcher.idle();
    expect(again.logged.map((j) => j.event.kind)).toEqual(['repeat']);
    second.onSnapshot(m(600, 95));
    expect(again.alerts.getRule('slow')?.state).toMatchObject({
      status: 'pending',
      lastValue: 5000,
    });
    again.store.close();
  });

  it('with no rules picks up a rule another process creates within the poll', async () => {
    const { alerts, now, logged, runtime, dataDir } = setup();
    const rt = runtime();
    rt.start();
    const m = machine();
    for (let t = 1; t <= 5; t++) {
      now.t = t * S;
      rt.onSnapshot(m(t, 95));
    }
    const other = Store.open(dataDir);
    new AlertStore(other.db).upsertRule(
      normalizeRule({
        alert_name: 'elsewhere',
        metric_type: 'cpu',
        threshold_value: 40,
        evaluation_period: 30,
        notification_channels: ['log'],
      }),
      5 * S,
    );
    other.close();
    for (let t = 6; t <= 40; t++) {
      now.t = t * S;
      rt.onSnapshot(m(t, 95));
      // read on start (0 s) and every 5 s after: seen at 10 s
      if (t === 9) expect(alerts.getRule('elsewhere')?.state.status).toBe('inactive');
      if (t === 10) expect(alerts.getRule('elsewhere')?.state.status).toBe('pending');
    }
    await rt.dispatcher.idle();
    expect(alerts.getRule('elsewhere')?.state.status).toBe('firing');
    expect(logged.map((j) => j.event.kind)).toEqual(['firing']);
  });

  it('retries a failed webhook delivery when it falls due, with no new notification', async () => {
    hook = await webhookServer();
    hook.respond = 503;
    const { alerts, now, runtime, define } = setup();
    define({ notification_channels: [`webhook:${hook.url}`], auto_resolution: false });
    const rt = runtime({ webhook: webhookSender(2000) });
    rt.start();
    const m = machine();
    let t = 1;
    const until = async (last: number) => {
      for (; t <= last; t++) {
        now.t = t * S;
        rt.onSnapshot(m(t, 95));
        await rt.dispatcher.idle();
      }
    };
    await until(35); // fires at 31 s; the first attempt fails
    expect(hook.received).toHaveLength(1);
    const firedAt = alerts.events(1)[0]?.ts as number;
    hook.respond = 200;
    await until(Math.ceil((firedAt + backoffMs(1)) / S) - 1);
    expect(hook.received).toHaveLength(1);
    await until(t); // the tick at which the retry falls due
    expect(hook.received).toHaveLength(2);
    expect(alerts.events(1)).toHaveLength(1); // firing only: the cooldown has not elapsed
    expect(alerts.deliveries.of(1)[0]).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('fails a channel this process has no sender for at once, with the reason it is given', async () => {
    const { store, alerts, now, define } = setup();
    define({ notification_channels: ['log', 'mcp'], auto_resolution: false });
    const rt = new AlertRuntime(alerts, store.runs, {
      intervalMs: S,
      logger: silentLogger(),
      clock: () => now.t,
      senders: { log: () => Promise.resolve() },
      missingSender: (channel) => `no ${channel} client in this process`,
    });
    rt.start();
    const m = machine();
    for (let t = 1; t <= 35; t++) {
      now.t = t * S;
      rt.onSnapshot(m(t, 95));
    }
    await rt.dispatcher.idle();
    expect(alerts.deliveries.of(1).map((d) => [d.channel, d.status, d.last_error])).toEqual([
      ['log', 'sent', null],
      ['mcp', 'failed', 'no mcp client in this process'],
    ]);
  });

  it('never throws from the hook when the store fails', async () => {
    const { store, runtime, define } = setup();
    define({});
    const rt = runtime();
    rt.start();
    store.close();
    expect(() => rt.onSnapshot(machine()(1, 50))).not.toThrow();
    expect(() => rt.onSnapshot(machine()(2, 50))).not.toThrow();
    await rt.dispatcher.idle();
  });
});
