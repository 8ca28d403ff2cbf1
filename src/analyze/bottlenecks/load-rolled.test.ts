import { describe, expect, it } from 'vitest';
import { MACHINE } from '../../../test/helpers/snapshots.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { importHistory, type ImportRow } from '../../store/csv-import.js';
import { setMeta } from '../../store/db.js';
import { Store } from '../../store/index.js';
import { ROLLUP_1M_UNTIL, rollupHours } from '../../store/rollup.js';
import { analyzeBottlenecks } from './index.js';
import { loadRolledInput } from './load-rolled.js';

const T0 = Date.parse('2026-11-20T00:00:00Z');
const MIN = 60_000;

/** 12 hours of per-minute history: CPU busy 95 % in the second half, mostly by 'encoder'. */
function history(): ImportRow[] {
  const rows: ImportRow[] = [];
  let line = 2;
  const add = (ts: number, metric: string, entity: string, value: number) =>
    rows.push({ line: line++, ts, metric, entity, value });
  for (let m = 0; m < 12 * 60; m++) {
    const ts = T0 + m * MIN;
    const busy = m >= 6 * 60;
    add(ts, 'cpu_percent', 'system', busy ? 95 : 10);
    add(ts, 'memory_used_bytes', 'system', 4e9);
    add(ts, 'memory_used_percent', 'system', 50);
    add(ts, 'process_cpu_percent', 'process:encoder', busy ? 150 : 0);
    add(ts, 'process_cpu_percent', 'process:browser', 10);
    add(ts, 'process_rss_bytes', 'process:browser', 3e9);
    add(ts, 'process_rss_bytes', 'process:encoder', 2e8);
    if (m % 60 === 0) add(ts, 'execution_cpu_ms', 'automation:transcode', 30_000);
  }
  return rows;
}

describe('analysis over rolled-up history', () => {
  it('reads the 1-minute tier for long ranges and attributes by command name', () => {
    const store = Store.open(tempDir());
    importHistory(store, history());
    const from = T0;
    const to = T0 + 12 * 3600_000;
    const input = loadRolledInput(store, MACHINE, from, to);
    expect(input.resolutionMs).toBe(MIN);
    expect(input.samples).toBe(720);
    expect(input.processes.cpu[0]).toMatchObject({
      pid: 0,
      command: 'encoder',
      unit: 'cpu_seconds',
    });
    // encoder: 1.5 cores for 6 h = 32400 s of the busy CPU seconds (2 cores × (6 h × 0.10 + 6 h × 0.95))
    expect(input.processes.cpu[0]?.amount).toBeCloseTo(32_400, 0);
    expect(input.processes.cpu[0]?.share).toBeCloseTo(32_400 / (2 * 21_600 * 1.05), 2);
    expect(input.processes.memory[0]).toMatchObject({ command: 'browser', amount: 3e9 });
    expect(input.processes.memory[0]?.share).toBeCloseTo(0.75, 2);
    expect(input.automations[0]).toMatchObject({ automation: 'transcode', runs: 12, amount: 360 });

    const result = analyzeBottlenecks(store, MACHINE, {
      scope: 'system',
      from,
      to,
      label: 'custom',
      types: ['cpu', 'memory', 'io', 'network'],
      severityThreshold: 'low',
      includeRecommendations: true,
    });
    const cpu = result.findings.find((f) => f.id === 'cpu.utilization');
    expect(cpu?.severity).toBe('high'); // p95 of per-minute means = 95
    expect(cpu?.window?.duration_s).toBe(6 * 3600);
    expect(cpu?.attribution.processes[0]?.command).toBe('encoder');
    const rec = result.recommendations.find((r) => r.finding_id === 'cpu.utilization');
    expect(rec?.action).toMatch(/^'encoder' used \d+ %/);
    expect(rec?.tool_call?.arguments.target_id).toBe('encoder');
    expect(result.data.resolution_s).toBe(60);
    store.close();
  });

  it('falls back to raw samples when nothing is rolled up yet', () => {
    const store = Store.open(tempDir());
    const result = analyzeBottlenecks(store, MACHINE, {
      scope: 'system',
      from: T0,
      to: T0 + 24 * 3600_000,
      label: 'last_day',
      types: ['cpu'],
      severityThreshold: 'low',
      includeRecommendations: true,
    });
    expect(result.data).toMatchObject({ samples: 0, sufficient: false });
    store.close();
  });

  it('reads hour rows where the hourly rollup has passed and minute rows after, counting each once', () => {
    const store = Store.open(tempDir());
    const rows: ImportRow[] = [];
    for (let m = 0; m < 3 * 24 * 60; m++) {
      rows.push({
        line: m + 2,
        ts: T0 + m * MIN,
        metric: 'cpu_percent',
        entity: 'system',
        value: 50,
      });
      rows.push({
        line: m + 2,
        ts: T0 + m * MIN,
        metric: 'process_cpu_percent',
        entity: 'process:worker',
        value: 100,
      });
    }
    importHistory(store, rows);
    // Roll the first two days into hours, as the recorder would have.
    setMeta(store.db, ROLLUP_1M_UNTIL, String(T0 + 2 * 86_400_000));
    rollupHours(store.db, { now: T0 + 3 * 86_400_000, maxHours: 1000 });
    expect(store.db.prepare('SELECT count(*) FROM rollup_1h').pluck().get()).toBe(2 * 48);
    const input = loadRolledInput(store, MACHINE, T0, T0 + 3 * 86_400_000);
    expect(input.resolutionMs).toBe(3_600_000);
    expect(input.samples).toBe(72);
    expect(input.metrics.cpu_percent?.values.every((v) => v === 50)).toBe(true);
    // one core for three days, once: neither tier counted twice
    expect(input.processes.cpu[0]).toMatchObject({ command: 'worker', amount: 3 * 86_400 });
    expect(input.processes.cpu[0]?.share).toBeCloseTo(1, 5); // the machine's 50 % of 2 cores is the worker's one core
    store.close();
  });
});
