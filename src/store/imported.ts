/**
 * The tier side of `kmpm import`: imported points land in imported_point exactly as given
 * and are merged into the rolled-up tiers so that importing and the recorder's rollups
 * commute (either order gives the same rows).
 */
import { BucketWriter, DAY_MS, HOUR_MS, MINUTE_MS, floorTo, type Point } from './bucket.js';
import { getMeta, type Db } from './db.js';
import { ROLLUP_1D_UNTIL, ROLLUP_1H_UNTIL } from './rollup.js';

function byBucket(points: readonly Point[], size: number): Map<number, Point[]> {
  const out = new Map<number, Point[]>();
  for (const p of points) {
    const b = floorTo(p.ts, size);
    let list = out.get(b);
    if (!list) out.set(b, (list = []));
    list.push(p);
  }
  return out;
}

/**
 * Stores points of one series and merges the new ones (a re-import is a no-op) into 1m
 * always, into 1h only for hours the hourly rollup has already passed, and into 1d only for
 * days the daily rollup has passed: later ones get them when the finer rows are rolled up. Call inside the importer's BEGIN IMMEDIATE
 * transaction so the watermark cannot move in between. Returns how many points were new.
 */
export function importPoints(
  db: Db,
  writer: BucketWriter,
  seriesId: number,
  points: readonly Point[],
): number {
  const insert = db.prepare('INSERT OR IGNORE INTO imported_point VALUES (?, ?, ?)');
  const fresh = points.filter((p) => insert.run(seriesId, p.ts, p.value).changes > 0);
  const hoursUntil = Number(getMeta(db, ROLLUP_1H_UNTIL) ?? Number.NEGATIVE_INFINITY);
  for (const [minute, list] of byBucket(fresh, MINUTE_MS)) {
    writer.merge('1m', seriesId, minute, list);
  }
  for (const [hour, list] of byBucket(fresh, HOUR_MS)) {
    if (hour + HOUR_MS <= hoursUntil) writer.merge('1h', seriesId, hour, list);
  }
  const daysUntil = Number(getMeta(db, ROLLUP_1D_UNTIL) ?? Number.NEGATIVE_INFINITY);
  for (const [day, list] of byBucket(fresh, DAY_MS)) {
    if (day + DAY_MS <= daysUntil) writer.merge('1d', seriesId, day, list);
  }
  return fresh.length;
}
