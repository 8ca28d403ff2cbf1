import { describe, expect, it } from 'vitest';
import { MACHINE, proc, snap } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import { IO_REPEAT_ROWS } from './process-io.js';
import { pruneRaw } from './retention.js';
import { processUsage } from './usage.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const BOOT = T0 / 1000 - 100;
const TICKS = 3 * IO_REPEAT_ROWS;

/** The I/O counters at tick i: they change at ticks 3, 4 and 40 only (as read every 10th). */
const readAt = (i: number) => (i < 3 ? 0 : i < 4 ? 4096 : i < 40 ? 8192 : 1 << 20);
const writeAt = (i: number) => (i < 40 ? 12_288 : 2 ** 33);

/** 'busy' changes its CPU time every tick, its I/O seldom; 'other' is another user's. */
function record(store: Store): void {
  const w = store.createWriter();
  for (let i = 0; i < TICKS; i++) {
    w.write(
      snap(
        T0 + i * 1000,
        { boot_time: BOOT },
        {
          processes: [
            proc(1, { comm: 'busy', utime: i, read_bytes: readAt(i), write_bytes: writeAt(i) }),
            proc(2, { comm: 'other', utime: i }),
          ],
        },
      ),
    );
  }
}

const ioAt = (store: Store, i: number) =>
  store.query
    .processStatesAt(T0, T0 + TICKS * 1000, T0 + i * 1000)
    .map((p) => [p.comm, p.read_bytes, p.write_bytes]);

const expected = (i: number) => [
  ['busy', readAt(i), writeAt(i)],
  ['other', null, null],
];

describe('process I/O counters stored on change', () => {
  it('are stored only where they changed, and every IO_REPEAT_ROWS-th row at least', () => {
    const store = Store.open(tempDir());
    record(store);
    const stored = store.db
      .prepare(
        `SELECT r.ts FROM process_raw r JOIN process p ON p.id = r.process_id
         WHERE p.comm = ? AND r.read_bytes IS NOT NULL ORDER BY r.ts`,
      )
      .pluck();
    const ticks = (stored.all('busy') as number[]).map((ts) => (ts - T0) / 1000);
    expect(ticks).toEqual([0, 3, 4, 4 + IO_REPEAT_ROWS, 40, 40 + IO_REPEAT_ROWS]);
    expect(stored.all('other')).toEqual([]);
    expect(store.db.prepare('SELECT count(*) FROM process_raw').pluck().get()).toBe(2 * TICKS);
    store.close();
  });

  it('read back at every tick as they were read, carried forward from the row that has them', () => {
    const store = Store.open(tempDir());
    record(store);
    for (let i = 0; i < TICKS; i++) expect(ioAt(store, i)).toEqual(expected(i));
    const usage = processUsage(store.db, T0 + 10_000, T0 + 60_000, MACHINE.clockTicks);
    expect(usage.map((u) => [u.comm, u.io_bytes])).toEqual([
      ['busy', readAt(60) + writeAt(60) - readAt(10) - writeAt(10)],
      ['other', null],
    ]);
    store.close();
  });

  it('are stored again after a write that rolled back', () => {
    const store = Store.open(tempDir());
    const w = store.createWriter();
    const busy = (i: number) =>
      snap(
        T0 + i * 1000,
        { boot_time: BOOT },
        { processes: [proc(1, { utime: i, read_bytes: 7, write_bytes: 9 })] },
      );
    w.write(busy(0));
    store.db.exec(
      "CREATE TRIGGER broken BEFORE INSERT ON process_raw BEGIN SELECT RAISE(ABORT, 'full'); END",
    );
    expect(() => w.write(busy(1))).toThrow(/full/);
    store.db.exec('DROP TRIGGER broken');
    store.db.prepare('DELETE FROM process_raw').run(); // as if retention had taken the first
    w.write(busy(2));
    expect(store.db.prepare('SELECT read_bytes, write_bytes FROM process_raw').raw().all()).toEqual(
      [[7, 9]],
    );
    expect(store.db.prepare('SELECT exited_at FROM process').pluck().all()).toEqual([null]);
    store.close();
  });

  it('read back the same after retention removed the row that stored them', () => {
    for (const cutoff of [2, 20, 37, 41, 50]) {
      const store = Store.open(tempDir());
      record(store);
      pruneRaw(store.db, T0 + cutoff * 1000);
      expect(
        store.db.prepare('SELECT min(ts) FROM process_raw').pluck().get(),
        `cutoff ${cutoff}`,
      ).toBe(T0 + cutoff * 1000);
      for (let i = cutoff; i < TICKS; i++) expect(ioAt(store, i), `tick ${i}`).toEqual(expected(i));
      const usage = processUsage(store.db, T0 + cutoff * 1000, T0 + 90_000, MACHINE.clockTicks);
      expect(usage.find((u) => u.comm === 'busy')?.io_bytes).toBe(
        readAt(90) + writeAt(90) - readAt(cutoff) - writeAt(cutoff),
      );
      store.close();
    }
  });
});
