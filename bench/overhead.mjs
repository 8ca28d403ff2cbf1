// Recorder overhead: `kmpm mcp` (recorder + MCP server in one process, a client connected)
// side by side with prometheus-node-exporter scraped every second, over the same window.
// --against DIR runs a second kmpm from another built checkout (e.g. a `git worktree` of
// the previous commit after `npm ci`) beside this one, on its own data directory: an A/B
// over the same window, which is the only fair comparison on a shared, noisy machine.
// Several checkouts, comma-separated, run side by side the same way.
// --rules N runs one more kmpm of each checkout (this one and every --against) holding N
// alert rules (quiet ones, as most rules are most of the time), created through its MCP
// client, to show what rules add to each build.
// Each kmpm's alert evaluation time a tick is read from its own stats (collector_stat).
// Beside them runs bench/reference-recorder.mjs, the lean recorder of REFERENCE.md's table
// (its techniques and nothing else): what the floor costs on this machine in this window.
// The figures are the steady state: V8 compiles the recorder's code as it gets hot, which
// at one tick a second takes minutes (~8 here), so the default warm-up is 10 minutes; the
// CPU of the warm-up itself (from 30 s on) is printed too.
//   npm run bench:overhead -- [--seconds 300] [--procs 500] [--warmup 600] [--against DIR[,DIR]]
//                             [--rules 1000]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import Database from 'better-sqlite3';
import { arg, cpuSeconds, machine, processCount, rssBytes, sleep } from './lib.mjs';

const seconds = Number(arg('seconds', process.env.BENCH_SECONDS ?? '300'));
const warmup = Number(arg('warmup', '600'));
const nRules = Number(arg('rules', '0'));
const targetProcs = Number(arg('procs', '0'));
const against = (arg('against', null)?.split(',') ?? []).filter(Boolean);
const exporterBin = ['/usr/bin/prometheus-node-exporter', '/usr/bin/node_exporter'].find((p) =>
  fs.existsSync(p),
);

const sleepers = [];
const children = [];
const recorders = [];
let referenceDir = null;
function cleanup() {
  for (const c of [...children, ...sleepers]) c.kill('SIGKILL');
  for (const r of recorders) fs.rmSync(r.dataDir, { recursive: true, force: true });
  if (referenceDir) fs.rmSync(referenceDir, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

while (targetProcs && processCount() < targetProcs) {
  sleepers.push(spawn('sleep', [String(seconds + warmup + 120)], { stdio: 'ignore' }));
  if (sleepers.length % 50 === 0) await sleep(50);
}

/** One `kmpm mcp` with a client connected, recording into its own data directory. */
async function startKmpm(name, root) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-'));
  // Launched as a user runs it: the executable, so the Node flags on its first line apply.
  const transport = new StdioClientTransport({
    command: path.join(root, 'bin/kmpm'),
    args: ['mcp', '--data-dir', dataDir],
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  const r = { name, dataDir, client, pid: transport.pid };
  recorders.push(r);
  return r;
}

/** Quiet rules on system metrics, every operator: thresholds this machine does not reach. */
async function addRules(r, n) {
  const kinds = [
    ['cpu', 'gt', 99.5],
    ['memory', 'gte', 99.5],
    ['load1', 'gt', 1000],
    ['swap_used_percent', 'gt', 99.5],
    ['disk_busy_percent', 'gte', 100.5],
    ['memory', 'lt', 0],
    ['cpu', 'lte', -1],
    ['load15', 'eq', 1e6],
  ];
  for (let i = 0; i < n; i++) {
    const [metric_type, threshold_operator, threshold_value] = kinds[i % kinds.length];
    const res = await r.client.callTool({
      name: 'km_set_performance_alerts',
      arguments: {
        alert_name: `bench-${i}`,
        metric_type,
        threshold_operator,
        threshold_value,
        evaluation_period: 60,
      },
    });
    if (res.isError) throw new Error(`rule ${i}: ${JSON.stringify(res.content)}`);
  }
}

const checkouts = ['.', ...against];
const label = (dir) => (dir === '.' ? 'kmpm mcp' : `kmpm mcp (${dir})`);
for (const dir of checkouts) await startKmpm(label(dir), path.resolve(dir));
for (const dir of nRules > 0 ? checkouts : []) {
  await addRules(await startKmpm(`${label(dir)} + ${nRules} rules`, path.resolve(dir)), nRules);
}

referenceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-ref-'));
const reference = spawn(process.execPath, ['bench/reference-recorder.mjs', referenceDir], {
  stdio: 'ignore',
});
children.push(reference);

let exporter = null;
let port = 0;
if (exporterBin) {
  port = 20000 + Math.floor(Math.random() * 20000);
  exporter = spawn(exporterBin, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  children.push(exporter);
} else {
  console.error(
    'prometheus-node-exporter not installed (apt-get install prometheus-node-exporter): kmpm only',
  );
}

// The scraper runs in this process; its own CPU is reported beside the exporter's.
let scrapes = 0;
let scraping = true;
const scraper = (async () => {
  await sleep(1000);
  while (scraping && exporter) {
    const t = Date.now();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      await res.text();
      scrapes++;
    } catch {
      /* not up yet */
    }
    await sleep(Math.max(0, 1000 - (Date.now() - t)));
  }
})();

// Logical size as a reader sees it (main file + committed WAL frames, less free pages):
// file sizes alone mostly show the WAL, which is reused in place and never shrinks.
// `raw` is the part in the raw sample tables (and their indexes), without the rolled-up
// tiers, the audit log and the rest. core_raw is there for builds before schema 7 (which
// packed cores into system_raw), so that --against an older build counts all of its raw rows.
const RAW_TABLES = new Set([
  'system_raw',
  'core_raw',
  'disk_raw',
  'net_raw',
  'process',
  'process_raw',
]);
/** fn(db) on a read-only connection to dataDir's database, closed afterwards. */
const reading = (dataDir, fn, file = 'kmpm.db') => {
  const db = new Database(path.join(dataDir, file), { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
};
const dbBytes = (dataDir, file = 'kmpm.db') => {
  // With little or no warm-up a recorder may not have created its database yet: nothing stored.
  if (!fs.existsSync(path.join(dataDir, file))) return { total: 0, raw: 0 };
  return reading(
    dataDir,
    (db) => {
      const pages =
        db.pragma('page_count', { simple: true }) - db.pragma('freelist_count', { simple: true });
      let raw = 0;
      for (const r of db.prepare('SELECT tbl_name AS t, name FROM sqlite_schema').all()) {
        if (!RAW_TABLES.has(r.t)) continue;
        raw += db
          .prepare('SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?')
          .pluck()
          .get(r.name);
      }
      return { total: pages * db.pragma('page_size', { simple: true }), raw };
    },
    file,
  );
};
/**
 * Wall time a tick of one part the recorder times itself (collector_stat `name`: 'alerts' for
 * the alert hook, 'write' for sample writes), over its per-minute stats since `from`.
 */
const ownTiming = (dataDir, name, from) =>
  reading(dataDir, (db) =>
    db
      .prepare(
        `SELECT (SELECT sum(ticks) FROM recorder_stat WHERE ts >= @from) AS ticks,
           sum(runs) AS runs,
           1000 * sum(duration_ms_sum) / (SELECT sum(ticks) FROM recorder_stat WHERE ts >= @from) AS us
         FROM collector_stat WHERE name = @name AND ts >= @from`,
      )
      .get({ from, name }),
  );
const rows = (dataDir) =>
  reading(dataDir, (db) =>
    db
      .prepare(
        'SELECT (SELECT count(*) FROM system_raw) AS ticks, (SELECT count(*) FROM process_raw) AS process_rows, (SELECT count(*) FROM process) AS processes',
      )
      .get(),
  );

console.log(
  `machine: ${machine()}; ${processCount()} processes; ${seconds} s measured after ${warmup} s warm-up`,
);
const early = Math.min(30, warmup);
await sleep(early * 1000);
const warm = { t: performance.now(), cpu: recorders.map((r) => cpuSeconds(r.pid)) };
await sleep((warmup - early) * 1000);
const warmWall = (performance.now() - warm.t) / 1000;
if (warmWall >= 60) {
  recorders.forEach((r, i) => {
    const cpu = (100 * (cpuSeconds(r.pid) - warm.cpu[i])) / warmWall;
    console.log(`${r.name} during warm-up (${early}-${warmup} s): ${cpu.toFixed(3)} % of one core`);
  });
}

const start = {
  t: performance.now(),
  epoch: Date.now(),
  exp: exporter ? cpuSeconds(exporter.pid) : 0,
  self: process.cpuUsage(),
};
for (const r of recorders) {
  r.cpu0 = cpuSeconds(r.pid);
  r.db0 = dbBytes(r.dataDir);
  r.rss = [];
}
const ref = {
  cpu0: cpuSeconds(reference.pid),
  db0: dbBytes(referenceDir, 'reference.db'),
  rss: [],
};
const expRss = [];
for (let s = 0; s < seconds; s += 10) {
  await sleep(Math.min(10, seconds - s) * 1000);
  for (const r of recorders) r.rss.push(rssBytes(r.pid));
  ref.rss.push(rssBytes(reference.pid));
  if (exporter) expRss.push(rssBytes(exporter.pid));
}
const wall = (performance.now() - start.t) / 1000;
const expCpu = exporter ? (100 * (cpuSeconds(exporter.pid) - start.exp)) / wall : NaN;
const selfCpu = process.cpuUsage(start.self);
const scraperCpu = (100 * (selfCpu.user + selfCpu.system)) / 1e6 / wall;
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length / 2 ** 20;

console.log(`processes during run: ${processCount()}`);
if (exporter) {
  console.log(
    `node_exporter: ${expCpu.toFixed(3)} % of one core, RSS ${mean(expRss).toFixed(1)} MB mean; scraper (this process, ${scrapes} scrapes): ${scraperCpu.toFixed(3)} %`,
  );
}
const perHour = (a, b) => (((a - b) / 2 ** 20) * (3600 / wall)).toFixed(2);
const refCpu = (100 * (cpuSeconds(reference.pid) - ref.cpu0)) / wall;
console.log(
  `reference lean recorder (bench/reference-recorder.mjs): ${refCpu.toFixed(3)} % of one core, RSS ${mean(ref.rss).toFixed(1)} MB mean; database growth ${perHour(dbBytes(referenceDir, 'reference.db').total, ref.db0.total)} MB/h`,
);
for (const r of recorders) {
  const cpu = (100 * (cpuSeconds(r.pid) - r.cpu0)) / wall;
  const db1 = dbBytes(r.dataDir);
  console.log(
    `${r.name} (recorder + MCP server): ${cpu.toFixed(3)} % of one core, RSS ${mean(r.rss).toFixed(1)} MB mean / ${(Math.max(...r.rss) / 2 ** 20).toFixed(1)} MB max`,
  );
  if (exporter) {
    console.log(
      `  ratio kmpm / (node_exporter + scraper): ${(cpu / (expCpu + scraperCpu)).toFixed(2)}`,
    );
  }
  console.log(
    `  database growth: ${perHour(db1.total, r.db0.total)} MB/h, of which raw samples ${perHour(db1.raw, r.db0.raw)} MB/h; stored: ${JSON.stringify(rows(r.dataDir))}`,
  );
  // Whole-process CPU of two instances of one build differs by ~0.02 points in a window;
  // the hook's own time is the precise measure of what rules add.
  const hook = ownTiming(r.dataDir, 'alerts', start.epoch);
  console.log(
    hook.runs
      ? `  alert evaluation (the recorder's own timing): ${hook.us.toFixed(0)} µs a tick over ${hook.ticks} ticks`
      : '  alert evaluation: not timed by this build',
  );
  const write = ownTiming(r.dataDir, 'write', start.epoch);
  if (write.runs) {
    console.log(
      `  sample writes (the recorder's own timing): ${write.us.toFixed(0)} µs a tick, ${write.runs} transactions for ${write.ticks} ticks`,
    );
  }
}

scraping = false;
await scraper;
for (const r of recorders) await r.client.close();
process.exit(0);
