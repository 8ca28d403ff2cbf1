import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOOT, writeSynthetic } from '../../test/helpers/history.js';
import { MACHINE } from '../../test/helpers/snapshots.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { getMeta } from './db.js';
import { Store } from './index.js';
import { ROLLUP_1M_UNTIL, rollupMinutes } from './rollup.js';

const HOUR = 3_600_000;
const T0 = Math.ceil((BOOT * 1000 + 10 * HOUR) / HOUR) * HOUR;
const NOW = T0 + 2 * HOUR;
// The child runs the built product (npm test builds before it runs the tests).
const BUILT = path.resolve('dist/store/rollup.js');

const CHILD = `
import Database from 'better-sqlite3';
const { rollupMinutes } = await import(process.env.ROLLUP_JS);
const db = new Database(process.env.DB_FILE);
db.pragma('busy_timeout = 5000');
const machine = ${JSON.stringify(MACHINE)};
for (;;) {
  const r = rollupMinutes(db, { now: ${NOW}, machine, maxMinutes: 1 });
  process.stdout.write(r.more ? 'minute\\n' : 'done\\n');
  if (!r.more) break;
}
`;

function dump(store: Store) {
  return store.db
    .prepare(
      `SELECT s.metric, s.entity, r.* FROM rollup_1m r JOIN series s ON s.id = r.series_id
       ORDER BY s.metric, s.entity, r.ts`,
    )
    .all();
}

describe('rollup under kill -9', () => {
  it.skipIf(!fs.existsSync(BUILT))(
    'resumes after the rolling process is killed mid-way, with no gap and no double count',
    async () => {
      const stores = [tempDir(), tempDir()].map((d) => Store.open(d));
      for (const s of stores) {
        let i = 0;
        writeSynthetic(s, { start: T0, seconds: 3600, cpu: () => 10 + ((i++ * 37) % 80) });
      }
      const [crashy, clean] = stores as [Store, Store];
      const file = crashy.file;
      crashy.close();
      const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
        env: { ...process.env, ROLLUP_JS: BUILT, DB_FILE: file },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let minutes = 0;
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, signal) => resolve(signal)),
      );
      child.stdout.on('data', (d: Buffer) => {
        minutes += d
          .toString()
          .split('\n')
          .filter((l) => l === 'minute').length;
        // a few minutes in, at an arbitrary moment within the next ones
        if (minutes >= 3 && !child.killed) {
          setTimeout(() => child.kill('SIGKILL'), Math.random() * 8);
        }
      });
      expect(await exited).toBe('SIGKILL');

      const reopened = Store.open(path.dirname(file));
      expect(reopened.db.pragma('integrity_check', { simple: true })).toBe('ok');
      const until = Number(getMeta(reopened.db, ROLLUP_1M_UNTIL));
      expect(until).toBeGreaterThanOrEqual(T0 + 3 * 60_000);
      expect(until).toBeLessThan(T0 + HOUR);
      // nothing past the watermark survived the kill
      const after = reopened.db.prepare('SELECT count(*) FROM rollup_1m WHERE ts >= ?').pluck();
      expect(after.get(until)).toBe(0);
      while (rollupMinutes(reopened.db, { now: NOW, machine: MACHINE, maxMinutes: 100 }).more);
      while (rollupMinutes(clean.db, { now: NOW, machine: MACHINE, maxMinutes: 100 }).more);
      expect(dump(reopened)).toEqual(dump(clean));
      reopened.close();
      clean.close();
    },
  );
});
