import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { silentLogger } from '../log.js';
import { BucketWriter } from '../store/bucket.js';
import { SeriesIds } from '../store/series.js';
import { openBackend, openRuntime } from './common.js';
import { startRecording } from './record.js';

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
