import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { emptySystem } from '../collect/collector.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { DB_FILE } from '../config/paths.js';
import { SYSTEM_FIELDS, type SystemCounters } from '../types.js';
import { Store } from './index.js';
import { readRawColumns } from './raw-columns.js';
import { MIGRATIONS, migrate } from './schema.js';

/** Rows as stored in system_raw columns before migration 7 (averages in hundredths). */
const STORED: Record<number, Partial<SystemCounters>> = {
  1000: {
    cpu_user: 123_456_789_012,
    cpu_idle: 2 ** 31 + 7,
    ctxt: 52_185_701,
    boot_time: 1_795_661_185,
    load1: 237,
    load15: 0,
    psi_io_some_avg10: 9999,
    psi_io_some_total_us: 974_683_661,
    mem_total_bytes: 25_276_026_880,
    swap_total_bytes: 0,
    tcp_out_segs: 90_008,
  },
  2000: { cpu_user: 5, load5: 7 },
  3000: {},
};
/** core_raw rows: [ts, core, user, nice, system, idle, iowait, irq, softirq, steal]. */
const CORES: (number | null)[][] = [
  [1000, 0, 745_774, 0, 219_639, 1_169_715, 23_177, 0, 13_724, 0],
  [1000, 1, 867_642, 0, 269_601, 932_213, 77_865, 0, 21_959, 2 ** 40],
  [1500, 0, 1, 1, 1, 1, 1, 1, 1, 1], // no system row at 1500: never read back
  [2000, 0, 9, 8, 7, 6, 5, 4, 3, null],
  [2000, 1, 1, 2, 3, 4, 5, 6, 7, 8],
];
const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** What the query layer read back from these rows before migration 7. */
function systemAsRead(ts: number): SystemCounters {
  const system = emptySystem();
  Object.assign(system, STORED[ts]);
  for (const f of ['load1', 'load5', 'load15', 'psi_io_some_avg10'] as const) {
    const v = system[f];
    if (v !== null) system[f] = v / 100;
  }
  return system;
}
const coresAsRead = (ts: number) =>
  CORES.filter((r) => r[0] === ts).map((r) =>
    Object.fromEntries(MODES.map((m, i) => [m, r[i + 2]])),
  );

describe('migration 7: system and core counters packed into one blob per tick', () => {
  it('converts every stored value, NULLs and hundredths included, and drops core_raw', () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, DB_FILE));
    migrate(db, 6);
    for (const [ts, values] of Object.entries(STORED)) {
      const fields = Object.keys(values);
      db.prepare(
        `INSERT INTO system_raw (ts${fields.map((f) => `, ${f}`).join('')})
         VALUES (?${', ?'.repeat(fields.length)})`,
      ).run(Number(ts), ...Object.values(values));
    }
    const core = db.prepare(`INSERT INTO core_raw VALUES (${new Array(10).fill('?').join(', ')})`);
    for (const row of CORES) core.run(...row);
    db.close();

    const store = Store.open(dir); // migrates
    expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(
      store.db
        .prepare("SELECT name FROM sqlite_schema WHERE name LIKE '%_raw' ORDER BY 1")
        .pluck()
        .all(),
    ).toEqual(['disk_raw', 'net_raw', 'process_raw', 'system_raw']);
    const read = store.query.systemSnapshots(0, 5000);
    expect(read.map((s) => s.ts)).toEqual([1000, 2000, 3000]);
    for (const s of read) {
      expect(s.system, `system at ${s.ts}`).toEqual(systemAsRead(s.ts));
      expect(s.cores, `cores at ${s.ts}`).toEqual(coresAsRead(s.ts));
    }
    const columns = readRawColumns(store.db, 0, 5000, { fields: [...SYSTEM_FIELDS], cores: true });
    for (const f of SYSTEM_FIELDS) {
      expect(Array.from(columns.system[f]!), f).toEqual(read.map((s) => s.system[f] ?? NaN));
    }
    expect(Array.from(columns.cores[1]!.steal)).toEqual([2 ** 40, 8, NaN]);
    expect(Array.from(columns.cores[0]!.steal)).toEqual([0, NaN, NaN]);
    store.close();
  });
});
