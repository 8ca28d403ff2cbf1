import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { RELAY_WAIT_MS } from '../alerts/channels/mcp-relay.js';
import type { DeliveryJob } from '../alerts/deliveries.js';
import type { Senders } from '../alerts/dispatcher.js';
import { normalizeRule } from '../alerts/rule.js';
import { silentLogger } from '../log.js';
import { BucketWriter } from '../store/bucket.js';
import { SeriesIds } from '../store/series.js';
import { openBackend, openRuntime } from './common.js';
import { startRecording, type Recording } from './record.js';

const DAY = 24 * 3600_000;
const floor = (t: number, step: number) => Math.floor(t / step) * step;

describe('startRecording', () => {
  it('applies the 1-minute and 1-hour retentions it is given', async () => {
    const now = Date.now();
    const oldMinute = floor(now - 3 * DAY, 60_000);
    const oldHour = floor(now - 5 * DAY, 3600_000);
    const kept = async (retention: { minuteRetentionMs?: number; hourRetentionMs?: number }) => {
      const rt = openRuntime(tempDir(), silentLogger());
      const db = rt.store.db;
      const id = new SeriesIds(db).id('cpu_percent', 'system');
      const writer = new BucketWriter(db);
      writer.merge('1m', id, oldMinute, [{ ts: oldMinute, value: 1 }]);
      writer.merge('1h', id, oldHour, [{ ts: oldHour, value: 1 }]);
      const recording = startRecording(rt, openBackend().backend, {
        intervalMs: 60_000,
        ...retention,
      });
      recording.recorder.housekeeping(now);
      await recording.stop();
      const has = (table: string, ts: number) =>
        db
          .prepare(`SELECT count(*) FROM ${table} WHERE series_id = ? AND ts = ?`)
          .pluck()
          .get(id, ts);
      const result = [has('rollup_1m', oldMinute), has('rollup_1h', oldHour)];
      rt.store.close();
      return result;
    };
    expect(await kept({})).toEqual([1, 1]); // defaults: 30 days and 2 years
    expect(await kept({ minuteRetentionMs: DAY, hourRetentionMs: 2 * DAY })).toEqual([0, 0]);
    expect(await kept({ minuteRetentionMs: 4 * DAY, hourRetentionMs: 2 * DAY })).toEqual([1, 0]);
  });
});

describe('startRecording: the mcp channel', () => {
  /** A recording with one rule notifying log and mcp; `notify` stores as its evaluator does. */
  function recording(senders?: Senders) {
    const rt = openRuntime(tempDir(), silentLogger());
    const rec: Recording = startRecording(rt, openBackend().backend, {
      intervalMs: 60_000,
      ...(senders ? { senders } : {}),
    });
    const store = rec.alerts.store;
    const { rule } = store.upsertRule(
      normalizeRule({
        alert_name: 'hot',
        metric_type: 'cpu',
        threshold_value: 40,
        notification_channels: ['log', 'mcp'],
      }),
      0,
    );
    const notify = (now: number) => {
      const n = { ruleId: rule.id, episode: 1, seq: 0, at: now, ts: now, value: 97 };
      store.save(
        [],
        [
          {
            notification: { ...n, kind: 'firing', dedupeKey: `${now}`, severity: 'medium' },
            message: '[medium] hot',
            channels: ['log', 'mcp'],
          },
        ],
        now,
      );
      const id = store.events(rule.id, 1)[0]?.id as number;
      return () => store.deliveries.of(id).find((d) => d.channel === 'mcp');
    };
    const close = async () => {
      await rec.stop();
      rt.store.close();
    };
    return { rec, notify, close };
  }

  it('without a sender for it (kmpm daemon), leaves it to relays and fails it once their wait is over', async () => {
    const { rec, notify, close } = recording();
    const fresh = notify(Date.now());
    const stale = notify(Date.now() - RELAY_WAIT_MS);
    await rec.alerts.dispatcher.kick();
    expect(fresh()).toMatchObject({ status: 'pending', attempts: 0, relayed_to: 0 });
    expect(stale()).toMatchObject({
      status: 'failed',
      attempts: 1,
      relayed_to: 0,
      last_error: expect.stringMatching(/^no MCP client connected to a `kmpm mcp` serving/),
    });
    await close();
  });

  it('with a sender (a recording kmpm mcp), sends it itself at once, as before', async () => {
    const sent: DeliveryJob[] = [];
    const { rec, notify, close } = recording({
      mcp: (job) => {
        sent.push(job);
        return Promise.resolve();
      },
    });
    const row = notify(Date.now());
    await rec.alerts.dispatcher.kick();
    expect(sent.map((j) => j.channel)).toEqual(['mcp']);
    expect(row()).toMatchObject({ status: 'sent', attempts: 1, relayed_to: null });
    await close();
  });
});
