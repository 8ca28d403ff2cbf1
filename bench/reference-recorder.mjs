// The lean recorder of REFERENCE.md's table, as a yardstick for bench:overhead: the same
// 1 Hz sampling of /proc into SQLite with every technique the table lists and nothing else
// (no rollups, alerts, self-metrics, MCP server, device tables or delta encoding). Run in
// the same window as kmpm, it shows what that floor costs on this machine today.
//   node bench/reference-recorder.mjs DATA_DIR
// - one Buffer, kept fds re-read at position 0 (system files, /proc/PID/stat and io)
// - numbers parsed from bytes; a 57-column system row
// - io every 10th tick, cmdline only for new processes, a process row only when its CPU,
//   RSS or threads changed, readdir(/proc) only when the `processes` counter moved
// - one transaction per tick, prepared statements, WAL with synchronous=NORMAL
import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

const dir = process.argv[2];
if (!dir) throw new Error('usage: reference-recorder.mjs DATA_DIR');
const db = new Database(path.join(dir, 'reference.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const SYSTEM_COLUMNS = 57;
const columns = Array.from({ length: SYSTEM_COLUMNS }, (_, i) => `c${i} REAL`).join(', ');
db.exec(`
  CREATE TABLE IF NOT EXISTS system_raw (ts INTEGER PRIMARY KEY, ${columns});
  CREATE TABLE IF NOT EXISTS process (
    id INTEGER PRIMARY KEY, pid INTEGER, start_ticks INTEGER, comm TEXT, cmdline TEXT);
  CREATE TABLE IF NOT EXISTS process_raw (
    process_id INTEGER NOT NULL, ts INTEGER NOT NULL, utime REAL, stime REAL, rss_pages REAL,
    threads REAL, read_bytes REAL, write_bytes REAL, PRIMARY KEY (process_id, ts)) WITHOUT ROWID;
`);
const insertSystem = db.prepare(
  `INSERT OR REPLACE INTO system_raw VALUES (?${', ?'.repeat(SYSTEM_COLUMNS)})`,
);
const insertProcess = db.prepare(
  'INSERT INTO process (pid, start_ticks, comm, cmdline) VALUES (?, ?, ?, ?) RETURNING id',
);
const insertRow = db.prepare('INSERT OR REPLACE INTO process_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?)');

const buf = Buffer.alloc(64 * 1024);
const kept = new Map();
/** Bytes read from /proc/rel through a kept fd; -1 when it is gone. */
function readKept(rel) {
  let fd = kept.get(rel);
  try {
    if (fd === undefined) {
      fd = fs.openSync(`/proc/${rel}`, 'r');
      kept.set(rel, fd);
    }
    return fs.readSync(fd, buf, 0, buf.length, 0);
  } catch {
    release(rel);
    return -1;
  }
}
function release(rel) {
  const fd = kept.get(rel);
  if (fd === undefined) return;
  kept.delete(rel);
  fs.closeSync(fd);
}

/** Every unsigned number in buf[0, len), up to max of them, into out from `at`. */
function numbers(len, out, at, max) {
  let n = 0;
  let v = 0;
  let inNumber = false;
  for (let i = 0; i < len && n < max; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      inNumber = true;
    } else if (inNumber) {
      out[at + n++] = v;
      v = 0;
      inNumber = false;
    }
  }
  return n;
}

// How many numbers of each system file make the 57 columns (CPU modes and counters, memory,
// swap and faults, load, PSI, a disk, an interface, TCP).
const SYSTEM_FILES = [
  ['stat', 12],
  ['meminfo', 10],
  ['vmstat', 6],
  ['loadavg', 3],
  ['pressure/cpu', 3],
  ['pressure/memory', 3],
  ['pressure/io', 3],
  ['diskstats', 8],
  ['net/dev', 6],
  ['net/snmp', 3],
];
const system = new Array(SYSTEM_COLUMNS + 1).fill(null);

/** The value after `key` in buf[0, len) (e.g. "processes "), or -1. */
function valueAfter(len, key) {
  const at = buf.indexOf(key, 0, 'latin1');
  if (at < 0 || at >= len) return -1;
  let v = 0;
  for (let i = at + key.length; i < len; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** pid -> { pid, id, start, statRel, ioRel, utime, stime, rss, threads, io } */
const tracked = new Map();
let forksAtListing = -1;
let tick = 0;

function scanStat(len, p) {
  const close = buf.lastIndexOf(41, len - 1); // ')'
  if (close < 0) return false;
  let field = 3;
  let v = 0;
  for (let i = close + 2; i < len; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      continue;
    }
    if (c !== 32 && c !== 10) continue;
    if (field === 14) p.utime = v;
    else if (field === 15) p.stime = v;
    else if (field === 20) p.threads = v;
    else if (field === 22) p.start = v;
    else if (field === 24) {
      p.rss = v;
      return true;
    }
    field++;
    v = 0;
  }
  return false;
}

const scratch = { utime: 0, stime: 0, threads: 0, start: 0, rss: 0 };
function visit(pid, ts, readIo) {
  let t = tracked.get(pid);
  const statRel = t?.statRel ?? `${pid}/stat`;
  const len = readKept(statRel);
  if (len < 0 || !scanStat(len, scratch)) {
    if (t) forget(t);
    return;
  }
  if (t === undefined || t.start !== scratch.start) {
    if (t) release(t.ioRel);
    const open = buf.indexOf(40);
    const comm = buf.toString('utf8', open + 1, buf.lastIndexOf(41, len - 1));
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      /* gone or unreadable */
    }
    const { id } = insertProcess.get(pid, scratch.start, comm, cmdline);
    t = { pid, id, start: scratch.start, statRel, ioRel: `${pid}/io`, io: [null, null] };
    t.utime = t.stime = t.rss = t.threads = -1;
    tracked.set(pid, t);
    readIo = true;
  }
  if (readIo) {
    const n = readKept(t.ioRel);
    if (n >= 0) t.io = [valueAfter(n, '\nread_bytes: '), valueAfter(n, '\nwrite_bytes: ')];
  }
  if (
    t.utime === scratch.utime &&
    t.stime === scratch.stime &&
    t.rss === scratch.rss &&
    t.threads === scratch.threads
  ) {
    return;
  }
  t.utime = scratch.utime;
  t.stime = scratch.stime;
  t.rss = scratch.rss;
  t.threads = scratch.threads;
  insertRow.run(t.id, ts, t.utime, t.stime, t.rss, t.threads, t.io[0], t.io[1]);
}
function forget(t) {
  release(t.statRel);
  release(t.ioRel);
  tracked.delete(t.pid);
}

const sample = db.transaction((ts) => {
  let at = 1;
  let forks = -1;
  for (const [rel, count] of SYSTEM_FILES) {
    const len = readKept(rel);
    if (len < 0) continue;
    if (rel === 'stat') forks = valueAfter(len, '\nprocesses ');
    at += numbers(len, system, at, Math.min(count, SYSTEM_COLUMNS + 1 - at));
  }
  system[0] = ts;
  insertSystem.run(system);
  const readIo = tick % 10 === 0;
  if (forks !== forksAtListing) {
    forksAtListing = forks;
    const live = new Set();
    for (const name of fs.readdirSync('/proc')) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      live.add(pid);
      visit(pid, ts, readIo);
    }
    for (const [pid, t] of tracked) if (!live.has(pid)) forget(t);
  } else {
    for (const pid of [...tracked.keys()]) visit(pid, ts, readIo);
  }
  tick++;
});

// A self-correcting timer: one tick a second on the second's grid.
let next = Math.ceil(Date.now() / 1000) * 1000;
function schedule() {
  setTimeout(() => {
    sample(next);
    next += 1000;
    while (next <= Date.now()) next += 1000;
    schedule();
  }, next - Date.now());
}
schedule();
process.on('SIGTERM', () => {
  db.close();
  process.exit(0);
});
