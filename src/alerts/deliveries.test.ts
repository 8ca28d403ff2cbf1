import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { openDatabase } from '../store/db.js';
import type { RelayPolicy } from './deliveries.js';
import { normalizeRule } from './rule.js';
import { AlertStore } from './store.js';

const RELAY: RelayPolicy = { channels: ['mcp'], waitMs: 30_000 };

/** Two stores on one database file: the recorder's (leaving mcp to relays) and a relay's. */
function open() {
  const file = path.join(tempDir(), 'kmpm.db');
  const recorder = new AlertStore(openDatabase(file), { relay: RELAY });
  const reader = new AlertStore(openDatabase(file));
  const { rule } = recorder.upsertRule(
    normalizeRule({
      alert_name: 'hot',
      metric_type: 'cpu',
      threshold_value: 40,
      notification_channels: ['log', 'mcp'],
    }),
    0,
  );
  let seq = 0;
  /** Stores one notification as the evaluator does; returns its event id. */
  const store = (at: number, now = at, channels = ['log', 'mcp'], into = recorder) => {
    seq++;
    into.save(
      [],
      [
        {
          notification: {
            kind: 'repeat',
            ruleId: rule.id,
            episode: 1,
            seq,
            dedupeKey: `${rule.id}:1:repeat:${seq}`,
            at,
            ts: at,
            value: 97,
            severity: 'high',
          },
          message: `[high] hot #${seq}`,
          channels,
        },
      ],
      now,
    );
    return into.events(rule.id, 1)[0]?.id as number;
  };
  return { recorder, reader, store };
}

describe('deliveries left to relays', () => {
  it('a relayed channel falls due after the wait, the others at once, and is marked as relayable', () => {
    const { recorder, store } = open();
    const id = store(1_000);
    expect(recorder.deliveries.pending(1_000).map((j) => j.channel)).toEqual(['log']);
    expect(recorder.deliveries.pending(30_999).map((j) => j.channel)).toEqual(['log']);
    expect(recorder.deliveries.pending(31_000).map((j) => j.channel)).toEqual(['log', 'mcp']);
    expect(recorder.deliveries.nextDue()).toBe(1_000);
    expect(recorder.deliveries.of(id).map((d) => [d.channel, d.relayed_to])).toEqual([
      ['log', null],
      ['mcp', 0],
    ]);
  });

  it('waits from when the notification is stored when that is later than its time', () => {
    const { recorder, store } = open();
    store(1_000, 50_000); // a reminder that fell due while the recorder was down
    expect(recorder.deliveries.pending(79_999).map((j) => j.channel)).toEqual(['log']);
    expect(recorder.deliveries.pending(80_000).map((j) => j.channel)).toEqual(['log', 'mcp']);
  });

  it('each relay that delivered marks it sent once more; it is no longer due', () => {
    const { recorder, reader, store } = open();
    const id = store(1_000);
    expect(reader.deliveries.markRelayed(id, 'mcp', 1_500)).toBe(true);
    expect(reader.deliveries.markRelayed(id, 'mcp', 1_600)).toBe(true);
    expect(recorder.deliveries.of(id).find((d) => d.channel === 'mcp')).toEqual({
      channel: 'mcp',
      status: 'sent',
      attempts: 0,
      last_error: null,
      relayed_to: 2,
    });
    expect(recorder.deliveries.pending(Infinity).map((j) => j.channel)).toEqual(['log']);
  });

  it('a relay that delivered after the recorder gave up makes the row tell the truth', () => {
    const { recorder, reader, store } = open();
    const id = store(1_000);
    recorder.deliveries.markFailed(id, 'mcp', 'no MCP client', 31_000, true);
    expect(reader.deliveries.markRelayed(id, 'mcp', 31_500)).toBe(true);
    expect(recorder.deliveries.of(id).find((d) => d.channel === 'mcp')).toMatchObject({
      status: 'sent',
      attempts: 1,
      last_error: null,
      relayed_to: 1,
    });
  });

  it('a delivery the recorder makes itself is never marked by a relay', () => {
    const { reader, store } = open();
    const id = store(1_000, 1_000, ['mcp'], reader); // a recorder with its own MCP client
    expect(reader.deliveries.pending(1_000).map((j) => j.channel)).toEqual(['mcp']);
    expect(reader.deliveries.markRelayed(id, 'mcp', 1_500)).toBe(false);
    expect(reader.deliveries.of(id)).toEqual([
      { channel: 'mcp', status: 'pending', attempts: 0, last_error: null, relayed_to: null },
    ]);
  });

  it('reads the newest event id, and the deliveries to a channel in an id range', () => {
    const { reader, store } = open();
    expect(reader.deliveries.latestEventId()).toBe(0);
    const a = store(1_000);
    store(2_000, 2_000, ['log']);
    const c = store(3_000);
    const d = store(4_000);
    expect(reader.deliveries.latestEventId()).toBe(d);
    const ids = (after: number, upTo: number, limit?: number) =>
      reader.deliveries.channelSince('mcp', after, upTo, limit).map((j) => j.event.id);
    expect(ids(0, d)).toEqual([a, c, d]);
    expect(ids(a, c)).toEqual([c]); // the one between has no mcp delivery
    expect(ids(0, d, 2)).toEqual([a, c]);
    expect(reader.deliveries.channelSince('mcp', a, c)[0]).toMatchObject({
      channel: 'mcp',
      attempts: 0,
      event: { id: c, kind: 'repeat', severity: 'high', message: '[high] hot #3' },
    });
  });
});
