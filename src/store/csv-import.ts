/**
 * `kmpm import`: history in the CSV format of DESIGN.md (timestamp,metric,value,entity).
 * Every row is checked before anything is written; one bad row rejects the whole file,
 * and the write is one transaction, so a file is never half-imported.
 */
import { parse } from 'csv-parse/sync';
import { metricDef } from '../analyze/catalog.js';
import { errorMessage } from '../errors.js';
import { parseIsoTime } from '../time.js';
import { BucketWriter } from './bucket.js';
import { importPoints } from './imported.js';
import type { Store } from './index.js';
import { parseEntity, SeriesIds, SYSTEM_ENTITY } from './series.js';

export const CSV_COLUMNS = ['timestamp', 'metric', 'value', 'entity'] as const;
const MAX_PROBLEMS = 20;
/** Epoch milliseconds before this are almost certainly seconds or a typo. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);

export interface ImportRow {
  line: number;
  ts: number;
  metric: string;
  entity: string;
  value: number;
}

export interface Problem {
  line: number;
  message: string;
}

export class CsvImportError extends Error {
  constructor(
    readonly problems: Problem[],
    readonly total: number,
  ) {
    super(
      `${total} bad row(s), nothing imported:\n` +
        problems.map((p) => `  line ${p.line}: ${p.message}`).join('\n') +
        (total > problems.length ? `\n  … and ${total - problems.length} more` : ''),
    );
    this.name = 'CsvImportError';
  }
}

export function parseTimestamp(raw: string, now: number): number {
  if (/^\d{1,16}$/.test(raw)) {
    const ms = Number(raw);
    if (ms < EARLIEST_MS)
      throw new Error(`timestamp ${raw} is before 2000 as epoch milliseconds (seconds given?)`);
    if (ms > now + 86_400_000) throw new Error(`timestamp ${raw} is in the future`);
    return ms;
  }
  const ms = parseIsoTime(raw);
  if (ms === null) {
    throw new Error(`timestamp '${raw}' is neither ISO-8601 with a zone nor epoch milliseconds`);
  }
  if (ms > now + 86_400_000) throw new Error(`timestamp ${raw} is in the future`);
  return ms;
}

function checkRow(rec: Record<string, string>, now: number): Omit<ImportRow, 'line'> {
  const ts = parseTimestamp((rec.timestamp ?? '').trim(), now);
  const metric = (rec.metric ?? '').trim();
  const def = metricDef(metric);
  if (!def)
    throw new Error(`unknown metric '${metric}' (see the metric catalog in the user guide)`);
  const rawValue = (rec.value ?? '').trim();
  const value = rawValue === '' ? Number.NaN : Number(rawValue);
  if (!Number.isFinite(value)) throw new Error(`value '${rawValue}' is not a finite number`);
  const rawEntity = (rec.entity ?? '').trim();
  const entity = rawEntity === '' ? SYSTEM_ENTITY : rawEntity;
  let kind: string;
  try {
    kind = parseEntity(entity).kind;
  } catch (err) {
    throw new Error(`entity '${rawEntity}': ${errorMessage(err).replace(/^entity: /, '')}`, {
      cause: err,
    });
  }
  if (kind !== def.entity) {
    const want = def.entity === 'system' ? "'system' or empty" : `'${def.entity}:NAME'`;
    throw new Error(
      `${metric} is a ${def.entity} metric: entity must be ${want} (got '${rawEntity}')`,
    );
  }
  return { ts, metric, entity, value };
}

/** Parses and validates a whole file; throws CsvImportError listing bad rows by line. */
export function parseHistoryCsv(text: string, now = Date.now()): ImportRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      bom: true,
    }) as never;
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 1;
    throw new CsvImportError([{ line, message: `not valid CSV: ${errorMessage(err)}` }], 1);
  }
  const [head, ...body] = records;
  const names = head?.record.map((h) => h.trim()) ?? [];
  if (names.length !== 4 || !CSV_COLUMNS.every((c) => names.includes(c))) {
    throw new CsvImportError(
      [
        {
          line: 1,
          message: `header must name the columns ${CSV_COLUMNS.join(',')} (got '${names.join(',')}')`,
        },
      ],
      1,
    );
  }
  const rows: ImportRow[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, { line: number; value: number }>();
  let total = 0;
  for (const { record, info } of body) {
    const line = info.lines;
    try {
      if (record.length !== 4) throw new Error(`expected 4 fields, found ${record.length}`);
      const rec = Object.fromEntries(names.map((n, i) => [n, record[i] ?? '']));
      const row = checkRow(rec, now);
      const key = `${row.metric}\u0000${row.entity}\u0000${row.ts}`;
      const prior = seen.get(key);
      if (prior && prior.value !== row.value) {
        throw new Error(
          `same timestamp, metric and entity as line ${prior.line} with another value`,
        );
      }
      seen.set(key, { line, value: row.value });
      rows.push({ line, ...row });
    } catch (err) {
      total++;
      if (problems.length < MAX_PROBLEMS) problems.push({ line, message: errorMessage(err) });
    }
  }
  if (total > 0) throw new CsvImportError(problems, total);
  return rows;
}

export interface ImportSummary {
  rows: number;
  new_points: number;
  series: number;
  from: string | null;
  to: string | null;
}

/** Writes validated rows in one transaction; points already stored are skipped. */
export function importHistory(store: Store, rows: readonly ImportRow[]): ImportSummary {
  const groups = new Map<
    string,
    { metric: string; entity: string; points: { ts: number; value: number }[] }
  >();
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    const key = `${r.metric}\u0000${r.entity}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { metric: r.metric, entity: r.entity, points: [] }));
    g.points.push({ ts: r.ts, value: r.value });
    from = Math.min(from, r.ts);
    to = Math.max(to, r.ts);
  }
  const db = store.db;
  const ids = new SeriesIds(db);
  let fresh = 0;
  try {
    db.transaction(() => {
      const writer = new BucketWriter(db);
      for (const g of groups.values()) {
        fresh += importPoints(db, writer, ids.id(g.metric, g.entity), g.points);
      }
    }).immediate();
  } catch (err) {
    ids.forget();
    throw err;
  }
  return {
    rows: rows.length,
    new_points: fresh,
    series: groups.size,
    from: rows.length ? new Date(from).toISOString() : null,
    to: rows.length ? new Date(to).toISOString() : null,
  };
}
