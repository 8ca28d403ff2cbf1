import type { Db } from './db.js';
import { DEVICE_KEYFRAME_MS } from './device-rows.js';
import { ioAtSql } from './process-io.js';
import { SystemRows } from './system-rows.js';

export interface PruneResult {
  deleted: number;
  /** true when a batch limit was hit and another call has more to do */
  more: boolean;
}

/**
 * Device tables pruned by time, and how much further back than the cutoff each keeps:
 * readers find a device's state among the rows of one keyframe interval (device-rows.ts).
 */
const RANGE_TABLES = [
  ['disk_raw', DEVICE_KEYFRAME_MS],
  ['net_raw', DEVICE_KEYFRAME_MS],
] as const;

/**
 * Deletes raw rows older than `cutoff`, at most `batch` rows per table per call so a
 * retention pass never stalls a tick for long. system_raw is cut at a keyframe, so every
 * delta frame left has the rows it is read from (system-rows.ts). A live process keeps its newest row at or
 * before the cutoff: rows are stored only on change, so that row is its state from then on.
 * That row gets its I/O counters, if it lacks them, from the row that stored them before
 * that row goes (process-io.ts).
 */
export function pruneRaw(db: Db, cutoff: number, batch = 10_000): PruneResult {
  let deleted = 0;
  let more = false;
  const run = db.transaction(() => {
    const system = pruneSystem(db, cutoff, batch);
    deleted += system.deleted;
    more ||= system.more;
    for (const [table, margin] of RANGE_TABLES) {
      const n = db
        .prepare(`DELETE FROM ${table} WHERE ts IN (SELECT ts FROM ${table} WHERE ts < ? LIMIT ?)`)
        .run(cutoff - margin, batch).changes;
      deleted += n;
      if (n >= batch) more = true;
    }
    const gone = db
      .prepare('SELECT id FROM process WHERE exited_at IS NOT NULL AND exited_at < ? LIMIT ?')
      .pluck()
      .all(cutoff, batch) as number[];
    const dropRows = db.prepare('DELETE FROM process_raw WHERE process_id = ?');
    const dropProcess = db.prepare('DELETE FROM process WHERE id = ?');
    for (const id of gone) {
      deleted += dropRows.run(id).changes;
      dropProcess.run(id);
    }
    if (gone.length >= batch) more = true;
    const fillIo = db.prepare(
      `UPDATE process_raw SET read_bytes = ${ioAtSql('read_bytes', ':id', ':ts')},
         write_bytes = ${ioAtSql('write_bytes', ':id', ':ts')}
       WHERE process_id = :id AND ts = :ts`,
    );
    for (const kept of db
      .prepare(
        `SELECT k.process_id AS id, k.ts FROM process p
         JOIN process_raw k ON k.process_id = p.id AND k.ts = (
           SELECT max(ts) FROM process_raw m WHERE m.process_id = p.id AND m.ts <= ?)
         WHERE p.exited_at IS NULL AND k.read_bytes IS NULL
           AND EXISTS (SELECT 1 FROM process_raw o WHERE o.process_id = p.id AND o.ts < k.ts)`,
      )
      .all(cutoff) as { id: number; ts: number }[]) {
      fillIo.run(kept);
    }
    deleted += db
      .prepare(
        `DELETE FROM process_raw WHERE (process_id, ts) IN (
           SELECT r.process_id, r.ts FROM process_raw r JOIN process p ON p.id = r.process_id
           WHERE p.exited_at IS NULL AND r.ts < ? AND r.ts < (
             SELECT max(ts) FROM process_raw k WHERE k.process_id = r.process_id AND k.ts <= ?)
           LIMIT ?)`,
      )
      .run(cutoff, cutoff, batch).changes;
  });
  run.immediate();
  return { deleted, more };
}

/**
 * Deletes the system rows before the keyframe that rows from `cutoff` on are read from (all
 * before `cutoff` when there are none from it on); with more than `batch` of them, those
 * before the first keyframe from the batch-th on (a minute of rows more at most).
 */
function pruneSystem(db: Db, cutoff: number, batch: number): PruneResult {
  const rows = new SystemRows(db);
  const kept = db.prepare('SELECT 1 FROM system_raw WHERE ts >= ? LIMIT 1').get(cutoff);
  const cut = kept === undefined ? cutoff : rows.keyframe(cutoff);
  const nth = db
    .prepare('SELECT ts FROM system_raw WHERE ts < ? ORDER BY ts LIMIT 1 OFFSET ?')
    .pluck()
    .get(cut, batch) as number | undefined;
  const until = nth === undefined ? cut : (rows.firstKeyframe(nth, cut) ?? cut);
  const deleted = db.prepare('DELETE FROM system_raw WHERE ts < ?').run(until).changes;
  return { deleted, more: until < cut };
}

/** Self-metrics are small; they follow their own, longer retention. */
export function pruneSelfMetrics(db: Db, cutoff: number): number {
  return (
    db.prepare('DELETE FROM collector_stat WHERE ts < ?').run(cutoff).changes +
    db.prepare('DELETE FROM recorder_stat WHERE ts < ?').run(cutoff).changes
  );
}

const TIER_TABLES = { '1m': 'rollup_1m', '1h': 'rollup_1h', '1d': 'rollup_1d' } as const;

/**
 * Deletes rolled-up rows of one tier that start before `cutoff`, at most `batch` per call.
 * Series by series: the tables are keyed by (series_id, ts), so each delete is an index
 * range and no call scans a whole tier.
 */
export function pruneTier(
  db: Db,
  tier: keyof typeof TIER_TABLES,
  cutoff: number,
  batch = 10_000,
): PruneResult {
  const table = TIER_TABLES[tier];
  const ids = db.prepare('SELECT id FROM series').pluck().all() as number[];
  const drop = db.prepare(
    `DELETE FROM ${table} WHERE series_id = ? AND ts IN (
       SELECT ts FROM ${table} WHERE series_id = ? AND ts < ? ORDER BY ts LIMIT ?)`,
  );
  let deleted = 0;
  db.transaction(() => {
    for (const id of ids) {
      if (deleted >= batch) break;
      deleted += drop.run(id, id, cutoff, batch - deleted).changes;
    }
  }).immediate();
  return { deleted, more: deleted >= batch };
}
