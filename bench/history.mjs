// History tiers: database size per day, rollup write rates, and queryHistory latency over
// 1 day, 30 days and 1 year.
//   npm run build && npm run bench:history -- [--days 30] [--year-days 365] [--procs 70]
//
// The 1-minute tier for the last `days` days is generated the way the recorder fills it:
// every minute of every system metric is merged from 60 synthetic 1 s values (so sketch
// sizes are those of real 1 s data), and every process series from one value per minute.
// Storing 2.6 M raw snapshots first and rolling them up would measure the raw write path
// instead, which bench:overhead covers. The 1-hour tier for those days comes from the real
// rollupHours over those rows; older hours (back to `year-days`) are merged from 3600
// synthetic values per system metric and 60 per process metric.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, machine, percentile } from './lib.mjs';

const { Store } = await import('../dist/store/index.js');
const { BucketWriter, rollupHours, ROLLUP_1M_UNTIL } = await import('../dist/store/rollup.js');
const { SeriesIds } = await import('../dist/store/series.js');
const { SYSTEM_METRICS } = await import('../dist/analyze/catalog.js');
const { QuantileSketch } = await import('../dist/analyze/sketch.js');
const { queryHistory } = await import('../dist/store/history.js');
const { setMeta } = await import('../dist/store/db.js');

const days = Number(arg('days', '30'));
const yearDays = Number(arg('year-days', '365'));
const procs = Number(arg('procs', '70'));
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;

// mulberry32: reproducible synthetic data
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sometimes = (p, v) => (rand() < p ? v() : 0);
const logUniform = (lo, hi) => lo * (hi / lo) ** rand();

/** One second of each system metric at time t: shapes like a busy desktop's. */
function systemValue(metric, t) {
  const day = Math.sin((2 * Math.PI * (t % DAY)) / DAY);
  switch (metric) {
    case 'cpu_percent':
      return Math.min(100, Math.max(0, 25 + 15 * day + 20 * rand() ** 3 * 4 * rand()));
    case 'cpu_iowait_percent':
    case 'cpu_pressure_some_percent':
    case 'memory_pressure_some_percent':
    case 'io_pressure_some_percent':
      return sometimes(0.2, () => 5 * rand());
    case 'load1':
      return Math.round((1.5 + day + rand()) * 100) / 100;
    case 'load5':
    case 'load15':
      return Math.round((1.5 + day) * 100) / 100;
    case 'memory_used_bytes':
      return 4e9 + 5e8 * day + Math.round(rand() * 1e6) * 4096;
    case 'memory_available_bytes':
      return 4e9 - 5e8 * day - Math.round(rand() * 1e6) * 4096;
    case 'memory_used_percent':
      return 50 + 6 * day + rand();
    case 'swap_used_percent':
      return 3.2;
    case 'major_faults_per_second':
    case 'tcp_retransmits_per_second':
      return sometimes(0.05, () => 1 + Math.floor(rand() * 5));
    case 'disk_read_bytes_per_second':
    case 'disk_write_bytes_per_second':
      return sometimes(0.4, () => logUniform(4096, 5e7));
    case 'disk_busy_percent':
      return sometimes(0.4, () => 30 * rand());
    case 'disk_await_ms':
      return sometimes(0.4, () => logUniform(0.1, 20));
    case 'network_receive_bytes_per_second':
    case 'network_transmit_bytes_per_second':
      return logUniform(200, 2e6);
    default:
      return 0; // steal, network errors and drops: zero on a healthy machine
  }
}

const procCpu = (k) => (k < 5 ? logUniform(1, 80) : sometimes(0.3, () => logUniform(0.05, 5)));
const procRss = (k, t) => Math.round((2e9 / (k + 1)) * (1 + 0.05 * Math.sin(t / DAY))) & ~4095;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-history-'));
process.on('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
const store = Store.open(dataDir);
const db = store.db;
const ids = new SeriesIds(db);
const writer = new BucketWriter(db);
const systemSeries = SYSTEM_METRICS.map((m) => [m.name, ids.id(m.name, 'system')]);
const procSeries = Array.from({ length: procs }, (_, k) => [
  ids.id('process_cpu_percent', `process:proc${k}`),
  ids.id('process_rss_bytes', `process:proc${k}`),
]);

// 1. Hours older than the minute tier, straight into rollup_1h.
const hoursStart = NOW - yearDays * DAY;
const minutesStart = NOW - days * DAY;
let t0 = performance.now();
let hourRows = 0;
const values = new Float64Array(3600);
for (let h = hoursStart; h < minutesStart; h += HOUR) {
  db.transaction(() => {
    for (const [metric, id] of systemSeries) {
      for (let s = 0; s < 3600; s++) values[s] = systemValue(metric, h + s * 1000);
      const sketch = QuantileSketch.of(values);
      writer.mergeAggregate('1h', id, h, { sketch, last: values[3599], lastTs: h + 3599_000 });
      hourRows++;
    }
    procSeries.forEach(([cpuId, rssId], k) => {
      const cpu = new QuantileSketch();
      const rss = new QuantileSketch();
      for (let m = 0; m < 60; m++) {
        cpu.add(procCpu(k));
        rss.add(procRss(k, h + m * MIN));
      }
      const lastTs = h + HOUR - 1000;
      writer.mergeAggregate('1h', cpuId, h, { sketch: cpu, last: cpu.max, lastTs });
      writer.mergeAggregate('1h', rssId, h, { sketch: rss, last: rss.max, lastTs });
      hourRows += 2;
    });
  })();
}
const oldHoursSeconds = (performance.now() - t0) / 1000;

// 2. The minute tier, one transaction per minute as the recorder commits it.
t0 = performance.now();
let minuteRows = 0;
for (let m = minutesStart; m < NOW; m += MIN) {
  db.transaction(() => {
    for (const [metric, id] of systemSeries) {
      const points = [];
      for (let s = 0; s < 60; s++)
        points.push({ ts: m + s * 1000, value: systemValue(metric, m + s * 1000) });
      writer.merge('1m', id, m, points);
      minuteRows++;
    }
    procSeries.forEach(([cpuId, rssId], k) => {
      writer.merge('1m', cpuId, m, [{ ts: m + 59_000, value: procCpu(k) }]);
      writer.merge('1m', rssId, m, [{ ts: m + 59_000, value: procRss(k, m) }]);
      minuteRows += 2;
    });
    setMeta(db, ROLLUP_1M_UNTIL, String(m + MIN));
  })();
}
const minuteSeconds = (performance.now() - t0) / 1000;

// 3. The real hourly rollup over the minute tier.
setMeta(db, 'rollup_1h_until', String(minutesStart));
t0 = performance.now();
let rolledHours = 0;
for (;;) {
  const r = rollupHours(db, { now: NOW, maxHours: 24 });
  rolledHours += r.buckets;
  if (!r.more) break;
}
const rollupSeconds = (performance.now() - t0) / 1000;

db.pragma('wal_checkpoint(TRUNCATE)');
const bytesOf = (name) =>
  db.prepare('SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?').pluck().get(name);
const mb = (b) => (b / 1e6).toFixed(2);
const m1 = bytesOf('rollup_1m');
const h1 = bytesOf('rollup_1h');
const h1Rows = db.prepare('SELECT count(*) FROM rollup_1h').pluck().get();
const seriesCount = systemSeries.length + 2 * procs;

function timeQuery(label, q, runs) {
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
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
  `data: ${seriesCount} series (${systemSeries.length} system + ${procs} processes x 2), ` +
    `${days} days of 1m rows, ${yearDays} days of 1h rows`,
);
console.log('size:');
console.log(
  `  rollup_1m  ${mb(m1)} MB total, ${mb(m1 / days)} MB/day, ${(m1 / minuteRows).toFixed(0)} B/row`,
);
console.log(
  `  rollup_1h  ${mb(h1)} MB total, ${mb(h1 / yearDays)} MB/day, ${(h1 / h1Rows).toFixed(0)} B/row`,
);
console.log(`  database file ${mb(fs.statSync(store.file).size)} MB`);
console.log('write rates:');
console.log(
  `  1m rows via BucketWriter.merge: ${(minuteRows / minuteSeconds).toFixed(0)} rows/s ` +
    `(${minuteRows} rows, one transaction per minute)`,
);
console.log(
  `  rollupHours: ${(rolledHours / rollupSeconds).toFixed(1)} hours/s ` +
    `(${((rolledHours * seriesCount * 60) / rollupSeconds).toFixed(0)} 1m rows/s merged)`,
);
console.log(`  older 1h rows: ${(hourRows / oldHoursSeconds).toFixed(0)} rows/s incl. generation`);
console.log('queryHistory (default step), cpu_percent of the system:');
const q = { metric: 'cpu_percent', entity: 'system', to: NOW };
timeQuery('1 day', { ...q, from: NOW - DAY }, 50);
timeQuery(`${days} days`, { ...q, from: NOW - days * DAY }, 50);
timeQuery('1 year', { ...q, from: NOW - 365 * DAY }, 20);
timeQuery(`${days} days at 1 min steps`, { ...q, from: NOW - days * DAY, stepMs: MIN }, 10);
const pq = { metric: 'process_cpu_percent', entity: 'process:proc0', to: NOW };
timeQuery('1 year, one process', { ...pq, from: NOW - 365 * DAY }, 20);

// km_analyze_bottlenecks over the same history (ranges over 6 h read the 1-minute tier).
const { analyzeBottlenecks } = await import('../dist/analyze/bottlenecks/index.js');
const bn = { clockTicks: 100, pageSize: 4096, cores: os.cpus().length };
console.log('km_analyze_bottlenecks core (system scope, all resources):');
for (const [label, range, runs] of [
  ['last_day', DAY, 20],
  ['last_week', 7 * DAY, 10],
  [`${days} days (custom)`, days * DAY, 5],
]) {
  const times = [];
  let findings = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = analyzeBottlenecks(store, bn, {
      scope: 'system',
      from: NOW - range,
      to: NOW,
      label,
      types: ['cpu', 'memory', 'io', 'network'],
      severityThreshold: 'low',
      includeRecommendations: true,
    });
    times.push(performance.now() - t);
    findings = r.findings.length;
  }
  times.sort((a, b) => a - b);
  console.log(
    `  ${label.padEnd(34)} p50 ${percentile(times, 0.5).toFixed(1)} ms  p99 ${percentile(times, 0.99).toFixed(1)} ms  (${findings} findings, n=${runs})`,
  );
}
store.close();
