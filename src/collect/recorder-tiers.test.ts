import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { Store } from '../store/index.js';
import { createBackend } from './backend.js';
import { Recorder, type RecorderOptions } from './recorder.js';

const T = Date.UTC(2024, 0, 1, 12);
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function rig(opts: Partial<RecorderOptions>) {
  const store = Store.open(tempDir());
  const backend = createBackend({});
  const sampler = backend.createSampler({ processes: true });
  const logs: { msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const recorder = new Recorder(sampler, store, {
    intervalMs: 1000,
    logger,
    clock: () => T,
    housekeepingMs: 3600_000,
    ...opts,
  });
  cleanup.push(() => {
    recorder.stop();
    sampler.close();
    store.close();
  });
  for (let s = 0; s <= 70; s += 10) recorder.tick(T + s * 1000);
  const count = (sql: string) => Number(store.db.prepare(sql).pluck().get());
  return { store, recorder, logs, count, machine: backend.machineInfo() };
}

describe('Recorder housekeeping and the rolled-up tiers', () => {
  it('rolls complete minutes up, system and processes, when it knows the machine', () => {
    const machine = createBackend({}).machineInfo();
    const { recorder, count } = rig({ machine, minuteRetentionMs: 3600_000 });
    recorder.housekeeping(T + 2 * 60_000);
    expect(
      count(`SELECT count(*) FROM rollup_1m r JOIN series s ON s.id = r.series_id
      WHERE s.metric = 'cpu_percent' AND r.ts = ${T}`),
    ).toBe(1);
    expect(count("SELECT count(*) FROM series WHERE entity LIKE 'process:%'")).toBeGreaterThan(0);
  });

  it('rolls up every rollupEveryMs, and again at the next housekeeping while minutes wait', () => {
    const machine = createBackend({}).machineInfo();
    const { recorder, count } = rig({ machine, rollupEveryMs: 10 * 60_000 });
    // a gauge: every minute with a sample has a value (CPU percent needs a jiffy to pass)
    const minuteRolled = (m: number) =>
      count(`SELECT count(*) FROM rollup_1m r JOIN series s ON s.id = r.series_id
      WHERE s.metric = 'memory_used_percent' AND r.ts = ${T + m * 60_000}`);
    recorder.housekeeping(T + 2 * 60_000);
    // minute 1 ends less than 5 s before: not complete yet
    expect([minuteRolled(0), minuteRolled(1)]).toEqual([1, 0]);
    for (let s = 120; s <= 55 * 60; s += 30) recorder.tick(T + s * 1000);
    // two minutes later: not due yet, minute 1 waits in the raw samples
    recorder.housekeeping(T + 4 * 60_000);
    expect(minuteRolled(1)).toBe(0);
    // ten minutes after the last rollup: 30 minutes at most in one call, the rest waits
    recorder.housekeeping(T + 51 * 60_000);
    expect([minuteRolled(1), minuteRolled(30), minuteRolled(31)]).toEqual([1, 1, 0]);
    // behind: the next housekeeping, a minute later, goes on at once, up to the last complete minute
    recorder.housekeeping(T + 52 * 60_000);
    expect([minuteRolled(31), minuteRolled(50), minuteRolled(51)]).toEqual([1, 1, 0]);
    // caught up: the minute after waits for the next ten
    recorder.housekeeping(T + 53 * 60_000);
    expect(minuteRolled(51)).toBe(0);
  });

  it('logs a failed rollup and goes on; without the machine it does not roll up', () => {
    const machine = createBackend({}).machineInfo();
    const broken = rig({ machine, hourRetentionMs: 3600_000 });
    broken.store.db.exec(
      "CREATE TRIGGER boom BEFORE INSERT ON rollup_1m BEGIN SELECT RAISE(ABORT, 'full'); END",
    );
    broken.recorder.housekeeping(T + 2 * 60_000);
    expect(broken.logs.map((l) => l.msg)).toContain('rollup failed; will retry');
    // retried at the next housekeeping, not ten minutes later
    broken.store.db.exec('DROP TRIGGER boom');
    broken.recorder.housekeeping(T + 3 * 60_000);
    expect(broken.count('SELECT count(*) FROM rollup_1m')).toBeGreaterThan(0);
    const off = rig({});
    off.recorder.housekeeping(T + 2 * 60_000);
    expect(off.count('SELECT count(*) FROM rollup_1m')).toBe(0);
  });
});
