import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOG, METRIC_NAMES, metricDef, metricsFor } from './catalog.js';

describe('metric catalog', () => {
  it('has unique snake_case names with the unit in them', () => {
    expect(new Set(METRIC_NAMES).size).toBe(METRIC_NAMES.length);
    for (const m of CATALOG) expect(m.name).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(metricDef('cpu_percent')?.unit).toBe('percent');
    expect(metricDef('nope')).toBeUndefined();
  });
  it('selects by entity and family in catalog order', () => {
    expect(metricsFor('process', new Set(['memory'])).map((m) => m.name)).toEqual([
      'process_rss_bytes',
    ]);
    expect(metricsFor('system', new Set(['network'])).length).toBe(5);
  });
  it('is documented, metric by metric, in the user guide', () => {
    const guide = fs.readFileSync('docs/user-guide.md', 'utf8');
    for (const m of CATALOG) {
      expect(guide, m.name).toMatch(
        new RegExp(
          `^\\|\\s*\`${m.name}\`\\s*\\|\\s*${m.entity}\\s*\\|\\s*${m.category}\\s*\\|\\s*${m.unit}\\s*\\|`,
          'm',
        ),
      );
    }
  });
});
