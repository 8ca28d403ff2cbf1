// CPU of the recorder's minute rollup, on this machine's /proc (processes included) with a
// fake clock that ticks as fast as sampling allows. First as the recorder runs it: 60 ticks,
// then rollupMinutes for the minute just complete, `minutes` times (the code runs once a
// minute, so V8 optimizes little of it). Then `passes` more times over all those minutes,
// from an empty 1-minute tier each pass: the same work once V8 has compiled it hot.
// --pause-ms N waits N ms after each recorded minute, so that other work on the machine
// cools the caches between rollups as a minute of real time does.
//   npm run build && npm run bench:rollup -- [--minutes 40] [--passes 5] [--pause-ms 1000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { arg, machine, percentile, processCount, sleep } from './lib.mjs';

const { Store } = await import('../dist/store/index.js');
const { createBackend } = await import('../dist/collect/backend.js');
const { Recorder } = await import('../dist/collect/recorder.js');
const { rollupMinutes, ROLLUP_1M_UNTIL } = await import('../dist/store/rollup.js');

const minutes = Number(arg('minutes', '40'));
const passes = Number(arg('passes', '5'));
const pauseMs = Number(arg('pause-ms', '0'));
const MIN = 60_000;
const T0 = Math.floor(Date.now() / MIN) * MIN - (minutes + 1) * MIN;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-rollup-'));
process.on('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
const store = Store.open(dataDir);
const db = store.db;
const backend = createBackend({});
const info = backend.machineInfo();
const sampler = backend.createSampler({ processes: true });
const recorder = new Recorder(sampler, store, {
  intervalMs: 1000,
  logger: pino({ level: 'silent' }),
  clock: () => T0,
  // the rollups measured below are the only ones
  housekeepingMs: Number.MAX_SAFE_INTEGER,
});

/** CPU ms (user + system, all threads: V8 compiles and collects garbage off-thread) and wall ms. */
function rollOne(now) {
  const w = performance.now();
  const c = process.cpuUsage();
  const r = rollupMinutes(db, { now, machine: info, maxMinutes: 1 });
  const u = process.cpuUsage(c);
  if (r.buckets !== 1) throw new Error(`${r.buckets} minutes rolled up at ${now}, not 1`);
  return { cpu: (u.user + u.system) / 1000, wall: performance.now() - w };
}

const f = (v) => v.toFixed(2).padStart(6);
function report(label, runs) {
  const cpu = runs.map((r) => r.cpu).sort((a, b) => a - b);
  const wall = runs.map((r) => r.wall).sort((a, b) => a - b);
  const mean = cpu.reduce((a, b) => a + b, 0) / cpu.length;
  console.log(
    `  ${label.padEnd(22)} CPU mean ${f(mean)} p50 ${f(percentile(cpu, 0.5))} ` +
      `p90 ${f(percentile(cpu, 0.9))} max ${f(cpu.at(-1))}; wall p50 ${f(percentile(wall, 0.5))}` +
      ` (n=${runs.length})`,
  );
}

console.log(`machine: ${machine()}; ${processCount()} processes`);
console.log('rollupMinutes, one minute per call, ms per minute:');
const live = [];
for (let m = 0; m < minutes; m++) {
  for (let s = 0; s < 60; s++) recorder.tick(T0 + m * MIN + s * 1000);
  if (pauseMs > 0) await sleep(pauseMs);
  // The minute before is complete once a sample 5 s into this one exists.
  if (m > 0) live.push(rollOne(T0 + m * MIN + 5_000));
}
for (let s = 0; s <= 5; s++) recorder.tick(T0 + minutes * MIN + s * 1000);
live.push(rollOne(T0 + minutes * MIN + 5_000));
recorder.stop();
sampler.close();
const warm = Math.min(10, Math.floor(minutes / 2));
report(`recording, first ${warm}`, live.slice(0, warm));
report(`recording, the rest`, live.slice(warm));
for (let pass = 1; pass <= passes; pass++) {
  db.prepare('DELETE FROM rollup_1m').run();
  db.prepare('DELETE FROM meta WHERE key = ?').run(ROLLUP_1M_UNTIL);
  const runs = [];
  for (let m = 1; m <= minutes; m++) runs.push(rollOne(T0 + m * MIN + 5_000));
  report(`again, pass ${pass}`, runs);
}
const rows = db.prepare('SELECT count(*) FROM rollup_1m').pluck().get();
console.log(`  ${rows} rows in rollup_1m after each pass`);
store.close();
