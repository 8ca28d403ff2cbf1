import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { main } from '../cli/main.js';
import type { Io } from '../cli/common.js';
import { exportHistory } from './csv-export.js';
import { CsvImportError, importHistory, parseHistoryCsv, parseTimestamp } from './csv-import.js';
import { Store } from './index.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const HEADER = 'timestamp,metric,value,entity';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t) };
  return { io, out, err };
}

describe('CSV history import', () => {
  it('accepts ISO-8601 and epoch ms, any column order, quoted entities and blank system entity', () => {
    const rows = parseHistoryCsv(
      [
        'entity,metric,value,timestamp',
        ',cpu_percent,12.5,2026-11-25T10:00:00Z',
        'system,memory_used_percent,40,2026-11-25T12:00:00+02:00',
        `"process:my, app",process_rss_bytes,1e6,${Date.parse('2026-11-25T10:00:00Z')}`,
        'automation:backup,execution_time_ms,900,2026-11-25T10:00:30.5Z',
        '',
      ].join('\n'),
      NOW,
    );
    expect(rows.map((r) => [r.line, r.metric, r.entity, r.value])).toEqual([
      [2, 'cpu_percent', 'system', 12.5],
      [3, 'memory_used_percent', 'system', 40],
      [4, 'process_rss_bytes', 'process:my, app', 1e6],
      [5, 'execution_time_ms', 'automation:backup', 900],
    ]);
    expect(rows[1]?.ts).toBe(Date.parse('2026-11-25T10:00:00Z'));
  });

  it('reports every bad row with its line number and rejects the file', () => {
    const text = [
      HEADER,
      '2026-11-25T10:00:00Z,cpu_percent,abc,system',
      '2026-11-25T10:00:00,cpu_percent,1,system',
      '2026-11-25T10:00:00Z,process_rss_bytes,1,system',
      '2026-11-25T10:00:00Z,cpu_percent,1,process:x',
      '2026-11-25T10:00:00Z,cpu_percent,1,host:x',
      '1700000,cpu_percent,1,',
      '2030-01-01T00:00:00Z,cpu_percent,1,',
      '2026-11-25T10:00:00Z,cpu_percent,1',
      '2026-11-25T11:00:00Z,cpu_percent,1,',
      '2026-11-25T11:00:00Z,cpu_percent,2,',
      '2026-11-25T11:00:00Z,nope,2,',
    ].join('\n');
    let err: CsvImportError | null = null;
    try {
      parseHistoryCsv(text, NOW);
    } catch (e) {
      err = e as CsvImportError;
    }
    expect(err).toBeInstanceOf(CsvImportError);
    expect(err?.problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
    expect(err?.message).toMatch(/line 2: value 'abc' is not a finite number/);
    expect(err?.message).toMatch(
      /line 3: timestamp '2026-11-25T10:00:00' is neither ISO-8601 with a zone/,
    );
    expect(err?.message).toMatch(/line 4: process_rss_bytes is a process metric/);
    expect(err?.message).toMatch(
      /line 5: cpu_percent is a system metric: entity must be 'system' or empty/,
    );
    expect(err?.message).toMatch(/line 6: entity 'host:x'/);
    expect(err?.message).toMatch(/line 7: timestamp 1700000 is before 2000/);
    expect(err?.message).toMatch(/line 8: timestamp 2030-01-01T00:00:00Z is in the future/);
    expect(err?.message).toMatch(/line 9: expected 4 fields, found 3/);
    expect(err?.message).toMatch(
      /line 11: same timestamp, metric and entity as line 10 with another value/,
    );
    expect(err?.message).toMatch(/line 12: unknown metric 'nope'/);
  });

  it('rejects a wrong header, broken CSV and caps the problem list', () => {
    expect(() => parseHistoryCsv('time,metric,value,entity\n', NOW)).toThrow(
      /header must name the columns/,
    );
    expect(() => parseHistoryCsv(`${HEADER}\n"unclosed,cpu_percent,1,`, NOW)).toThrow(
      /not valid CSV/,
    );
    const many = [HEADER, ...Array.from({ length: 30 }, () => 'x,cpu_percent,1,')].join('\n');
    expect(() => parseHistoryCsv(many, NOW)).toThrow(/30 bad row\(s\)[\s\S]*and 10 more/);
    expect(() => parseTimestamp(String(NOW + 2 * 86_400_000), NOW)).toThrow(/in the future/);
  });

  it('imports into the tiers once, exports the same points back, and re-imports as a no-op', () => {
    const dir = tempDir();
    const store = Store.open(dir);
    const minute = (m: number) =>
      new Date(Date.parse('2026-11-25T10:00:00Z') + m * 60_000).toISOString();
    const lines = [HEADER];
    for (let m = 0; m < 5; m++) {
      lines.push(
        `${minute(m)},cpu_percent,${10 + m},system`,
        `${minute(m)},process_rss_bytes,${1000 * (m + 1)},process:app`,
      );
    }
    const rows = parseHistoryCsv(lines.join('\n'), NOW);
    expect(importHistory(store, rows)).toMatchObject({ rows: 10, new_points: 10, series: 2 });
    expect(importHistory(store, rows)).toMatchObject({ rows: 10, new_points: 0 });
    expect(store.db.prepare('SELECT count(*) FROM rollup_1m').pluck().get()).toBe(10);
    expect(store.db.prepare('SELECT sum(count) FROM rollup_1m').pluck().get()).toBe(10);
    const out = [
      ...exportHistory(store, { from: Date.parse(minute(0)), to: Date.parse(minute(4)), now: NOW }),
    ];
    expect(out[0]).toBe(HEADER);
    expect(out.slice(1).sort()).toEqual(
      lines
        .slice(1)
        .map((l) => l.replace(/:00Z/, ':00.000Z').replace(/T(\d\d:\d\d):00\.000Z/, 'T$1:00.000Z'))
        .sort(),
    );
    const only = [
      ...exportHistory(store, {
        from: 0,
        to: NOW,
        now: NOW,
        metrics: ['cpu_percent'],
        entities: ['system'],
      }),
    ];
    expect(only.slice(1).every((l) => l.includes(',cpu_percent,'))).toBe(true);
    store.close();
  });

  it('works from the command line, audited, with clear errors', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'h.csv');
    fs.writeFileSync(file, `${HEADER}\n2026-11-25T10:00:00Z,cpu_percent,12.5,system\n`);
    const ok = capture();
    expect(await main(['node', 'kmpm', 'import', file, '--data-dir', dir], ok.io)).toBe(0);
    expect(ok.out[0]).toMatch(/imported 1 rows from .*: 1 new points in 1 series/);
    const again = capture();
    expect(await main(['node', 'kmpm', 'import', file, '--data-dir', dir], again.io)).toBe(0);
    expect(again.out[0]).toMatch(/0 new points .*; 1 were already stored/);
    fs.writeFileSync(path.join(dir, 'bad.csv'), `${HEADER}\nnope,cpu_percent,1,\n`);
    const bad = capture();
    expect(
      await main(['node', 'kmpm', 'import', path.join(dir, 'bad.csv'), '--data-dir', dir], bad.io),
    ).toBe(1);
    expect(bad.err[0]).toMatch(/1 bad row\(s\), nothing imported:\n {2}line 2: timestamp 'nope'/);
    const missing = capture();
    expect(
      await main(
        ['node', 'kmpm', 'import', path.join(dir, 'none.csv'), '--data-dir', dir],
        missing.io,
      ),
    ).toBe(2);
    expect(missing.err[0]).toMatch(/cannot read .*none.csv: ENOENT/);

    const exp = capture();
    expect(
      await main(
        [
          'node',
          'kmpm',
          'export',
          '--from',
          '2026-11-25T09:00:00Z',
          '--to',
          '2026-11-25T11:00:00Z',
          '--data-dir',
          dir,
        ],
        exp.io,
      ),
    ).toBe(0);
    expect(exp.out).toEqual([HEADER, '2026-11-25T10:00:00.000Z,cpu_percent,12.5,system']);
    const outFile = path.join(dir, 'out.csv');
    expect(
      await main(
        [
          'node',
          'kmpm',
          'export',
          '--from',
          '2026-11-25T09:00:00Z',
          '--to',
          '2026-11-25T11:00:00Z',
          '--output',
          outFile,
          '--data-dir',
          dir,
        ],
        capture().io,
      ),
    ).toBe(0);
    expect(fs.readFileSync(outFile, 'utf8')).toBe(
      `${HEADER}\n2026-11-25T10:00:00.000Z,cpu_percent,12.5,system\n`,
    );
    for (const [args, re] of [
      [['--from', 'soon'], /--from: timestamp 'soon'/],
      [
        ['--from', '2026-11-25T11:00:00Z', '--to', '2026-11-25T10:00:00Z'],
        /--from must be before --to/,
      ],
      [['--step', '0'], /--step must be a number from 1 to 86400/],
      [
        ['--entity', 'host:x'],
        /--entity 'host:x': expected 'system', 'process:NAME' or 'automation:NAME'/,
      ],
      [['--metric', 'gpu'], /--metric: unknown metric 'gpu'; allowed: cpu_percent/],
    ] as const) {
      const c = capture();
      expect(
        await main(['node', 'kmpm', 'export', ...args, '--data-dir', dir], c.io),
        args.join(' '),
      ).toBe(2);
      expect(c.err[0]).toMatch(re);
    }
    const audit = capture();
    await main(['node', 'kmpm', 'audit', 'list', '--json', '--data-dir', dir], audit.io);
    const entries = JSON.parse(audit.out[0] as string) as { action: string; outcome: string }[];
    expect(entries.filter((e) => e.action === 'cli:import').map((e) => e.outcome)).toEqual([
      'error',
      'ok',
      'ok',
    ]);
  });
});
