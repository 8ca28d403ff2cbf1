import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/tmp.js';
import { missingSender } from '../../cli/record.js';
import { silentLogger } from '../../log.js';
import { openDatabase } from '../../store/db.js';
import type { DeliveryJob, DeliveryQueue } from '../deliveries.js';
import { DeliveryDispatcher } from '../dispatcher.js';
import { normalizeRule } from '../rule.js';
import { AlertStore } from '../store.js';
import { MCP_RELAY, McpRelay, RELAY_WAIT_MS, relayToClient } from './mcp-relay.js';

/** A recorder's store (leaving mcp to relays) and a relay's queue, on one database file. */
function setup(recorderOpts: ConstructorParameters<typeof AlertStore>[1] = { relay: MCP_RELAY }) {
  const file = path.join(tempDir(), 'kmpm.db');
  const recorder = new AlertStore(openDatabase(file), recorderOpts);
  const queue = new AlertStore(openDatabase(file)).deliveries;
  const rule = (name: string, channels: string[]) =>
    recorder.upsertRule(
      normalizeRule({
        alert_name: name,
        metric_type: 'cpu',
        threshold_value: 40,
        alert_severity: 'critical',
        notification_channels: channels,
      }),
      0,
    ).rule;
  const hot = rule('hot', ['log', 'mcp']);
  const quiet = rule('quiet', ['log']);
  let seq = 0;
  /** Stores a notification as the evaluator does (of 'hot' unless told); returns its id. */
  const notify = (now: number, r = hot) => {
    seq++;
    recorder.save(
      [],
      [
        {
          notification: {
            kind: 'repeat',
            ruleId: r.id,
            episode: 1,
            seq,
            dedupeKey: `${r.id}:1:repeat:${seq}`,
            at: now,
            ts: now,
            value: 97,
            severity: 'critical',
          },
          message: `[critical] ${r.spec.alert_name}: cpu_percent > 40 (#${seq})`,
          channels: r.spec.notification_channels,
        },
      ],
      now,
    );
    return recorder.events(r.id, 1)[0]?.id as number;
  };
  const mcpRow = (id: number) => recorder.deliveries.of(id).find((d) => d.channel === 'mcp');
  return { recorder, queue, notify, quiet, mcpRow };
}

/** A relay that collects what it sends. */
function collecting(queue: DeliveryQueue, batch?: number) {
  const sent: DeliveryJob[] = [];
  const relay = new McpRelay(
    queue,
    (job) => {
      sent.push(job);
      return Promise.resolve();
    },
    { logger: silentLogger(), clock: () => 5_000, ...(batch ? { batch } : {}) },
  );
  return { relay, sent, ids: () => sent.map((j) => j.event.id) };
}

/** Counts calls of the queue's methods and can make the next few of one throw. */
function instrumented(queue: DeliveryQueue) {
  const calls: Record<string, number> = {};
  const failNext: Record<string, number> = {};
  const proxy = new Proxy(queue, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        if ((failNext[prop] ?? 0) > 0) {
          failNext[prop]!--;
          throw new Error(`${prop}: database is locked`);
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { queue: proxy, calls, failNext };
}

describe('McpRelay', () => {
  it('starts after the newest stored notification: the history is not sent', async () => {
    const { queue, notify } = setup();
    notify(1_000);
    notify(2_000);
    const { relay, ids } = collecting(queue);
    expect(await relay.poll()).toBe(0);
    const id = notify(3_000);
    expect(await relay.poll()).toBe(1);
    expect(ids()).toEqual([id]);
  });

  it('sends each new notification with an mcp delivery once, across polls', async () => {
    const { queue, notify, quiet, mcpRow } = setup();
    const { relay, sent, ids } = collecting(queue);
    const a = notify(1_000);
    notify(1_500, quiet); // no mcp channel
    const b = notify(2_000);
    expect(await relay.poll()).toBe(2);
    expect(await relay.poll()).toBe(0);
    const c = notify(3_000);
    expect(await relay.poll()).toBe(1);
    expect(await relay.poll()).toBe(0);
    expect(ids()).toEqual([a, b, c]);
    expect(sent[0]).toMatchObject({
      channel: 'mcp',
      event: {
        kind: 'repeat',
        severity: 'critical',
        message: expect.stringMatching(/^\[critical\] hot:/),
      },
    });
    expect(mcpRow(a)).toMatchObject({ status: 'sent', relayed_to: 1, attempts: 0 });
  });

  it('costs one read of the newest event id per poll while nothing new is stored', async () => {
    const { queue: real, notify } = setup();
    notify(1_000);
    const { queue, calls } = instrumented(real);
    const { relay } = collecting(queue);
    for (let i = 0; i < 5; i++) await relay.poll();
    expect(calls).toEqual({ latestEventId: 6 }); // one at creation, one per poll
  });

  it('reads a backlog larger than a batch in order, each once', async () => {
    const { queue, notify } = setup();
    const { relay, ids } = collecting(queue, 2);
    const stored = [1, 2, 3, 4, 5].map((i) => notify(i * 1_000));
    let total = 0;
    for (let i = 0; i < 5; i++) total += await relay.poll();
    expect(total).toBe(5);
    expect(ids()).toEqual(stored);
  });

  it('survives failed reads: retries, then sends what was stored meanwhile, once', async () => {
    const { queue: real, notify } = setup();
    const { queue, failNext } = instrumented(real);
    failNext['latestEventId'] = 1; // the cursor cannot be read at creation
    const { relay, ids } = collecting(queue);
    expect(await relay.poll()).toBe(0); // takes the cursor now
    const a = notify(1_000);
    failNext['latestEventId'] = 2;
    expect(await relay.poll()).toBe(0);
    expect(await relay.poll()).toBe(0);
    failNext['channelSince'] = 1;
    expect(await relay.poll()).toBe(0);
    const b = notify(2_000);
    expect(await relay.poll()).toBe(2);
    expect(await relay.poll()).toBe(0);
    expect(ids()).toEqual([a, b]);
  });

  it('marks a delivery again at the next poll when marking failed, without sending it again', async () => {
    const { queue: real, notify, mcpRow } = setup();
    const { queue, failNext } = instrumented(real);
    const { relay, ids } = collecting(queue);
    const a = notify(1_000);
    failNext['markRelayed'] = 1;
    expect(await relay.poll()).toBe(1);
    expect(mcpRow(a)).toMatchObject({ status: 'pending', relayed_to: 0 });
    expect(await relay.poll()).toBe(0);
    expect(mcpRow(a)).toMatchObject({ status: 'sent', relayed_to: 1 });
    expect(ids()).toEqual([a]);
  });

  it('does not send a notification again when sending it failed, and does not mark it', async () => {
    const { queue, notify, mcpRow } = setup();
    let fail = true;
    const sent: number[] = [];
    const relay = new McpRelay(
      queue,
      (job) => {
        if (fail) return Promise.reject(new Error('Not connected'));
        sent.push(job.event.id);
        return Promise.resolve();
      },
      { logger: silentLogger() },
    );
    const a = notify(1_000);
    expect(await relay.poll()).toBe(0);
    fail = false;
    const b = notify(2_000);
    expect(await relay.poll()).toBe(1);
    expect(sent).toEqual([b]);
    expect(mcpRow(a)).toMatchObject({ status: 'pending', relayed_to: 0 });
  });

  it('leaves a delivery the recorder makes itself as it is, and still tells its client', async () => {
    const { queue, notify, mcpRow } = setup({}); // a recording kmpm mcp: no relay policy
    const { relay, ids } = collecting(queue);
    const a = notify(1_000);
    expect(await relay.poll()).toBe(1);
    expect(ids()).toEqual([a]);
    expect(mcpRow(a)).toMatchObject({ status: 'pending', relayed_to: null });
  });
});

/** A server with a relay to its client, linked in memory; the client keeps its log messages. */
async function relayed(queue: DeliveryQueue) {
  const server = new McpServer({ name: 't', version: '1' }, { capabilities: { logging: {} } });
  const relay = relayToClient(server, queue, { logger: silentLogger(), pollMs: 20 });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  const received: LoggingMessageNotification['params'][] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    received.push(n.params);
  });
  await client.connect(b);
  return { server, client, relay, received };
}

describe('relayToClient', () => {
  it('sends each notification to the client as the recording server does, once per client', async () => {
    const { queue, notify, mcpRow } = setup();
    const one = await relayed(queue);
    const two = await relayed(queue);
    const id = notify(Date.now());
    await expect.poll(() => [one.received.length, two.received.length]).toEqual([1, 1]);
    expect(one.received[0]).toEqual({
      level: 'critical',
      logger: 'kmpm.alerts',
      data: expect.objectContaining({
        source: 'km-performance-monitor',
        channel: 'mcp',
        id,
        kind: 'repeat',
        severity: 'critical',
        value: 97,
        message: expect.stringMatching(/^\[critical\] hot:/),
      }),
    });
    await expect.poll(() => mcpRow(id)?.relayed_to).toBe(2);
    await new Promise((r) => setTimeout(r, 100)); // several more polls
    expect([one.received.length, two.received.length]).toEqual([1, 1]);
    expect(mcpRow(id)).toMatchObject({ status: 'sent', relayed_to: 2 });
    await one.client.close();
    await two.client.close();
  });

  it('does not poll before the client has initialized, and stops when the connection closes', async () => {
    const { queue: real, notify } = setup();
    const { queue, calls } = instrumented(real);
    const server = new McpServer({ name: 't', version: '1' }, { capabilities: { logging: {} } });
    relayToClient(server, queue, { logger: silentLogger(), pollMs: 10 });
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual({ latestEventId: 1 }); // the cursor, taken at once
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    const client = new Client({ name: 'c', version: '1' });
    await client.connect(b);
    await expect.poll(() => calls['latestEventId']).toBeGreaterThan(2);
    await client.close();
    await new Promise((r) => setTimeout(r, 30));
    const after = calls['latestEventId'];
    notify(Date.now());
    await new Promise((r) => setTimeout(r, 50));
    expect(calls['latestEventId']).toBe(after);
    expect(calls['channelSince']).toBeUndefined();
  });
});

describe('with a recorder that has no MCP client (kmpm daemon)', () => {
  function daemon(queue: DeliveryQueue, now: { t: number }) {
    return new DeliveryDispatcher(
      queue,
      { log: () => Promise.resolve() },
      { logger: silentLogger(), clock: () => now.t, missing: missingSender },
    );
  }

  it('a notification a relay delivered is sent, and stays sent past the wait', async () => {
    const { recorder, queue, notify, mcpRow } = setup();
    const now = { t: 10_000 };
    const dispatcher = daemon(recorder.deliveries, now);
    const { relay } = collecting(queue);
    const id = notify(now.t);
    await dispatcher.kick();
    expect(mcpRow(id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await relay.poll()).toBe(1);
    now.t += RELAY_WAIT_MS;
    await dispatcher.kick();
    expect(recorder.deliveries.of(id).map((d) => [d.channel, d.status, d.relayed_to])).toEqual([
      ['log', 'sent', null],
      ['mcp', 'sent', 1],
    ]);
  });

  it('one no relay delivered fails once the wait is over, with the reason', async () => {
    const { recorder, notify, mcpRow } = setup();
    const now = { t: 10_000 };
    const dispatcher = daemon(recorder.deliveries, now);
    const id = notify(now.t);
    now.t += RELAY_WAIT_MS - 1;
    await dispatcher.kick();
    expect(mcpRow(id)).toMatchObject({ status: 'pending', attempts: 0, last_error: null });
    now.t += 1;
    await dispatcher.kick();
    expect(mcpRow(id)).toEqual({
      channel: 'mcp',
      status: 'failed',
      attempts: 1,
      relayed_to: 0,
      last_error: expect.stringMatching(
        /^no MCP client connected to a `kmpm mcp` serving this data directory received it within 30 s/,
      ),
    });
  });
});
