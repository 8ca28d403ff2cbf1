/**
 * Reading the rolled-up tiers for an analysis: which rows of which tier cover a range once,
 * and aggregates, sketches and per-step sums of series over such a cover.
 */
import type { Statement } from 'better-sqlite3';
import { QuantileSketch } from '../analyze/sketch.js';
import type { Store } from './index.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Rows of one tier with bucket starts in [from, to). */
export interface Part {
  table: 'rollup_1d' | 'rollup_1h' | 'rollup_1m';
  from: number;
  to: number;
}

/** Ranges of each tier's rows that cover the analysed range once, coarsest first. */
export type Cover = Part[];

/** Whole buckets of `size` in [from, to) that a rollup up to `until` has passed. */
function whole(from: number, to: number, size: number, until: number | null): [number, number] {
  const start = Math.ceil(from / size) * size;
  const end = until === null ? start : Math.min(until, Math.floor(to / size) * size);
  return end > start ? [start, end] : [from, from];
}

/**
 * Rows are keyed by the start of their bucket; a bucket starting in [from, to) counts. Day
 * rows are used for the whole UTC days in the range that the daily rollup has passed, hour
 * rows for the whole rolled hours around them, minute rows for the rest, so no sample
 * counts twice. Without `dayUntil`, no day rows (per-hour steps cannot use them).
 */
export function coverOf(
  from: number,
  to: number,
  hourUntil: number | null,
  dayUntil: number | null = null,
): Cover {
  const out: Cover = [];
  const [dStart, dEnd] = whole(from, to, DAY, dayUntil);
  if (dEnd > dStart) out.push({ table: 'rollup_1d', from: dStart, to: dEnd });
  const minutes: Part[] = [];
  for (const [a, b] of dEnd > dStart
    ? [
        [from, dStart],
        [dEnd, to],
      ]
    : [[from, to]]) {
    if (a! >= b!) continue;
    const [hStart, hEnd] = whole(a!, b!, HOUR, hourUntil);
    if (hEnd > hStart) out.push({ table: 'rollup_1h', from: hStart, to: hEnd });
    else {
      minutes.push({ table: 'rollup_1m', from: a!, to: b! });
      continue;
    }
    if (a! < hStart) minutes.push({ table: 'rollup_1m', from: a!, to: hStart });
    if (hEnd < b!) minutes.push({ table: 'rollup_1m', from: hEnd, to: b! });
  }
  return [...out, ...minutes];
}

export interface RolledAggregate {
  rows: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Reads one system series' rows: sketches and the latest value over the coarsest cover,
 * per-step means and busy time over a cover of hours at most.
 */
export class RolledSeriesReader {
  /** Statements by SQL: an analysis asks the same of several series. */
  private readonly statements = new Map<string, Statement>();

  constructor(
    private readonly store: Store,
    private readonly cover: Cover,
    private readonly stepCover: Cover,
    private readonly from: number,
    private readonly to: number,
  ) {}

  private statement(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.store.db.prepare(sql).raw()));
    return s;
  }

  private each(
    cover: Cover,
    sql: (table: string) => string,
    id: number,
    fn: (row: unknown[]) => void,
  ): void {
    for (const { table, from: a, to: b } of cover) {
      for (const row of this.statement(sql(table)).iterate(id, a, b) as Iterable<unknown[]>) {
        fn(row);
      }
    }
  }

  sketch(id: number): QuantileSketch {
    const s = new QuantileSketch();
    this.each(
      this.cover,
      (t) => `SELECT sketch FROM ${t} WHERE series_id = ? AND ts >= ? AND ts < ?`,
      id,
      (row) => s.mergeEncoded(row[0] as Buffer),
    );
    return s;
  }

  /** The value of the latest row: from the part that ends last and has one. */
  last(id: number): number {
    for (const { table, from: a, to: b } of [...this.cover].sort((x, y) => y.to - x.to)) {
      const row = this.statement(
        `SELECT last FROM ${table} WHERE series_id = ? AND ts >= ? AND ts < ?
         ORDER BY ts DESC LIMIT 1`,
      ).get(id, a, b) as [number] | undefined;
      if (row) return row[0];
    }
    return 0;
  }

  /** Count and sum per step, by step start. */
  buckets(id: number | undefined, step: number): Buckets {
    const buckets: Buckets = new Map();
    if (id === undefined) return buckets;
    const add = (ts: number, count: number, sum: number) => addTo(buckets, step, ts, count, sum);
    if (step >= HOUR) {
      this.each(
        this.stepCover,
        (t) => `SELECT ts, count, sum FROM ${t} WHERE series_id = ? AND ts >= ? AND ts < ?`,
        id,
        (r) => add(r[0] as number, r[1] as number, r[2] as number),
      );
    } else {
      // Minute steps read minute rows only: hour rows cannot be split into minutes.
      for (const r of this.statement(
        'SELECT ts, count, sum FROM rollup_1m WHERE series_id = ? AND ts >= ? AND ts < ?',
      ).iterate(id, this.from, this.to) as Iterable<[number, number, number]>) {
        add(r[0], r[1], r[2]);
      }
    }
    return buckets;
  }

  /** Σ over rows of the row's mean × its length, in seconds: busy CPU time from cpu_percent. */
  meanSeconds(id: number | undefined): number {
    if (id === undefined) return 0;
    let total = 0;
    for (const { table, from: a, to: b } of this.stepCover) {
      const seconds = (table === 'rollup_1h' ? HOUR : MINUTE) / 1000;
      const [sum] = this.statement(
        `SELECT total(sum / count) FROM ${table} WHERE series_id = ? AND ts >= ? AND ts < ?`,
      ).get(id, a, b) as [number];
      total += sum * seconds;
    }
    return total;
  }
}

export type Buckets = Map<number, { count: number; sum: number }>;

export function addTo(
  buckets: Buckets,
  step: number,
  ts: number,
  count: number,
  sum: number,
): void {
  const key = Math.floor(ts / step) * step;
  const b = buckets.get(key);
  if (b) {
    b.count += count;
    b.sum += sum;
  } else buckets.set(key, { count, sum });
}

/** Count, sum, min and max per series id over a cover, one grouped query per tier. */
export function aggregates(
  store: Store,
  ids: readonly number[],
  c: Cover,
): Map<number, RolledAggregate> {
  const out = new Map<number, RolledAggregate>();
  if (ids.length === 0) return out;
  const list = ids.join(', ');
  for (const { table, from: a, to: b } of c) {
    const rows = store.db
      .prepare(
        `SELECT series_id, count(*), sum(count), sum(sum), min(min), max(max) FROM ${table}
         WHERE series_id IN (${list}) AND ts >= ? AND ts < ? GROUP BY series_id`,
      )
      .raw()
      .all(a, b) as [number, number, number, number, number, number][];
    for (const [id, rowCount, count, sum, min, max] of rows) {
      const e = out.get(id);
      if (!e) out.set(id, { rows: rowCount, count, sum, min, max });
      else {
        e.rows += rowCount;
        e.count += count;
        e.sum += sum;
        e.min = Math.min(e.min, min);
        e.max = Math.max(e.max, max);
      }
    }
  }
  return out;
}

export interface Total {
  metric: string;
  name: string;
  count: number;
  sum: number;
  max: number;
}

/**
 * Totals per process and automation series over a cover. Grouping by (metric, entity)
 * follows the series index the join walks, so SQLite aggregates as it goes instead of
 * sorting every row first.
 */
export function attributionTotals(store: Store, c: Cover): Total[] {
  const by = new Map<string, Total>();
  for (const { table, from: a, to: b } of c) {
    const rows = store.db
      .prepare(
        `SELECT s.metric, s.entity, sum(r.count), sum(r.sum), max(r.max)
         FROM series s JOIN ${table} r ON r.series_id = s.id
         WHERE s.metric IN ('process_cpu_percent', 'process_rss_bytes', 'execution_cpu_ms')
           AND r.ts >= ? AND r.ts < ?
         GROUP BY s.metric, s.entity`,
      )
      .raw()
      .all(a, b) as [string, string, number, number, number][];
    for (const [metric, entity, count, sum, max] of rows) {
      const key = `${metric}\u0000${entity}`;
      const e = by.get(key);
      if (!e) {
        by.set(key, { metric, name: entity.slice(entity.indexOf(':') + 1), count, sum, max });
      } else {
        e.count += count;
        e.sum += sum;
        e.max = Math.max(e.max, max);
      }
    }
  }
  return [...by.values()];
}

/**
 * The raw snapshots that bound the steps of [from, to]: the last at or before from (within a
 * step), the first of each step after it, and the last at or before to. A step's first
 * snapshot opens a minute when the step is whole minutes, so it is a keyframe and is read
 * alone (system_raw stores deltas within a minute); the last of a step would need its whole
 * minute decoded.
 */
export function stepEnds(store: Store, from: number, to: number, step: number): number[] {
  return (
    store.db
      .prepare(
        `SELECT max(ts) FROM system_raw WHERE ts BETWEEN ? - ? AND ?
         UNION SELECT min(ts) FROM system_raw WHERE ts > ? AND ts <= ? GROUP BY ts / ${step}
         UNION SELECT max(ts) FROM system_raw WHERE ts BETWEEN ? AND ?
         ORDER BY 1`,
      )
      .pluck()
      .all(from, step, from, from, to, from, to) as (number | null)[]
  ).filter((ts): ts is number => ts !== null);
}

/**
 * Whether raw samples hold all there is of [from, to]: retention has removed none of them,
 * so either one is stored at or before `from`, or nothing was rolled up before the first.
 */
export function rawCovers(
  store: Store,
  from: number,
  to: number,
  cpuId: number | undefined,
): boolean {
  const oldest = store.query.oldestTimestamp();
  if (oldest === null || oldest > to) return false;
  if (oldest <= from || cpuId === undefined) return true;
  return (
    store.db
      .prepare('SELECT 1 FROM rollup_1m WHERE series_id = ? AND ts >= ? AND ts < ? LIMIT 1')
      .get(cpuId, from, oldest - MINUTE) === undefined
  );
}
