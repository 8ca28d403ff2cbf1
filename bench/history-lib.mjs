// Synthetic history for the history and analysis benchmarks: rolled-up tiers the way the
// recorder fills them, and raw 1 s snapshots with many processes stored on change.
import fs from 'node:fs';
import path from 'node:path';

const { BucketWriter, rollupDays, rollupHours, ROLLUP_1H_UNTIL, ROLLUP_1M_UNTIL } =
  await import('../dist/store/rollup.js');
const { SeriesIds } = await import('../dist/store/series.js');
const { SYSTEM_METRICS } = await import('../dist/analyze/catalog.js');
const { QuantileSketch } = await import('../dist/analyze/sketch.js');
const { setMeta } = await import('../dist/store/db.js');
const { emptySnapshot } = await import('../dist/collect/collector.js');

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

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
export function systemValue(metric, t) {
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

function seriesOf(db, procs) {
  const ids = new SeriesIds(db);
  return {
    system: SYSTEM_METRICS.map((m) => [m.name, ids.id(m.name, 'system')]),
    procs: Array.from({ length: procs }, (_, k) => [
      ids.id('process_cpu_percent', `process:proc${k}`),
      ids.id('process_rss_bytes', `process:proc${k}`),
    ]),
  };
}

/** Hours older than the minute tier, straight into rollup_1h. Returns rows written. */
function olderHours(db, series, from, to) {
  const writer = new BucketWriter(db);
  let rows = 0;
  const values = new Float64Array(3600);
  for (let h = from; h < to; h += HOUR) {
    db.transaction(() => {
      for (const [metric, id] of series.system) {
        for (let s = 0; s < 3600; s++) values[s] = systemValue(metric, h + s * 1000);
        const sketch = QuantileSketch.of(values);
        writer.mergeAggregate('1h', id, h, { sketch, last: values[3599], lastTs: h + 3599_000 });
        rows++;
      }
      series.procs.forEach(([cpuId, rssId], k) => {
        const cpu = new QuantileSketch();
        const rss = new QuantileSketch();
        for (let m = 0; m < 60; m++) {
          cpu.add(procCpu(k));
          rss.add(procRss(k, h + m * MIN));
        }
        const lastTs = h + HOUR - 1000;
        writer.mergeAggregate('1h', cpuId, h, { sketch: cpu, last: cpu.max, lastTs });
        writer.mergeAggregate('1h', rssId, h, { sketch: rss, last: rss.max, lastTs });
        rows += 2;
      });
    })();
  }
  return rows;
}

/**
 * The minute tier through BucketWriter.merge, one transaction per minute as the recorder
 * commits it, then the real rollupHours over it. Returns rows and seconds of each part.
 */
function minutesByMerge(db, series, from, to) {
  const writer = new BucketWriter(db);
  let t0 = performance.now();
  let rows = 0;
  for (let m = from; m < to; m += MIN) {
    db.transaction(() => {
      for (const [metric, id] of series.system) {
        const points = [];
        for (let s = 0; s < 60; s++)
          points.push({ ts: m + s * 1000, value: systemValue(metric, m + s * 1000) });
        writer.merge('1m', id, m, points);
        rows++;
      }
      series.procs.forEach(([cpuId, rssId], k) => {
        writer.merge('1m', cpuId, m, [{ ts: m + 59_000, value: procCpu(k) }]);
        writer.merge('1m', rssId, m, [{ ts: m + 59_000, value: procRss(k, m) }]);
        rows += 2;
      });
      setMeta(db, ROLLUP_1M_UNTIL, String(m + MIN));
    })();
  }
  const minuteSeconds = (performance.now() - t0) / 1000;
  setMeta(db, ROLLUP_1H_UNTIL, String(from));
  t0 = performance.now();
  let hours = 0;
  for (;;) {
    const r = rollupHours(db, { now: to, maxHours: 24 });
    hours += r.buckets;
    if (!r.more) break;
  }
  return { rows, minuteSeconds, hours, rollupSeconds: (performance.now() - t0) / 1000 };
}

/**
 * The same rows written straight in (the tables start empty): each minute's sketch is
 * built once and merged into its hour in memory. Several times faster than merging row by
 * row, for benchmarks that only read.
 */
function minutesByInsert(db, series, from, to) {
  const insert = (table) => db.prepare(`INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const minute = insert('rollup_1m');
  const hour = insert('rollup_1h');
  const put = (stmt, id, ts, s, last, lastTs) =>
    stmt.run(id, ts, s.count, s.sum, s.min, s.max, last, lastTs, s.encode());
  let rows = 0;
  const values = new Float64Array(60);
  for (let h = from; h < to; h += HOUR) {
    db.transaction(() => {
      const hours = new Map();
      const add = (id, m, s, last) => {
        put(minute, id, m, s, last, m + 59_000);
        rows++;
        const e = hours.get(id);
        if (e) {
          e.sketch.merge(s);
          e.last = last;
        } else hours.set(id, { sketch: QuantileSketch.of([]).merge(s), last });
      };
      for (let m = h; m < Math.min(h + HOUR, to); m += MIN) {
        for (const [metric, id] of series.system) {
          for (let s = 0; s < 60; s++) values[s] = systemValue(metric, m + s * 1000);
          add(id, m, QuantileSketch.of(values), values[59]);
        }
        series.procs.forEach(([cpuId, rssId], k) => {
          const cpu = procCpu(k);
          const rss = procRss(k, m);
          add(cpuId, m, QuantileSketch.of([cpu]), cpu);
          add(rssId, m, QuantileSketch.of([rss]), rss);
        });
      }
      if (h + HOUR <= to)
        for (const [id, e] of hours) put(hour, id, h, e.sketch, e.last, h + HOUR - 1000);
    })();
  }
  setMeta(db, ROLLUP_1M_UNTIL, String(to));
  setMeta(db, ROLLUP_1H_UNTIL, String(Math.floor(to / HOUR) * HOUR));
  return { rows };
}

/**
 * Fills the rolled-up tiers: `days` of 1-minute rows (and their hours) before `now`, 1-hour
 * rows back to `yearDays`, and the days of all those hours. `fast` writes minute and hour
 * rows straight in instead of merging them.
 */
export function generateRolled(store, { now, days, yearDays, procs, fast = false }) {
  const db = store.db;
  const series = seriesOf(db, procs);
  const minutesStart = now - days * DAY;
  let t0 = performance.now();
  const hourRows = olderHours(db, series, now - yearDays * DAY, minutesStart);
  const oldHoursSeconds = (performance.now() - t0) / 1000;
  const minutes = fast
    ? minutesByInsert(db, series, minutesStart, now)
    : minutesByMerge(db, series, minutesStart, now);
  // The daily rollup, as the recorder runs it, over every hour row.
  t0 = performance.now();
  let dayRows = 0;
  for (;;) {
    const r = rollupDays(db, { now, maxDays: 30 });
    dayRows += r.buckets;
    if (!r.more) break;
  }
  return {
    seriesCount: series.system.length + 2 * series.procs.length,
    systemSeries: series.system.length,
    hourRows,
    oldHoursSeconds,
    days: dayRows,
    daySeconds: (performance.now() - t0) / 1000,
    ...minutes,
  };
}

/**
 * Raw 1 s snapshots over [now - seconds, now] through the recorder's SampleWriter, with
 * `procs` long-lived processes (the first 10 busy every second, the others waking about
 * once a minute) and a short-lived process started every 5 s that lives 3 s, so most
 * process rows are skipped as unchanged, as on a real machine.
 */
export function generateRaw(store, { now, seconds, procs, cores }) {
  const writer = store.createWriter();
  const boot = Math.floor((now - 10 * DAY) / 1000);
  const ticksSinceBoot = (t) => Math.round((t / 1000 - boot) * 100);
  const long = Array.from({ length: procs }, (_, k) => ({
    pid: 1000 + k,
    start_ticks: 500 + k,
    ppid: 1,
    uid: 1000,
    comm: k < 10 ? `busy${k}` : `idle${k}`,
    cmdline: `/usr/bin/${k < 10 ? 'busy' : 'idle'}${k} --serve`,
    state: 'S',
    utime: 1000 * k,
    stime: 100 * k,
    rss_pages: Math.round(2e5 / (k + 1)) + 100,
    threads: 1 + (k % 8),
    read_bytes: k % 3 === 0 ? null : 4096 * k,
    write_bytes: k % 3 === 0 ? null : 4096 * k,
  }));
  const sys = {
    cpu_user: 0,
    cpu_nice: 0,
    cpu_system: 0,
    cpu_idle: 0,
    cpu_iowait: 0,
    cpu_irq: 0,
    cpu_softirq: 0,
    cpu_steal: 0,
    pgmajfault: 0,
    pswpin: 0,
    pswpout: 0,
    oom_kill: 0,
    tcp_retrans_segs: 0,
    tcp_out_segs: 0,
    psi_cpu_some_total_us: 0,
    psi_memory_some_total_us: 0,
    psi_io_some_total_us: 0,
  };
  const coreTimes = Array.from({ length: cores }, () => ({
    user: 0,
    nice: 0,
    system: 0,
    idle: 0,
    iowait: 0,
    irq: 0,
    softirq: 0,
    steal: 0,
  }));
  const disk = {
    name: 'vda',
    reads: 0,
    read_sectors: 0,
    read_ms: 0,
    writes: 0,
    write_sectors: 0,
    write_ms: 0,
    in_flight: 0,
    io_ms: 0,
    weighted_ms: 0,
  };
  const net = (name) => ({
    name,
    rx_bytes: 0,
    rx_packets: 0,
    rx_errs: 0,
    rx_drop: 0,
    tx_bytes: 0,
    tx_packets: 0,
    tx_errs: 0,
    tx_drop: 0,
  });
  const nets = [net('lo'), net('bench0')];
  let shortPid = 100_000;
  const short = [];
  let processRows = 0;
  const t0 = performance.now();
  const start = now - seconds * 1000;
  for (let t = start; t <= now; t += 1000) {
    const busy = Math.min(1, Math.max(0, systemValue('cpu_percent', t) / 100));
    for (const c of coreTimes) {
      c.user += Math.round(100 * busy * 0.8);
      c.system += Math.round(100 * busy * 0.2);
      c.idle += 100 - Math.round(100 * busy * 0.8) - Math.round(100 * busy * 0.2);
      c.iowait += rand() < 0.2 ? 1 : 0;
    }
    for (const f of ['user', 'system', 'idle', 'iowait'])
      sys[`cpu_${f}`] = coreTimes.reduce((n, c) => n + c[f], 0);
    sys.pgmajfault += rand() < 0.05 ? Math.floor(rand() * 5) : 0;
    sys.tcp_retrans_segs += rand() < 0.05 ? 1 : 0;
    sys.tcp_out_segs += 100;
    sys.psi_cpu_some_total_us += Math.round(rand() * 50_000);
    sys.psi_memory_some_total_us += rand() < 0.2 ? Math.round(rand() * 50_000) : 0;
    sys.psi_io_some_total_us += rand() < 0.2 ? Math.round(rand() * 50_000) : 0;
    const active = rand() < 0.4;
    disk.reads += active ? 20 : 0;
    disk.read_sectors += active ? 2000 : 0;
    disk.read_ms += active ? 30 : 0;
    disk.writes += active ? 10 : 0;
    disk.write_sectors += active ? 800 : 0;
    disk.write_ms += active ? 20 : 0;
    disk.io_ms += active ? Math.round(300 * rand()) : 0;
    disk.weighted_ms += active ? 60 : 0;
    for (const n of nets.slice(1)) {
      n.rx_bytes += Math.round(logUniform(200, 2e6));
      n.tx_bytes += Math.round(logUniform(200, 2e6));
      n.rx_packets += 100;
      n.tx_packets += 100;
    }
    for (let k = 0; k < long.length; k++) {
      const p = long[k];
      if (k < 10 || rand() < 1 / 60) {
        p.utime += k < 10 ? Math.round(100 * busy * rand()) : 1;
        p.rss_pages += rand() < 0.5 ? 1 : -1;
        if (p.read_bytes !== null && rand() < 0.1) p.write_bytes += 4096 * 16;
      }
    }
    if ((t - start) % 5000 === 0) {
      short.push({
        born: t,
        p: {
          pid: shortPid++,
          start_ticks: ticksSinceBoot(t),
          ppid: 1000,
          uid: 1000,
          comm: 'sh',
          cmdline: 'sh -c true',
          state: 'R',
          utime: 0,
          stime: 0,
          rss_pages: 300,
          threads: 1,
          read_bytes: 0,
          write_bytes: 0,
        },
      });
    }
    while (short.length && t - short[0].born > 3000) short.shift();
    for (const s of short) s.p.utime += 20;
    const snap = emptySnapshot(t);
    Object.assign(snap.system, sys, {
      procs_running: 1 + Math.floor(rand() * 3),
      procs_blocked: 0,
      boot_time: boot,
      load1: systemValue('load1', t),
      load5: systemValue('load5', t),
      load15: systemValue('load15', t),
      mem_total_bytes: 12e9,
      mem_available_bytes: 12e9 - systemValue('memory_used_bytes', t),
      swap_total_bytes: 2e9,
      swap_free_bytes: 1.9e9,
    });
    snap.cores = coreTimes.map((c) => ({ ...c }));
    snap.disks = [{ ...disk }];
    snap.nets = nets.map((n) => ({ ...n }));
    snap.processes = [...long, ...short.map((s) => s.p)].map((p) => ({ ...p }));
    processRows += writer.write(snap);
  }
  return { snapshots: seconds + 1, processRows, seconds: (performance.now() - t0) / 1000 };
}

/**
 * A database generated earlier in `dir` with the same parameters, or one generated there
 * now by `generate(now)`. Returns the `now` the data ends at and whether it was reused.
 */
export function cached(dir, params, open, generate) {
  const marker = path.join(dir, 'bench-params.json');
  const key = JSON.stringify(params);
  if (fs.existsSync(marker)) {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
    if (JSON.stringify(m.params) === key) return { now: m.now, reused: true };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const store = open();
  generate(store, now);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  fs.writeFileSync(marker, JSON.stringify({ params, now }));
  return { now, reused: false };
}

export const ANALYSIS_RANGES = ['last_hour', 'last_day', 'last_week', 'custom'];

/**
 * Server-side time of km_analyze_bottlenecks with default parameters (system scope, report
 * written, recommendations included) per time range, through a real MCP server and client
 * over an in-memory transport. The time is the one the server records in its audit log
 * for each call: from the tools/call request reaching the server to its result.
 */
export async function timeAnalysis(store, dataDir, now, { days, runs, warmup = 2 }) {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
  const { createBackend } = await import('../dist/collect/backend.js');
  const { silentLogger } = await import('../dist/log.js');
  const { createMcpServer } = await import('../dist/mcp/server.js');
  const { MonitorSessions } = await import('../dist/mcp/sessions.js');
  const backend = createBackend();
  const machine = backend.machineInfo();
  const logger = silentLogger();
  const sessions = new MonitorSessions({ backend, machine, store, dataDir, logger });
  const server = createMcpServer({
    store,
    backend,
    machine,
    dataDir,
    logger,
    clock: () => now,
    actor: 'bench',
    recording: () => false,
    sessions,
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(b);
  const lastDuration = store.db
    .prepare(
      "SELECT duration_ms FROM audit WHERE action = 'tool:km_analyze_bottlenecks' ORDER BY seq DESC LIMIT 1",
    )
    .pluck();
  const out = [];
  for (const range of ANALYSIS_RANGES) {
    const args = { analysis_scope: 'system', time_range: range };
    if (range === 'custom') {
      args.custom_start_time = new Date(now - days * DAY).toISOString();
      args.custom_end_time = new Date(now).toISOString();
    }
    const times = [];
    let result;
    for (let i = 0; i < warmup + runs; i++) {
      result = await client.callTool({ name: 'km_analyze_bottlenecks', arguments: args });
      if (result.isError) throw new Error(`${range}: ${result.content?.[0]?.text}`);
      if (i >= warmup) times.push(lastDuration.get());
    }
    times.sort((x, y) => x - y);
    const s = result.structuredContent;
    out.push({
      range: range === 'custom' ? `custom ${days} days` : range,
      times,
      samples: s.data.samples,
      resolutionS: s.data.resolution_s,
      findings: s.findings.length,
      ids: s.findings.map((f) => `${f.severity}:${f.id}`),
    });
  }
  sessions.stopAll();
  await client.close();
  await server.close();
  for (const f of fs.readdirSync(path.join(dataDir, 'reports'))) {
    fs.rmSync(path.join(dataDir, 'reports', f));
  }
  return out;
}
