// History tiers: database size per day, rollup write rates, queryHistory latency over
// 1 day, 30 days and 1 year, and km_analyze_bottlenecks response time per time range.
//   npm run build && npm run bench:history -- [--days 30] [--year-days 365] [--procs 70]
//     [--raw-procs 500] [--raw-hours 6] [--runs 30]
//
// The 1-minute tier for the last `days` days is generated the way the recorder fills it:
// every minute of every system metric is merged from 60 synthetic 1 s values (so sketch
// sizes are those of real 1 s data), and every process series from one value per minute.
// Storing 2.6 M raw snapshots first and rolling them up would measure the raw write path
// instead, which bench:overhead covers. The 1-hour tier for those days comes from the real
// rollupHours over those rows; older hours (back to `year-days`) are merged from 3600
// synthetic values per system metric and 60 per process metric; the real rollupDays makes
// the 1-day tier from all hours. The last `raw-hours` are also stored raw, through the
// recorder's writer, with `raw-procs` processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, machine, percentile } from './lib.mjs';
import { DAY, MIN, generateRaw, generateRolled, timeAnalysis } from './history-lib.mjs';

const { Store } = await import('../dist/store/index.js');
const { queryHistory } = await import('../dist/store/history.js');

const days = Number(arg('days', '30'));
const yearDays = Number(arg('year-days', '365'));
const procs = Number(arg('procs', '70'));
const rawProcs = Number(arg('raw-procs', '500'));
const rawHours = Number(arg('raw-hours', '6'));
const runs = Number(arg('runs', '30'));
const HOUR = 3_600_000;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-history-'));
process.on('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
const store = Store.open(dataDir);
const db = store.db;

const gen = generateRolled(store, { now: NOW, days, yearDays, procs });
const raw = generateRaw(store, {
  now: NOW,
  seconds: rawHours * 3600,
  procs: rawProcs,
  cores: os.cpus().length,
});

db.pragma('wal_checkpoint(TRUNCATE)');
const bytesOf = (name) =>
  db.prepare('SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?').pluck().get(name);
const mb = (b) => (b / 1e6).toFixed(2);
const m1 = bytesOf('rollup_1m');
const h1 = bytesOf('rollup_1h');
const h1Rows = db.prepare('SELECT count(*) FROM rollup_1h').pluck().get();
const d1 = bytesOf('rollup_1d');
const d1Rows = db.prepare('SELECT count(*) FROM rollup_1d').pluck().get();

function timeQuery(label, q, n) {
  const times = [];
  let result;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    result = queryHistory(store, { ...q, now: NOW });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const s = result.summary;
  console.log(
    `  ${label.padEnd(34)} tier ${result.tier.padEnd(3)} step ${String(result.stepMs / 1000).padStart(6)} s ` +
      `${String(result.points.length).padStart(5)} points  p50 ${percentile(times, 0.5).toFixed(1)} ms  ` +
      `p99 ${percentile(times, 0.99).toFixed(1)} ms  (summary p95 ${s.p95?.toFixed(2)})`,
  );
}

console.log(`machine: ${machine()}`);
console.log(
  `data: ${gen.seriesCount} series (${gen.systemSeries} system + ${procs} processes x 2), ` +
    `${days} days of 1m rows, ${yearDays} days of 1h rows; ` +
    `last ${rawHours} h raw with ${rawProcs} processes (${raw.processRows} process rows stored on change)`,
);
console.log('size:');
console.log(
  `  rollup_1m  ${mb(m1)} MB total, ${mb(m1 / days)} MB/day, ${(m1 / gen.rows).toFixed(0)} B/row`,
);
console.log(
  `  rollup_1h  ${mb(h1)} MB total, ${mb(h1 / yearDays)} MB/day, ${(h1 / h1Rows).toFixed(0)} B/row`,
);
console.log(
  `  rollup_1d  ${mb(d1)} MB total, ${mb(d1 / yearDays)} MB/day, ${(d1 / d1Rows).toFixed(0)} B/row`,
);
console.log(`  database file ${mb(fs.statSync(store.file).size)} MB`);
console.log('write rates:');
console.log(
  `  1m rows via BucketWriter.merge: ${(gen.rows / gen.minuteSeconds).toFixed(0)} rows/s ` +
    `(${gen.rows} rows, one transaction per minute)`,
);
console.log(
  `  rollupHours: ${(gen.hours / gen.rollupSeconds).toFixed(1)} hours/s ` +
    `(${((gen.hours * gen.seriesCount * 60) / gen.rollupSeconds).toFixed(0)} 1m rows/s merged)`,
);
console.log(
  `  rollupDays: ${(gen.days / gen.daySeconds).toFixed(1)} days/s ` +
    `(${((gen.days * gen.seriesCount * 24) / gen.daySeconds).toFixed(0)} 1h rows/s merged)`,
);
console.log(
  `  older 1h rows: ${(gen.hourRows / gen.oldHoursSeconds).toFixed(0)} rows/s incl. generation`,
);
console.log(
  `  raw snapshots via SampleWriter: ${(raw.snapshots / raw.seconds).toFixed(0)} snapshots/s ` +
    `incl. generation (${rawProcs} processes each)`,
);
console.log('queryHistory (default step), cpu_percent of the system:');
const q = { metric: 'cpu_percent', entity: 'system', to: NOW };
timeQuery('1 day', { ...q, from: NOW - DAY }, 50);
timeQuery(`${days} days`, { ...q, from: NOW - days * DAY }, 50);
timeQuery('1 year', { ...q, from: NOW - 365 * DAY }, 20);
timeQuery(`${days} days at 1 min steps`, { ...q, from: NOW - days * DAY, stepMs: MIN }, 10);
const pq = { metric: 'process_cpu_percent', entity: 'process:proc0', to: NOW };
timeQuery('1 year, one process', { ...pq, from: NOW - 365 * DAY }, 20);

console.log(
  'km_analyze_bottlenecks, system scope, default parameters (report written, recommendations),\n' +
    '  server-side time of each tools/call through a real MCP server:',
);
for (const r of await timeAnalysis(store, dataDir, NOW, { days, runs })) {
  console.log(
    `  ${r.range.padEnd(16)} p50 ${percentile(r.times, 0.5).toFixed(1).padStart(6)} ms  ` +
      `p99 ${percentile(r.times, 0.99).toFixed(1).padStart(6)} ms  ` +
      `(${r.samples} samples at ${r.resolutionS} s, ${r.findings} findings, n=${r.times.length})`,
  );
}
store.close();
