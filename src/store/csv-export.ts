/** `kmpm export`: stored history back out in the CSV format `kmpm import` reads. */
import { CATALOG, SYSTEM_METRICS } from '../analyze/catalog.js';
import { csvField } from '../monitor/render.js';
import { queryHistory } from './history.js';
import { RawSystemCache } from './history-raw.js';
import type { Store } from './index.js';
import { SYSTEM_ENTITY } from './series.js';
import { CSV_COLUMNS } from './csv-import.js';

export interface ExportOptions {
  from: number;
  to: number;
  /** Only these metrics (catalog names); all when empty. */
  metrics?: readonly string[];
  /** Only these entities ('system', 'process:NAME', 'automation:NAME'); all when empty. */
  entities?: readonly string[];
  /** Width of each exported point (its mean); 1 s or more. Default 60 s. */
  stepMs?: number;
  now?: number;
}

/** Every (metric, entity) with history: the system metrics, plus every stored series. */
function seriesToExport(store: Store, o: ExportOptions): { metric: string; entity: string }[] {
  const stored = store.db
    .prepare('SELECT metric, entity FROM series ORDER BY entity, metric')
    .all() as {
    metric: string;
    entity: string;
  }[];
  const all = [
    ...SYSTEM_METRICS.map((m) => ({ metric: m.name as string, entity: SYSTEM_ENTITY })),
    ...stored,
  ];
  const seen = new Set<string>();
  const known = new Set(CATALOG.map((m) => m.name));
  return all.filter((s) => {
    const key = `${s.metric}\u0000${s.entity}`;
    if (seen.has(key) || !known.has(s.metric)) return false;
    seen.add(key);
    if (o.metrics?.length && !o.metrics.includes(s.metric)) return false;
    return !o.entities?.length || o.entities.includes(s.entity);
  });
}

/** CSV lines, header first; each point is a step's mean at the step's start. */
export function* exportHistory(store: Store, o: ExportOptions): Generator<string> {
  yield CSV_COLUMNS.join(',');
  const raw = new RawSystemCache(store);
  for (const s of seriesToExport(store, o)) {
    const r = queryHistory(
      store,
      {
        metric: s.metric,
        entity: s.entity,
        from: o.from,
        to: o.to,
        stepMs: o.stepMs ?? 60_000,
        ...(o.now === undefined ? {} : { now: o.now }),
      },
      raw,
    );
    const entity = csvField(s.entity);
    for (const p of r.points) {
      if (p.ts < o.from || p.ts > o.to) continue;
      yield `${new Date(p.ts).toISOString()},${s.metric},${p.mean},${entity}`;
    }
  }
}
