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

  it('logs a failed rollup and goes on; without the machine it does not roll up', () => {
    const machine = createBackend({}).machineInfo();
    const broken = rig({ machine, hourRetentionMs: 3600_000 });
    broken.store.db.exec(
      "CREATE TRIGGER boom BEFORE INSERT ON rollup_1m BEGIN SELECT RAISE(ABORT, 'full'); END",
    );
    broken.recorder.housekeeping(T + 2 * 60_000);
    expect(broken.logs.map((l) => l.msg)).toContain('rollup failed; will retry');
    const off = rig({});
    off.recorder.housekeeping(T + 2 * 60_000);
    expect(off.count('SELECT count(*) FROM rollup_1m')).toBe(0);
  });
});
