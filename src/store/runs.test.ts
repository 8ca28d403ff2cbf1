import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from './index.js';
import type { RunResult } from './runs.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function open(): Store {
  const store = Store.open(tempDir());
  stores.push(store);
  return store;
}

const result = (endedAt: number, status: 'ok' | 'failed' = 'ok'): RunResult => ({
  endedAt,
  wallMs: 250,
  cpuMs: 40,
  peakRssBytes: 1 << 20,
  exitCode: status === 'ok' ? 0 : 2,
  signal: null,
  status,
});

describe('RunStore', () => {
  it('starts a run as running and finishes it with its measurements', () => {
    const { runs } = open();
    const id = runs.start('backup', 'rsync -a src dst', 777, 1000);
    expect(runs.running(null)).toEqual([
      {
        id,
        automation: 'backup',
        command: 'rsync -a src dst',
        pid: 777,
        started_at: 1000,
        ended_at: null,
        wall_ms: null,
        cpu_ms: null,
        peak_rss_bytes: null,
        exit_code: null,
        signal: null,
        status: 'running',
      },
    ]);
    runs.finish(id, { ...result(1250, 'failed'), exitCode: null, signal: 'SIGKILL' });
    expect(runs.running(null)).toEqual([]);
    expect(runs.finished(null, 0, 2000)).toEqual([
      expect.objectContaining({
        id,
        ended_at: 1250,
        wall_ms: 250,
        cpu_ms: 40,
        peak_rss_bytes: 1 << 20,
        exit_code: null,
        signal: 'SIGKILL',
        status: 'failed',
      }),
    ]);
  });

  it('finds finished runs by end time in an inclusive window, oldest end first', () => {
    const { runs } = open();
    const a3 = runs.start('a', 'x', null, 0);
    const b2 = runs.start('b', 'x', null, 0);
    const a1 = runs.start('a', 'x', null, 0);
    const late = runs.start('a', 'x', null, 0);
    runs.start('a', 'x', null, 0); // never finishes
    runs.finish(a3, result(3000));
    runs.finish(b2, result(2000, 'failed'));
    runs.finish(a1, result(1000));
    runs.finish(late, result(5000));
    expect(runs.finished(null, 1000, 3000).map((r) => r.id)).toEqual([a1, b2, a3]);
    expect(runs.finished('a', 1000, 3000).map((r) => r.id)).toEqual([a1, a3]);
    expect(runs.finished('b', 2001, 9000)).toEqual([]);
    expect(runs.finished('nobody', 0, 9000)).toEqual([]);
  });

  it('lists running runs for one automation or all', () => {
    const { runs } = open();
    const a = runs.start('a', 'x', 10, 0);
    const b = runs.start('b', 'y', null, 0);
    runs.finish(runs.start('a', 'z', 11, 0), result(5));
    expect(
      runs
        .running(null)
        .map((r) => r.id)
        .sort(),
    ).toEqual([a, b].sort());
    expect(runs.running('a').map((r) => [r.id, r.pid])).toEqual([[a, 10]]);
    expect(runs.running('c')).toEqual([]);
  });

  it('names each automation once, sorted', () => {
    const { runs } = open();
    expect(runs.names()).toEqual([]);
    for (const name of ['nightly', 'backup', 'nightly', 'Zeta']) runs.start(name, 'x', null, 0);
    expect(runs.names()).toEqual(['Zeta', 'backup', 'nightly']);
  });
});
