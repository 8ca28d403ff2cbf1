/**
 * Where a read of system_raw starts. Most rows are delta frames (counter-blob.ts), each read
 * against the row before it, so reading rows from a time on starts at the keyframe (an
 * absolute frame) at or before it. SampleWriter stores the first row of every UTC minute as
 * a keyframe, and a delta only right after the row it is stored against, in the same minute.
 */
import type { Statement } from 'better-sqlite3';
import { MINUTE_MS } from './bucket.js';
import type { Db } from './db.js';

/** A row holding an absolute frame (format byte 1, as every row before delta frames). */
const IS_KEYFRAME = "substr(counters, 1, 1) = x'01'";

/**
 * The ts of the keyframe that a read of rows from :from on starts at: the first row at or
 * after :from when that is one (nothing before it is needed); else the latest in from's
 * minute (a bounded backward search, where it normally is); else the latest before, however
 * far back; else :from (and reading meets a delta frame without its keyframe).
 */
const KEYFRAME_TS = `coalesce(
  (SELECT ts FROM (SELECT ts, counters FROM system_raw WHERE ts >= :from ORDER BY ts LIMIT 1)
   WHERE ${IS_KEYFRAME}),
  (SELECT ts FROM system_raw WHERE ts >= :minute AND ts < :from AND ${IS_KEYFRAME}
   ORDER BY ts DESC LIMIT 1),
  (SELECT ts FROM system_raw WHERE ts < :from AND ${IS_KEYFRAME} ORDER BY ts DESC LIMIT 1),
  :from)`;

/** A system_raw row: ts and its counters blob. */
export type SystemRow = [number, Buffer];

/**
 * Statements reading system_raw from a keyframe on, prepared once. A range is read in one
 * statement, so the keyframe found and the rows read are of the same snapshot of the
 * database, whatever retention deletes meanwhile.
 */
export class SystemRows {
  private readonly keyframeTs: Statement;
  private readonly rows: Statement;
  private readonly firstKeyframeFrom: Statement;

  constructor(db: Db) {
    this.keyframeTs = db.prepare(`SELECT ${KEYFRAME_TS}`).pluck();
    this.rows = db
      .prepare(
        `SELECT ts, counters FROM system_raw WHERE ts BETWEEN ${KEYFRAME_TS} AND :to ORDER BY ts`,
      )
      .raw();
    this.firstKeyframeFrom = db
      .prepare(
        `SELECT ts FROM system_raw WHERE ts >= ? AND ts <= ? AND ${IS_KEYFRAME} ORDER BY ts LIMIT 1`,
      )
      .pluck();
  }

  /** The ts of the keyframe a read of the rows from `from` on starts at. */
  keyframe(from: number): number {
    return this.keyframeTs.get(params(from)) as number;
  }

  /**
   * The rows with ts in [from, to] and those before `from` back to its keyframe, oldest
   * first: read them in order with one CounterBlobReader, restarted first.
   */
  range(from: number, to: number): SystemRow[] {
    return this.rows.all({ ...params(from), to }) as SystemRow[];
  }

  /** Iterates range(from, to) without holding every row (no other statement may run meanwhile). */
  iterate(from: number, to: number): IterableIterator<SystemRow> {
    return this.rows.iterate({ ...params(from), to }) as IterableIterator<SystemRow>;
  }

  /** The first keyframe with ts in [from, to], or null. */
  firstKeyframe(from: number, to: number): number | null {
    return (this.firstKeyframeFrom.get(from, to) as number | undefined) ?? null;
  }
}

function params(from: number): { from: number; minute: number } {
  return { from, minute: Math.floor(from / MINUTE_MS) * MINUTE_MS };
}
