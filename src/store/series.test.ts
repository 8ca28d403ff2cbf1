import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import {
  SeriesIds,
  automationEntity,
  automationEntityLenient,
  parseEntity,
  processEntity,
  processEntityLenient,
} from './series.js';

describe('entities', () => {
  it('builds and parses system, process and automation entities', () => {
    expect(processEntity('node')).toBe('process:node');
    expect(automationEntity('Backup: nightly')).toBe('automation:Backup: nightly');
    expect(parseEntity('system')).toEqual({ kind: 'system' });
    expect(parseEntity('process:a:b')).toEqual({ kind: 'process', name: 'a:b' });
    expect(parseEntity('automation:x')).toEqual({ kind: 'automation', name: 'x' });
  });

  it('rejects empty, long and control-character names, and unknown kinds', () => {
    expect(() => processEntity('')).toThrow(InputError);
    expect(() => automationEntity('x'.repeat(201))).toThrow(/1-200/);
    expect(() => processEntity('a\nb')).toThrow(/control/);
    expect(() => parseEntity('process:')).toThrow(InputError);
    expect(() => parseEntity('disk:sda')).toThrow(/expected/);
    expect(() => parseEntity(':x')).toThrow(/expected/);
    expect(processEntityLenient('a\tb\u0085')).toBe('process:a?b?');
    expect(processEntityLenient('')).toBe('process:?');
    expect(automationEntityLenient('y'.repeat(300))).toBe(`automation:${'y'.repeat(200)}`);
  });
});

describe('SeriesIds', () => {
  it('numbers each (metric, entity) once, caches, and forgets on request', () => {
    const store = Store.open(tempDir());
    const ids = new SeriesIds(store.db);
    expect(ids.find('cpu_percent', 'system')).toBeNull();
    const a = ids.id('cpu_percent', 'system');
    expect(ids.id('cpu_percent', 'system')).toBe(a);
    expect(ids.id('process_rss_bytes', 'process:node')).not.toBe(a);
    expect(new SeriesIds(store.db).find('cpu_percent', 'system')).toBe(a);
    expect(ids.find('cpu_percent', 'system')).toBe(a);
    // a rolled-back transaction takes its new ids with it
    store.db.exec('BEGIN');
    const ghost = ids.id('load1', 'system');
    store.db.exec('ROLLBACK');
    ids.forget();
    expect(ids.find('load1', 'system')).toBeNull();
    expect(ids.id('load5', 'system')).toBe(ghost);
    expect(() => ids.id('Bad-Metric', 'system')).toThrow(InputError);
    expect(() => ids.id('load1', 'nope')).toThrow(InputError);
    store.close();
  });
});
