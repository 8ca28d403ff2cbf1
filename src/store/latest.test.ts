import { describe, expect, it } from 'vitest';
import { snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import { latestSystemValues } from './latest.js';

const cpu = (user: number, idle: number) => ({
  cpu_user: user,
  cpu_nice: 0,
  cpu_system: 0,
  cpu_idle: idle,
  cpu_iowait: 0,
  cpu_irq: 0,
  cpu_softirq: 0,
  cpu_steal: 0,
});

describe('latestSystemValues', () => {
  it('derives the newest pair of stored samples, and says why there is none', () => {
    const store = Store.open(tempDir());
    try {
      const writer = store.createWriter();
      expect(latestSystemValues(store.query)).toEqual({
        ts: null,
        reason: 'no samples stored yet',
      });
      writer.write(snap(1000, cpu(0, 0)));
      expect(latestSystemValues(store.query)).toEqual({
        ts: null,
        reason: 'only one sample stored so far',
      });
      writer.write(snap(2000, cpu(10, 90)));
      writer.write(snap(3000, cpu(50, 150)));
      const latest = latestSystemValues(store.query);
      expect(latest.ts).toBe(3000);
      expect(latest.ts !== null && latest.values.cpu_percent).toBe(40);
    } finally {
      store.close();
    }
  });
});
