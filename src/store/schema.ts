import type Database from 'better-sqlite3';
import { HUNDREDTHS_FIELDS, SYSTEM_FIELDS } from '../types.js';
import { CORE_MODES, CounterBlobWriter } from './counter-blob.js';

/** SQL, or a function for a migration that converts rows; either runs in one transaction. */
export type Migration = string | ((db: Database.Database) => void);

/**
 * Ordered migrations; PRAGMA user_version records how many have run.
 * Never edit a shipped migration: append a new one.
 */
export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE system_raw (ts INTEGER PRIMARY KEY, ${SYSTEM_FIELDS.map((f) => `${f} REAL`).join(', ')});

  CREATE TABLE core_raw (
    ts INTEGER NOT NULL, core INTEGER NOT NULL,
    user REAL, nice REAL, system REAL, idle REAL, iowait REAL, irq REAL, softirq REAL, steal REAL,
    PRIMARY KEY (ts, core)) WITHOUT ROWID;

  CREATE TABLE device (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name));

  CREATE TABLE disk_raw (
    ts INTEGER NOT NULL, device_id INTEGER NOT NULL,
    reads REAL, read_sectors REAL, read_ms REAL, writes REAL, write_sectors REAL, write_ms REAL,
    in_flight REAL, io_ms REAL, weighted_ms REAL,
    PRIMARY KEY (ts, device_id)) WITHOUT ROWID;

  CREATE TABLE net_raw (
    ts INTEGER NOT NULL, device_id INTEGER NOT NULL,
    rx_bytes REAL, rx_packets REAL, rx_errs REAL, rx_drop REAL,
    tx_bytes REAL, tx_packets REAL, tx_errs REAL, tx_drop REAL,
    PRIMARY KEY (ts, device_id)) WITHOUT ROWID;

  -- One row per process lifetime: (boot_time, pid, start_ticks) never mixes two processes.
  CREATE TABLE process (
    id INTEGER PRIMARY KEY, boot_time INTEGER NOT NULL, pid INTEGER NOT NULL,
    start_ticks INTEGER NOT NULL, ppid INTEGER, uid INTEGER, comm TEXT NOT NULL,
    cmdline TEXT NOT NULL, first_seen INTEGER NOT NULL, exited_at INTEGER,
    UNIQUE (boot_time, pid, start_ticks));
  CREATE INDEX process_alive ON process (exited_at);

  -- Written only when a process's counters changed since its previous row.
  CREATE TABLE process_raw (
    process_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    utime REAL, stime REAL, rss_pages REAL, threads REAL, read_bytes REAL, write_bytes REAL,
    PRIMARY KEY (process_id, ts)) WITHOUT ROWID;

  CREATE TABLE automation_run (
    id INTEGER PRIMARY KEY, automation TEXT NOT NULL, command TEXT NOT NULL,
    pid INTEGER, started_at INTEGER NOT NULL, ended_at INTEGER,
    wall_ms REAL, cpu_ms REAL, peak_rss_bytes REAL, exit_code INTEGER, signal TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')));
  CREATE INDEX automation_run_by_name ON automation_run (automation, started_at);
  CREATE INDEX automation_run_by_time ON automation_run (started_at);

  CREATE TABLE monitor_session (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    owner_pid INTEGER NOT NULL, params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
    progress REAL NOT NULL DEFAULT 0, result TEXT, error TEXT);

  -- Append-only, hash-chained: hash = sha256(prev_hash || canonical row).
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, args TEXT NOT NULL, outcome TEXT NOT NULL, duration_ms REAL NOT NULL,
    detail TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);

  CREATE TABLE collector_stat (
    ts INTEGER NOT NULL, name TEXT NOT NULL, runs INTEGER NOT NULL, failures INTEGER NOT NULL,
    duration_ms_sum REAL NOT NULL, duration_ms_max REAL NOT NULL, last_error TEXT,
    PRIMARY KEY (name, ts)) WITHOUT ROWID;

  CREATE TABLE recorder_stat (
    ts INTEGER PRIMARY KEY, ticks INTEGER NOT NULL, late_ticks INTEGER NOT NULL,
    cpu_ms REAL NOT NULL, rss_bytes REAL NOT NULL, processes INTEGER NOT NULL,
    process_rows INTEGER NOT NULL);
  `,
  `
  -- A series is one catalog metric of one entity: 'system', 'process:NAME', 'automation:NAME'.
  CREATE TABLE series (
    id INTEGER PRIMARY KEY, metric TEXT NOT NULL, entity TEXT NOT NULL, UNIQUE (metric, entity));

  -- Rolled-up tiers: one row per series and bucket start (ms). sketch is a mergeable
  -- log-bucket quantile sketch, so percentiles survive rollup and merging.
  CREATE TABLE rollup_1m (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL,
    sketch BLOB NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
  CREATE TABLE rollup_1h (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL,
    sketch BLOB NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;

  -- Points loaded by kmpm import, exactly as given; the key makes a re-import a no-op.
  CREATE TABLE imported_point (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
  `,
  `
  -- Alert rules: the user's definition as JSON; ids are never reused (AUTOINCREMENT), so
  -- notification dedupe keys built from them stay unique after a rule is deleted.
  CREATE TABLE alert_rule (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
  CREATE TABLE alert_state (
    rule_id INTEGER PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
  -- Notifications; they outlive their rule as history.
  CREATE TABLE alert_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rule_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('firing', 'repeat', 'resolved')), severity TEXT NOT NULL,
    value REAL, message TEXT NOT NULL, dedupe_key TEXT NOT NULL UNIQUE);
  CREATE INDEX alert_event_by_rule ON alert_event (rule_id, id);
  CREATE TABLE alert_delivery (
    event_id INTEGER NOT NULL, channel TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, last_error TEXT,
    updated_at INTEGER NOT NULL, PRIMARY KEY (event_id, channel)) WITHOUT ROWID;
  CREATE INDEX alert_delivery_due ON alert_delivery (status, next_attempt_at);
  `,
  // Disk and network rows are now stored on change and carried forward by readers
  // (device-rows.ts). Rows stored before were complete: a device missing from a sample
  // was absent from it. Mark each such absence with a tombstone (counters NULL) at the
  // first sample after a device's row that has no row for that device.
  ['disk_raw', 'net_raw']
    .map(
      (table) => `
  INSERT OR IGNORE INTO ${table} (ts, device_id)
    SELECT next_ts, device_id FROM (
      SELECT r.device_id, (SELECT min(s.ts) FROM system_raw s WHERE s.ts > r.ts) AS next_ts
      FROM ${table} r)
    WHERE next_ts IS NOT NULL;`,
    )
    .join('\n'),
  // Load and PSI averages are stored as integer hundredths from now on (HUNDREDTHS_FIELDS).
  `UPDATE system_raw SET ${[...HUNDREDTHS_FIELDS].map((f) => `${f} = round(${f} * 100)`).join(', ')};`,
  `
  -- Daily rows (UTC days) merged from hour rows, so a month of history is 30 rows a series.
  CREATE TABLE rollup_1d (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL,
    sketch BLOB NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
  `,
  packSystemRows,
  `
  -- An mcp notification of a recorder that has no MCP client (kmpm daemon) is left to the
  -- kmpm mcp servers reading its data, which relay it to their clients: relayed_to counts
  -- the clients they reached. NULL where the recorder delivers the channel itself.
  ALTER TABLE alert_delivery ADD COLUMN relayed_to INTEGER;
  `,
];

/** Rows converted per read: better-sqlite3 runs no statement while another iterates. */
const PACK_BATCH = 1024;

/**
 * A tick's system counters and cores become one row of a ts and a blob (counter-blob.ts):
 * 57 REAL columns spent a header byte each, and each core row repeated the key.
 *
 * The rows this writes are absolute frames (format 1). Later rows are mostly delta frames
 * (format 2) read from the keyframe before them, and every format-1 row is a keyframe, so
 * rows of both kinds read alike and none needed converting: no migration came with them.
 */
function packSystemRows(db: Database.Database): void {
  db.exec('CREATE TABLE system_raw_packed (ts INTEGER PRIMARY KEY, counters BLOB NOT NULL)');
  const systemRows = db
    .prepare(
      `SELECT ts, ${SYSTEM_FIELDS.join(', ')} FROM system_raw WHERE ts > ? ORDER BY ts LIMIT ?`,
    )
    .raw();
  const coreRows = db
    .prepare(
      `SELECT ts, core, ${CORE_MODES.join(', ')} FROM core_raw WHERE ts BETWEEN ? AND ?
       ORDER BY ts, core`,
    )
    .raw();
  const insert = db.prepare('INSERT INTO system_raw_packed (ts, counters) VALUES (?, ?)');
  const writer = new CounterBlobWriter();
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = systemRows.all(after, PACK_BATCH) as [number, ...(number | null)[]][];
    if (rows.length === 0) break;
    after = rows[rows.length - 1]![0];
    const cores = coreRows.all(rows[0]![0], after) as [number, number, ...(number | null)[]][];
    let next = 0;
    for (const [ts, ...system] of rows) {
      while (next < cores.length && cores[next]![0] < ts) next++;
      const tick: (number | null)[][] = [];
      for (; next < cores.length && cores[next]![0] === ts; next++) {
        const [, core, ...modes] = cores[next]!;
        tick[core] = modes;
      }
      insert.run(ts, writer.encodeStored(system, tick));
    }
  }
  db.exec(`
    DROP TABLE system_raw;
    DROP TABLE core_raw;
    ALTER TABLE system_raw_packed RENAME TO system_raw;`);
}

/** Runs the migrations not yet run, up to `to` (all of them unless a test asks for fewer). */
export function migrate(db: Database.Database, to = MIGRATIONS.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `database schema version ${current} is newer than this kmpm understands (${MIGRATIONS.length}); upgrade kmpm`,
    );
  }
  for (let v = current; v < to; v++) {
    const migration = MIGRATIONS[v]!;
    db.transaction(() => {
      if (typeof migration === 'string') db.exec(migration);
      else migration(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
