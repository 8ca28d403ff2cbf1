import { describe, expect, it } from 'vitest';
import { AutomationValues, ERROR_RATE_RUNS, RATE_WINDOW_MS, type FinishedRun } from './runs.js';

const run = (id: number, endedAt: number, over: Partial<FinishedRun> = {}): FinishedRun => ({
  id,
  automation: 'job',
  ended_at: endedAt,
  wall_ms: id * 10,
  cpu_ms: id,
  peak_rss_bytes: id * 1000,
  status: 'ok',
  ...over,
});

describe('AutomationValues', () => {
  it('has no value for an automation without finished runs, or for other metrics', () => {
    const v = new AutomationValues();
    expect(v.value('execution_time_ms', 'job', 0)).toBeNull();
    v.observe(run(1, 1000));
    expect(v.value('cpu_percent', 'job', 1000)).toBeNull();
  });

  it('reports the latest run by end time, whatever order runs arrive in', () => {
    const v = new AutomationValues();
    expect(v.observe(run(2, 2000))).toBe(true);
    expect(v.observe(run(1, 1000))).toBe(true);
    expect(v.value('execution_time_ms', 'job', 5000)).toBe(20);
    expect(v.value('execution_cpu_ms', 'job', 5000)).toBe(2);
    expect(v.value('execution_peak_rss_bytes', 'job', 5000)).toBe(2000);
    expect([...v.names()]).toEqual(['job']);
  });

  it('ignores runs seen before and runs too old to matter', () => {
    const v = new AutomationValues();
    expect(v.observe(run(1, 1000))).toBe(true);
    expect(v.observe(run(1, 1000))).toBe(false);
    const late = RATE_WINDOW_MS * 10;
    for (let i = 0; i < ERROR_RATE_RUNS; i++) v.observe(run(100 + i, late + i));
    expect(v.observe(run(2, 2000))).toBe(false);
  });

  it('error_rate is the failed share of the last runs', () => {
    const v = new AutomationValues();
    for (let i = 0; i < 15; i++) {
      v.observe(run(i, i * RATE_WINDOW_MS, { status: i < 8 ? 'failed' : 'ok' }));
    }
    // the last 10 runs are 5..14, of which 5, 6, 7 failed
    expect(v.value('error_rate', 'job', 20 * RATE_WINDOW_MS)).toBeCloseTo(0.3, 12);
  });

  it('runs_per_minute counts runs that ended in the trailing window at ts', () => {
    const v = new AutomationValues();
    for (let i = 0; i < 30; i++) v.observe(run(i, i * 20_000));
    const last = 29 * 20_000;
    // window (last − 5 min, last]: 15 runs
    expect(v.value('runs_per_minute', 'job', last)).toBe(3);
    expect(v.value('runs_per_minute', 'job', last + RATE_WINDOW_MS)).toBe(0);
    // (last − 150 s, last + 150 s]: runs 22..29
    expect(v.value('runs_per_minute', 'job', last + 150_000)).toBeCloseTo(8 / 5, 12);
  });
});
