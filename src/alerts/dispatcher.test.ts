import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { webhookServer, type WebhookServer } from '../../test/helpers/webhook.js';
import { silentLogger } from '../log.js';
import { openDatabase } from '../store/db.js';
import { logSender, webhookSender } from './channels/senders.js';
import { backoffMs } from './deliveries.js';
import {
  channelKind,
  DeliveryDispatcher,
  RESCAN_MS,
  UndeliverableError,
  type Senders,
} from './dispatcher.js';
import { normalizeRule } from './rule.js';
import { AlertStore } from './store.js';

let hook: WebhookServer | null = null;
afterEach(async () => {
  await hook?.close();
  hook = null;
});

/** A store with one firing event queued for `channels`. */
function withEvent(channels: string[]) {
  const store = new AlertStore(openDatabase(path.join(tempDir(), 'kmpm.db')));
  const { rule } = store.upsertRule(
    normalizeRule({
      alert_name: 'hot',
      metric_type: 'cpu',
      threshold_value: 40,
      alert_severity: 'high',
      notification_channels: channels,
    }),
    0,
  );
  store.save(
    [],
    [{ notification: firing(rule.id), message: '[high] hot: cpu_percent > 40', channels }],
    1000,
  );
  return store;
}

function firing(ruleId: number) {
  return {
    kind: 'firing' as const,
    ruleId,
    episode: 1,
    seq: 0,
    dedupeKey: `${ruleId}:1:firing:0`,
    at: 1000,
    ts: 900,
    value: 97,
    severity: 'high' as const,
  };
}

function dispatcher(store: AlertStore, senders: Senders, now = { t: 1000 }) {
  return new DeliveryDispatcher(store.deliveries, senders, {
    logger: silentLogger(),
    clock: () => now.t,
  });
}

describe('DeliveryDispatcher', () => {
  it('splits channel kinds', () => {
    expect(channelKind('webhook:http://x/')).toBe('webhook');
    expect(channelKind('log')).toBe('log');
  });

  it('logs events at their severity and POSTs them to webhooks, once', async () => {
    hook = await webhookServer();
    const store = withEvent(['log', `webhook:${hook.url}`]);
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          cb();
        },
      }),
    );
    const d = dispatcher(store, { log: logSender(logger), webhook: webhookSender(2000) });
    const first = d.kick();
    expect(d.kick()).toBe(first); // a second kick joins the running pass
    await first;
    await d.kick();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]).toMatchObject({
      source: 'km-performance-monitor',
      kind: 'firing',
      severity: 'high',
      value: 97,
      message: '[high] hot: cpu_percent > 40',
      dedupe_key: '1:1:firing:0',
    });
    expect((hook.received[0]?.['_headers'] as Record<string, string>)['idempotency-key']).toBe(
      '1:1:firing:0',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: '[high] hot: cpu_percent > 40' });
    expect(store.deliveries.of(1).map((x) => [x.channel.split(':')[0], x.status])).toEqual([
      ['log', 'sent'],
      ['webhook', 'sent'],
    ]);
  });

  it('retries a failing webhook after the backoff, and a dead one times out', async () => {
    hook = await webhookServer();
    hook.respond = 500;
    const store = withEvent([`webhook:${hook.url}`]);
    const now = { t: 1000 };
    const d = dispatcher(store, { webhook: webhookSender(300) }, now);
    await d.kick();
    expect(store.deliveries.of(1)[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_error: 'webhook answered HTTP 500',
    });
    await d.kick(); // not due yet
    expect(hook.received).toHaveLength(1);

    hook.respond = 'hang';
    now.t += backoffMs(1);
    const started = Date.now();
    await d.kick();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(store.deliveries.of(1)[0]).toMatchObject({ status: 'pending', attempts: 2 });
    expect(store.deliveries.of(1)[0]?.last_error).toMatch(/abort|timeout/i);

    hook.respond = 200;
    now.t += backoffMs(2);
    await d.kick();
    expect(store.deliveries.of(1)[0]).toMatchObject({ status: 'sent', attempts: 3 });
    expect(hook.received).toHaveLength(3);
  });

  it('gives up on a webhook at once when it answers 4xx, but retries 408 and 429', async () => {
    hook = await webhookServer();
    const outcome = async (status: number) => {
      hook!.respond = status;
      const store = withEvent([`webhook:${hook!.url}`]);
      await dispatcher(store, { webhook: webhookSender(2000) }).kick();
      const d = store.deliveries.of(1)[0];
      return [status, d?.status, d?.attempts, d?.last_error];
    };
    expect(await outcome(404)).toEqual([404, 'failed', 1, 'webhook answered HTTP 404']);
    expect(await outcome(401)).toEqual([401, 'failed', 1, 'webhook answered HTTP 401']);
    expect(await outcome(429)).toEqual([429, 'pending', 1, 'webhook answered HTTP 429']);
    expect(await outcome(408)).toEqual([408, 'pending', 1, 'webhook answered HTTP 408']);
    expect(await outcome(503)).toEqual([503, 'pending', 1, 'webhook answered HTTP 503']);
  });

  it('fails a channel with no sender in this process for good at once, saying why', async () => {
    const store = withEvent(['mcp']);
    await dispatcher(store, {}).kick();
    expect(store.deliveries.of(1)[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: "channel 'mcp' cannot be delivered by this process",
    });
    const other = withEvent(['mcp', 'log']);
    const d = new DeliveryDispatcher(
      other.deliveries,
      { log: () => Promise.resolve() },
      { logger: silentLogger(), clock: () => 1000, missing: (c) => `no ${c} client here` },
    );
    await d.kick();
    expect(other.deliveries.of(1).map((x) => [x.channel, x.status, x.last_error])).toEqual([
      ['log', 'sent', null],
      ['mcp', 'failed', 'no mcp client here'],
    ]);
  });

  it('fails an UndeliverableError for good, and retries any other error', async () => {
    const store = withEvent(['desktop', 'log']);
    await dispatcher(store, {
      desktop: () => Promise.reject(new UndeliverableError('notify-send is not installed')),
      log: () => Promise.reject(new Error('disk full')),
    }).kick();
    expect(store.deliveries.of(1).map((x) => [x.channel, x.status, x.attempts])).toEqual([
      ['desktop', 'failed', 1],
      ['log', 'pending', 1],
    ]);
  });

  it('reads the outbox on a tick only when notifications were queued, a retry is due, or to rescan', async () => {
    hook = await webhookServer();
    hook.respond = 500;
    const store = withEvent([`webhook:${hook.url}`]);
    const reads = vi.spyOn(store.deliveries, 'pending');
    const now = { t: 1000 };
    const d = dispatcher(store, { webhook: webhookSender(2000) }, now);
    const tick = async (queued = false) => {
      d.onTick(queued);
      await d.idle();
    };
    await tick(); // first tick: looks
    expect([reads.mock.calls.length, hook.received.length]).toEqual([1, 1]);
    for (let i = 0; i < 20; i++) {
      now.t += 1000;
      await tick();
    }
    expect(reads).toHaveBeenCalledTimes(1);
    await tick(true); // this tick queued a notification
    expect(reads).toHaveBeenCalledTimes(2);
    expect(hook.received).toHaveLength(1); // and the retry is not due yet

    hook.respond = 200;
    now.t = 1000 + backoffMs(1) - 1;
    await tick();
    expect(reads).toHaveBeenCalledTimes(2);
    now.t += 1;
    await tick(); // the retry is due
    expect(reads).toHaveBeenCalledTimes(3);
    expect(store.deliveries.of(1)[0]).toMatchObject({ status: 'sent', attempts: 2 });

    // nothing pending: only the periodic rescan reads, and it finds what another writer queued
    const start = now.t;
    const writer = new AlertStore(openDatabase(store.db.name));
    const n = { ...firing(1), episode: 2, dedupeKey: '1:2:firing:0', at: start };
    writer.save(
      [],
      [{ notification: n, message: 'again', channels: [`webhook:${hook.url}`] }],
      start,
    );
    writer.db.close();
    for (now.t = start + 1000; now.t < start + RESCAN_MS; now.t += 1000) await tick();
    expect(reads).toHaveBeenCalledTimes(3);
    now.t = start + RESCAN_MS;
    await tick();
    expect(reads).toHaveBeenCalledTimes(4);
    expect(hook.received.map((r) => r['message'])).toEqual([
      '[high] hot: cpu_percent > 40',
      '[high] hot: cpu_percent > 40',
      'again',
    ]);
    // the clock going back also makes it look
    now.t -= 10_000;
    await tick();
    expect(reads).toHaveBeenCalledTimes(5);
  });

  it('a tick during a running pass joins it only when it queued something', async () => {
    hook = await webhookServer();
    hook.respond = 'hang';
    const store = withEvent([`webhook:${hook.url}`]);
    const reads = vi.spyOn(store.deliveries, 'pending');
    const d = dispatcher(store, { webhook: webhookSender(300) });
    d.onTick(false);
    d.onTick(false);
    expect(reads).toHaveBeenCalledTimes(1);
    d.onTick(true);
    await d.idle();
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('looks again on the next tick when reading the outbox failed', async () => {
    const store = withEvent(['log']);
    const reads = vi.spyOn(store.deliveries, 'pending').mockImplementationOnce(() => {
      throw new Error('disk I/O error');
    });
    const d = dispatcher(store, { log: () => Promise.resolve() });
    d.onTick(false);
    await d.idle();
    expect(store.deliveries.of(1)[0]?.status).toBe('pending');
    d.onTick(false);
    await d.idle();
    expect(reads).toHaveBeenCalledTimes(2);
    expect(store.deliveries.of(1)[0]?.status).toBe('sent');
  });
});
