import { describe, expect, it } from 'vitest';
import { cpuCounters, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import { latestSystemValues } from './latest.js';

describe('latestSystemValues', () => {
  it('derives the newest pair of stored samples, and says why there is none', () => {
    const store = Store.open(tempDir());
    try {
      const writer = store.createWriter();
      expect(latestSystemValues(store.query)).toEqual({
        ts: null,
        reason: 'no samples stored yet',
      });
      writer.write(snap(1000, cpuCounters(0, 0)));
      expect(latestSystemValues(store.query)).toEqual({
        ts: null,
        reason: 'only one sample stored so far',
      });
      writer.write(snap(2000, cpuCounters(10, 90)));
      writer.write(snap(3000, cpuCounters(50, 150)));
      const latest = latestSystemValues(store.query);
      expect(latest.ts).toBe(3000);
      expect(latest.ts !== null && latest.values.cpu_percent).toBe(40);
    } finally {
      store.close();
    }
  });
});
