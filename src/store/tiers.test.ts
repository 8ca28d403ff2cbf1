import { describe, expect, it } from 'vitest';
import { writeSynthetic } from '../../test/helpers/history.js';
import { MACHINE } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import { pruneTier } from './retention.js';
import { mergeIntoBucket } from './rollup.js';
import { SeriesIds } from './series.js';
import { maintainTiers } from './tiers.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 0, 1);

describe('tier retention', () => {
  it('prunes each tier by its own cutoff, series by series, in batches', () => {
    const store = Store.open(tempDir());
    const ids = new SeriesIds(store.db);
    for (const entity of ['system', 'process:a', 'process:b']) {
      const id = ids.id('process_cpu_percent', entity === 'system' ? 'process:x' : entity);
      for (let m = 0; m < 10; m++)
        mergeIntoBucket(store.db, '1m', id, T0 + m * MIN, [{ ts: T0 + m * MIN, value: m }]);
      for (let h = 0; h < 3; h++)
        mergeIntoBucket(store.db, '1h', id, T0 + h * HOUR, [{ ts: T0 + h * HOUR, value: h }]);
    }
    const count = (t: string) => store.db.prepare(`SELECT count(*) FROM rollup_${t}`).pluck().get();
    expect(pruneTier(store.db, '1m', T0 + 4 * MIN, 5)).toEqual({ deleted: 5, more: true });
    expect(pruneTier(store.db, '1m', T0 + 4 * MIN, 100)).toEqual({ deleted: 7, more: false });
    expect(count('1m')).toBe(18);
    expect(count('1h')).toBe(9);
    expect(pruneTier(store.db, '1h', T0 + HOUR).deleted).toBe(3);
    expect(store.db.prepare('SELECT min(ts) FROM rollup_1m').pluck().get()).toBe(T0 + 4 * MIN);
    store.close();
  });

  it('maintainTiers rolls up and applies the configured retention of each tier', () => {
    const store = Store.open(tempDir());
    writeSynthetic(store, { start: T0, seconds: 2 * 3600, cpu: () => 40 });
    const first = maintainTiers(store.db, { now: T0 + 2 * HOUR + MIN, machine: MACHINE });
    expect(first).toMatchObject({ minutes: 30, hours: 0, pruned: 0 });
    for (let i = 0; i < 2; i++)
      maintainTiers(store.db, { now: T0 + 2 * HOUR + MIN, machine: MACHINE });
    const later = maintainTiers(store.db, {
      now: T0 + 2 * HOUR + MIN,
      machine: MACHINE,
      minuteRetentionMs: HOUR,
      hourRetentionMs: 90 * MIN,
    });
    expect(later).toMatchObject({ minutes: 30, hours: 1 });
    expect(later.pruned).toBeGreaterThan(0);
    const oldest = (t: string) => store.db.prepare(`SELECT min(ts) FROM rollup_${t}`).pluck().get();
    expect(oldest('1m')).toBe(T0 + HOUR + MIN);
    expect(oldest('1h')).toBe(T0 + HOUR);
    // defaults keep 30 days of minutes and 2 years of hours
    const quiet = maintainTiers(store.db, { now: T0 + 29 * DAY, machine: MACHINE });
    expect(quiet.pruned).toBe(0);
    store.close();
  });
});
