// km_analyze_bottlenecks response time per time range, on a database generated faster than
// bench:history's (rows written straight in rather than merged) and kept for reuse.
//   npm run build && npm run bench:analyze -- [--data-dir DIR] [--days 30] [--procs 70]
//     [--raw-procs 500] [--raw-hours 6] [--runs 30] [--findings]
// With --data-dir the database is generated there once and reused while the parameters
// stay the same; without, it goes to a temporary directory removed at exit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, machine, percentile } from './lib.mjs';
import { cached, generateRaw, generateRolled, timeAnalysis } from './history-lib.mjs';

const { Store } = await import('../dist/store/index.js');

const params = {
  generator: 4,
  days: Number(arg('days', '30')),
  procs: Number(arg('procs', '70')),
  rawProcs: Number(arg('raw-procs', '500')),
  rawHours: Number(arg('raw-hours', '6')),
  cores: os.cpus().length,
};
const runs = Number(arg('runs', '30'));
let dataDir = arg('data-dir', null);
if (dataDir === null) {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-analyze-'));
  process.on('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
}

const t0 = performance.now();
const { now, reused } = cached(
  dataDir,
  params,
  () => Store.open(dataDir),
  (store, now) => {
    const rolled = generateRolled(store, {
      now,
      days: params.days,
      yearDays: params.days,
      procs: params.procs,
      fast: true,
    });
    const raw = generateRaw(store, {
      now,
      seconds: params.rawHours * 3600,
      procs: params.rawProcs,
      cores: params.cores,
    });
    console.log(
      `generated ${rolled.rows} 1m rows, ${raw.snapshots} raw snapshots with ` +
        `${raw.processRows} process rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  },
);
if (reused) console.log(`reusing the database in ${dataDir}`);

console.log(`machine: ${machine()}`);
console.log(
  `data: ${params.days} days of 1m and 1h rows (23 system metrics, ${params.procs} processes), ` +
    `last ${params.rawHours} h raw with ${params.rawProcs} processes stored on change`,
);
const store = Store.open(dataDir);
console.log('km_analyze_bottlenecks, system scope, default parameters, server-side time:');
for (const r of await timeAnalysis(store, dataDir, now, { days: params.days, runs })) {
  console.log(
    `  ${r.range.padEnd(16)} p50 ${percentile(r.times, 0.5).toFixed(1).padStart(6)} ms  ` +
      `p99 ${percentile(r.times, 0.99).toFixed(1).padStart(6)} ms  max ${r.times.at(-1).toFixed(1).padStart(6)} ms  ` +
      `(${r.samples} samples at ${r.resolutionS} s, ${r.findings} findings, n=${runs})`,
  );
  if (process.argv.includes('--findings')) console.log(`    ${r.ids.join(' ')}`);
}
store.close();
