/**
 * Series identity: one catalog metric of one entity ('system', 'process:NAME',
 * 'automation:NAME'), numbered once in the `series` table so rollup rows stay small.
 */
import type { Statement } from 'better-sqlite3';
import type { EntityKind } from '../analyze/catalog.js';
import { InputError } from '../errors.js';
import type { Db } from './db.js';

export const SYSTEM_ENTITY = 'system';
const MAX_NAME = 200;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const METRIC = /^[a-z][a-z0-9_]{0,99}$/;

export type Entity = { kind: 'system' } | { kind: Exclude<EntityKind, 'system'>; name: string };

function checkName(kind: string, name: string): string {
  if (name.length < 1 || name.length > MAX_NAME) {
    throw new InputError('entity', `${kind} name must be 1-${MAX_NAME} characters`);
  }
  if (CONTROL.test(name)) {
    throw new InputError('entity', `${kind} name must not contain control characters`);
  }
  return name;
}

export function processEntity(name: string): string {
  return `process:${checkName('process', name)}`;
}

export function automationEntity(name: string): string {
  return `automation:${checkName('automation', name)}`;
}

/**
 * A name from the kernel or the run table made valid rather than rejected: a program may put
 * control characters in its comm, and a rollup must not stall on one odd name.
 */
function lenient(kind: 'process' | 'automation', name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, MAX_NAME);
  return `${kind}:${clean === '' ? '?' : clean}`;
}

export const processEntityLenient = (comm: string): string => lenient('process', comm);
export const automationEntityLenient = (name: string): string => lenient('automation', name);

/** Parses and validates 'system', 'process:NAME' or 'automation:NAME'. */
export function parseEntity(entity: string): Entity {
  if (entity === SYSTEM_ENTITY) return { kind: 'system' };
  const colon = entity.indexOf(':');
  const kind = entity.slice(0, colon);
  if (colon > 0 && (kind === 'process' || kind === 'automation')) {
    return { kind, name: checkName(kind, entity.slice(colon + 1)) };
  }
  throw new InputError('entity', `expected 'system', 'process:NAME' or 'automation:NAME'`);
}

/**
 * (metric, entity) → series id, cached per instance. Ids created inside a transaction that
 * later rolls back would linger in the cache and could be reused for another series, so
 * whoever rolls back calls `forget()`.
 */
export class SeriesIds {
  private readonly cache = new Map<string, number>();
  private readonly insert: Statement;
  private readonly select: Statement;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT OR IGNORE INTO series (metric, entity) VALUES (?, ?)');
    this.select = db.prepare('SELECT id FROM series WHERE metric = ? AND entity = ?').pluck();
  }

  /** The id of (metric, entity), creating the series if needed. */
  id(metric: string, entity: string): number {
    const key = `${metric}\u0000${entity}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let id = this.select.get(metric, entity) as number | undefined;
    if (id === undefined) {
      if (!METRIC.test(metric)) throw new InputError('metric', `not a metric name: ${metric}`);
      parseEntity(entity);
      this.insert.run(metric, entity);
      id = this.select.get(metric, entity) as number;
    }
    this.cache.set(key, id);
    return id;
  }

  /** The id of an existing series, or null; never creates one (for readers). */
  find(metric: string, entity: string): number | null {
    const key = `${metric}\u0000${entity}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const id = this.select.get(metric, entity) as number | undefined;
    if (id === undefined) return null;
    this.cache.set(key, id);
    return id;
  }

  forget(): void {
    this.cache.clear();
  }
}
