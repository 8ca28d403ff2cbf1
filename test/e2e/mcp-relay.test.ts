/**
 * The `mcp` channel while `kmpm daemon` records: the `kmpm mcp` servers reading its data
 * relay its notifications to their clients. Real processes and real clients over stdio; the
 * notifications are stored into the daemon's database as its evaluator stores them, so the
 * test need not hold a real alert for 30 s.
 */
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { MCP_RELAY, RELAY_WAIT_MS } from '../../src/alerts/channels/mcp-relay.js';
import { normalizeRule, type AlertRule } from '../../src/alerts/rule.js';
import { AlertStore } from '../../src/alerts/store.js';
import { DB_FILE } from '../../src/config/paths.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { exited, startKmpm, waitFor } from '../helpers/cli.js';
import { connectStdio } from '../helpers/mcp-stdio.js';
import { tempDir } from '../helpers/tmp.js';

const children: ChildProcess[] = [];
const clients: Client[] = [];
const dbs: Db[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child);
  }
  for (const db of dbs.splice(0)) db.close();
});

/** A client of a `kmpm mcp` that reads the daemon's data. */
async function connect(dataDir: string) {
  const conn = await connectStdio(dataDir, 'e2e-relay');
  clients.push(conn.client);
  await waitFor(
    () => /already records here/.test(conn.stderr()),
    10_000,
    'the server reading only',
  );
  return conn;
}

/** The daemon's database as its evaluator writes it: mcp deliveries are left to relays. */
function recorderStore(dir: string) {
  const db = openDatabase(path.join(dir, DB_FILE));
  dbs.push(db);
  const store = new AlertStore(db, { relay: MCP_RELAY });
  const rule = (name: string, channels: string[]) =>
    store.upsertRule(
      normalizeRule({
        alert_name: name,
        // memory used below 0 % never holds: the daemon itself never fires these rules
        metric_type: 'memory',
        threshold_value: 0,
        threshold_operator: 'lt',
        alert_severity: 'high',
        notification_channels: channels,
      }),
      Date.now(),
    ).rule;
  let seq = 0;
  /** Stores a firing notification as the evaluator does at `now`; returns its event id. */
  const notify = (r: AlertRule, now = Date.now()) => {
    seq++;
    const dedupeKey = `${r.id}:${seq}:firing:0`;
    store.save(
      [],
      [
        {
          notification: {
            kind: 'firing',
            ruleId: r.id,
            episode: seq,
            seq: 0,
            dedupeKey,
            at: now,
            ts: now,
            value: 12.5,
            severity: 'high',
          },
          message: `[high] ${r.spec.alert_name}: memory_used_percent < 0 on system (12.5)`,
          channels: r.spec.notification_channels,
        },
      ],
      now,
    );
    return { id: store.events(r.id, 1)[0]?.id as number, dedupeKey };
  };
  const mcpRow = (id: number) => store.deliveries.of(id).find((d) => d.channel === 'mcp');
  return { rule, notify, mcpRow };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mcp notifications while kmpm daemon records (real daemon, real kmpm mcp clients)', () => {
  it('every connected client gets each one once within ~2 s; the delivery says sent, to how many; one nobody got fails', async () => {
    const dir = tempDir();
    const db = recorderStore(dir);
    const relayed = db.rule('relayed', ['log', 'mcp']);
    const logOnly = db.rule('log only', ['log']);
    // Stored while no client was connected, and its relay wait is over: the daemon fails it.
    const missed = db.notify(relayed, Date.now() - RELAY_WAIT_MS - 1_000);

    const daemon = startKmpm(['daemon', '--interval', '0.5', '--data-dir', dir]);
    children.push(daemon);
    await waitFor(() => /"recording"/.test(daemon.stderrText()), 15_000, 'the daemon');
    await waitFor(
      () => db.mcpRow(missed.id)?.status === 'failed',
      10_000,
      'the missed one failing',
    );
    expect(db.mcpRow(missed.id)).toEqual({
      channel: 'mcp',
      status: 'failed',
      attempts: 1,
      relayed_to: 0,
      last_error: expect.stringMatching(
        /^no MCP client connected to a `kmpm mcp` serving this data directory received it within 30 s/,
      ),
    });

    const a = await connect(dir);
    const b = await connect(dir);
    const first = db.notify(relayed);
    db.notify(logOnly);
    // polled every second: well within the wait unless the relay is broken
    await waitFor(() => a.alerts.length > 0 && b.alerts.length > 0, 5_000, 'both clients');
    for (const c of [a, b]) {
      expect(c.alerts).toEqual([
        {
          level: 'error', // severity high
          logger: 'kmpm.alerts',
          data: expect.objectContaining({
            source: 'km-performance-monitor',
            channel: 'mcp',
            id: first.id,
            dedupe_key: first.dedupeKey,
            kind: 'firing',
            severity: 'high',
            message: expect.stringMatching(/^\[high\] relayed: memory_used_percent < 0/),
          }),
        },
      ]);
    }
    await waitFor(() => db.mcpRow(first.id)?.relayed_to === 2, 5_000, 'both relays marking');
    expect(db.mcpRow(first.id)).toEqual({
      channel: 'mcp',
      status: 'sent',
      attempts: 0,
      last_error: null,
      relayed_to: 2,
    });

    // A client that leaves hears no more; the one that stays hears the next one, once.
    await b.client.close();
    const second = db.notify(relayed);
    await waitFor(() => a.alerts.length === 2, 5_000, 'the second notification');
    await pause(3_000); // several polls of the relay and ticks of the daemon
    expect(a.keys()).toEqual([first.dedupeKey, second.dedupeKey]);
    expect(b.keys()).toEqual([first.dedupeKey]);
    expect(db.mcpRow(second.id)).toMatchObject({ status: 'sent', relayed_to: 1 });
    expect(db.mcpRow(missed.id)).toMatchObject({ status: 'failed', relayed_to: 0 });
    expect([...a.protocolErrors, ...b.protocolErrors]).toEqual([]);

    // SIGINT stops a relaying server cleanly and at once
    const pid = a.transport.pid as number;
    process.kill(pid, 'SIGINT');
    await waitFor(() => !alive(pid), 5_000, 'the server to exit');
    expect(a.stderr()).not.toMatch(/"level":[56]\d/); // no error or fatal logged
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
