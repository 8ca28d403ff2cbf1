// Alert evaluation cost per rule per tick, through the compiled engine (run `npm run build`
// first) on a real SQLite file: 1,000 rules (system metrics, single automations and "any
// automation" rules, every operator) evaluated once per simulated second. Three regimes:
// quiet (nothing near its threshold), pending (every state written every tick) and firing
// (every rule firing, reminders due every cooldown); and the tick that writes the state
// checkpoint (once a minute) with 1,000 quiet system rules. Then the whole per-tick hook the
// recorder calls (AlertRuntime.onSnapshot: rule reload check, evaluation, automation runs,
// delivery scheduling) with 0, 1, 100 and 1,000 quiet rules, ticks spaced apart so that the
// code runs as cold as it does at 1 Hz.
//   npm run bench:alerts -- [--rules 1000] [--ticks 600] [--runtime-ticks 200] [--spacing-ms 50]
//                           [--only evaluator|runtime]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptySnapshot } from '../dist/collect/collector.js';
import { AlertEvaluator } from '../dist/alerts/evaluator.js';
import { AlertRuntime } from '../dist/alerts/runtime.js';
import { normalizeRule } from '../dist/alerts/rule.js';
import { initialState, step } from '../dist/alerts/state.js';
import { AlertStore } from '../dist/alerts/store.js';
import { openDatabase } from '../dist/store/db.js';
import { Store } from '../dist/store/index.js';
import { arg, machine, percentile, sleep } from './lib.mjs';

const nRules = Number(arg('rules', '1000'));
const ticks = Number(arg('ticks', '600'));
const runtimeTicks = Number(arg('runtime-ticks', '200'));
const spacingMs = Number(arg('spacing-ms', '50'));
const only = arg('only', null);
const WARMUP = 60;
const AUTOMATIONS = 50;
const OPS = ['gt', 'gte', 'lt', 'lte', 'eq'];
const SYSTEM = ['cpu', 'memory', 'load1', 'disk_busy_percent', 'swap_used_percent'];

/** A machine at ~60 % CPU, 70 % memory, load 1.5: every system metric above has a value. */
function snapshots() {
  let n = 0;
  return (ts) => {
    n++;
    const s = emptySnapshot(ts);
    Object.assign(s.system, {
      cpu_user: 60 * n,
      cpu_nice: 0,
      cpu_system: 0,
      cpu_idle: 40 * n,
      cpu_iowait: 0,
      cpu_irq: 0,
      cpu_softirq: 0,
      cpu_steal: 0,
      load1: 1.5,
      mem_total_bytes: 8e9,
      mem_available_bytes: 2.4e9,
      swap_total_bytes: 1e9,
      swap_free_bytes: 9e8,
    });
    s.disks = [
      {
        name: 'vda',
        reads: n,
        read_sectors: 8 * n,
        read_ms: n,
        writes: n,
        write_sectors: 8 * n,
        write_ms: n,
        in_flight: 0,
        io_ms: 100 * n,
        weighted_ms: 100 * n,
      },
    ];
    return s;
  };
}

/** Rule i of the set; `hot` puts every threshold where the condition holds. */
function ruleInput(i, regime) {
  const op = OPS[i % OPS.length];
  const below = op === 'lt' || op === 'lte';
  const kind = i % 10 < 7 ? 'system' : i % 10 < 9 ? 'automation' : 'any';
  // observed values: automation wall time 1000 ms; system metrics as in snapshots()
  const observed = kind === 'system' ? null : 1000;
  let threshold;
  if (regime === 'quiet') threshold = below ? -1e9 : 1e9;
  else if (op === 'eq') threshold = observed ?? 1.5;
  else threshold = below ? 1e12 : -1;
  const base = {
    alert_name: `rule ${i}`,
    threshold_value: threshold,
    threshold_operator: op,
    evaluation_period: regime === 'pending' ? 3600 : 30,
    alert_cooldown: 60,
    notification_channels: ['log', 'mcp'],
  };
  // eq needs a value known exactly: load1 is 1.5 in every snapshot
  if (kind === 'system')
    return { ...base, metric_type: op === 'eq' ? 'load1' : SYSTEM[i % SYSTEM.length] };
  if (kind === 'any') return { ...base, metric_type: 'execution_time' };
  return {
    ...base,
    metric_type: 'execution_time',
    monitoring_scope: 'automation',
    target_id: `job${i % AUTOMATIONS}`,
  };
}

function measure(regime) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-alerts-'));
  try {
    const db = openDatabase(path.join(dir, 'kmpm.db'));
    const store = new AlertStore(db);
    for (let i = 0; i < nRules; i++) store.upsertRule(normalizeRule(ruleInput(i, regime)), 0);
    const ev = new AlertEvaluator(store, { intervalMs: 1000 });
    ev.start(0);
    ev.observeRuns(
      Array.from({ length: AUTOMATIONS }, (_, j) => ({
        id: j + 1,
        automation: `job${j}`,
        ended_at: 0,
        wall_ms: 1000,
        cpu_ms: 100,
        peak_rss_bytes: 1e6,
        status: 'ok',
      })),
    );
    const snap = snapshots();
    let prev = snap(0);
    const times = [];
    let notifications = 0;
    for (let t = 1; t <= WARMUP + ticks; t++) {
      const cur = snap(t * 1000);
      const start = process.hrtime.bigint();
      const sent = ev.evaluate(prev, cur, t * 1000);
      const us = Number(process.hrtime.bigint() - start) / 1000;
      prev = cur;
      if (t > WARMUP) {
        times.push(us / nRules);
        notifications += sent.length;
      }
    }
    const states = {};
    for (const e of ev.current()) states[e.state.status] = (states[e.state.status] ?? 0) + 1;
    db.close();
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    return {
      mean,
      p50: percentile(times, 0.5),
      p99: percentile(times, 0.99),
      states,
      notifications,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The pure state machine alone: one step per rule per tick, no storage. */
function measureStep() {
  const rules = Array.from({ length: nRules }, (_, i) => ({
    ...normalizeRule(ruleInput(i, 'quiet')),
    id: i + 1,
  }));
  let states = rules.map(() => initialState());
  const start = process.hrtime.bigint();
  const n = 2000;
  for (let t = 0; t < n; t++) {
    states = states.map((s, i) => step(rules[i], s, { ts: t * 1000, value: 50 }, t * 1000).state);
  }
  return Number(process.hrtime.bigint() - start) / 1000 / n / nRules;
}

/**
 * Quiet system rules, ticks back to back: µs per tick when every tick is a state checkpoint
 * (normally one a minute) and when none is.
 */
function measureCheckpoint() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-alerts-'));
  try {
    const db = openDatabase(path.join(dir, 'kmpm.db'));
    const store = new AlertStore(db);
    for (let i = 0; i < nRules; i++) {
      store.upsertRule(normalizeRule(ruleInput(i * 10 + (i % 7), 'quiet')), 0); // system rules only
    }
    const snap = snapshots();
    let ts = 0;
    const out = {};
    for (const [label, checkpointMs] of [
      ['every tick', 0],
      ['none', 3600_000],
    ]) {
      const ev = new AlertEvaluator(store, { intervalMs: 1000, checkpointMs });
      ev.start(ts);
      let prev = snap(ts);
      const times = [];
      for (let t = 1; t <= WARMUP + 200; t++) {
        ts += 1000;
        const cur = snap(ts);
        const start = process.hrtime.bigint();
        ev.evaluate(prev, cur, ts);
        if (t > WARMUP) times.push(Number(process.hrtime.bigint() - start) / 1000);
        prev = cur;
      }
      times.sort((a, b) => a - b);
      out[label] = {
        mean: times.reduce((a, b) => a + b, 0) / times.length,
        p50: percentile(times, 0.5),
      };
    }
    db.close();
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * AlertRuntime.onSnapshot as the recorder calls it, on a real data directory: wall and CPU
 * time of the synchronous hook per tick, `count` quiet system rules.
 */
async function measureRuntime(count) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-bench-alerts-'));
  const store = Store.open(dir);
  try {
    const alerts = new AlertStore(store.db);
    for (let i = 0; i < count; i++) {
      const input = ruleInput(i * 10 + (i % 7), 'quiet'); // system rules only
      alerts.upsertRule(normalizeRule(input), 0);
    }
    const silent = { info() {}, warn() {}, error() {}, debug() {}, fatal() {} };
    const rt = new AlertRuntime(alerts, store.runs, {
      intervalMs: 1000,
      logger: silent,
      senders: { log: () => Promise.resolve() },
    });
    rt.start();
    await rt.dispatcher.idle();
    const snap = snapshots();
    const wall = [];
    const cpu = [];
    for (let t = 1; t <= 20 + runtimeTicks; t++) {
      const s = snap(Date.now());
      const c0 = process.cpuUsage();
      const w0 = process.hrtime.bigint();
      rt.onSnapshot(s);
      const us = Number(process.hrtime.bigint() - w0) / 1000;
      const c = process.cpuUsage(c0);
      await rt.dispatcher.idle();
      if (t > 20) {
        wall.push(us);
        cpu.push(c.user + c.system);
      }
      await sleep(spacingMs);
    }
    wall.sort((a, b) => a - b);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      mean: mean(wall),
      p50: percentile(wall, 0.5),
      p99: percentile(wall, 0.99),
      cpu: mean(cpu),
    };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`machine: ${machine()}`);
if (only !== 'runtime') {
  console.log(
    `${nRules} rules, ${ticks} ticks after ${WARMUP} warm-up ticks, 1 s simulated apart\n`,
  );
  console.log(`pure step() only: ${measureStep().toFixed(3)} µs/rule/tick`);
  for (const regime of ['quiet', 'pending', 'firing']) {
    const r = measure(regime);
    console.log(
      `${regime.padEnd(8)} mean ${r.mean.toFixed(3)} µs/rule/tick, p50 ${r.p50.toFixed(3)}, ` +
        `p99 ${r.p99.toFixed(3)}; states ${JSON.stringify(r.states)}; ${r.notifications} notifications`,
    );
  }
  console.log(`\n${nRules} quiet system rules, µs per tick back to back, state checkpoint:`);
  for (const [label, r] of Object.entries(measureCheckpoint())) {
    console.log(`${label.padEnd(10)} mean ${r.mean.toFixed(1)}, p50 ${r.p50.toFixed(1)}`);
  }
}

if (only !== 'evaluator') {
  console.log(
    `\nAlertRuntime.onSnapshot per tick (${runtimeTicks} ticks ${spacingMs} ms apart, quiet system rules):`,
  );
  for (const count of [0, 1, 100, 1000]) {
    const r = await measureRuntime(count);
    console.log(
      `${String(count).padStart(5)} rules: mean ${r.mean.toFixed(1)} µs, p50 ${r.p50.toFixed(1)}, ` +
        `p99 ${r.p99.toFixed(1)}; CPU ${r.cpu.toFixed(1)} µs/tick`,
    );
  }
}
