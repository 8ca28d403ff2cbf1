import { spawn } from 'node:child_process';
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessCounters } from '../../types.js';
import { emptySnapshot, type Collector } from '../collector.js';
import { ProcFs, type ProcFsOptions } from '../procfs.js';
import { ProcessesCollector, type ProcessesOptions } from './processes.js';
import { StatCollector } from './stat.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc', import.meta.url));

/** stat then processes, as the registry orders them, with a tick counter. */
function harness(root: string, options: ProcessesOptions = {}, fsOptions: ProcFsOptions = {}) {
  const procfs = new ProcFs(root, fsOptions);
  const stat: Collector = new StatCollector(procfs);
  const processes = new ProcessesCollector(procfs, options);
  let tick = 0;
  return {
    procfs,
    processes,
    next(): ProcessCounters[] {
      const snapshot = emptySnapshot(Date.now());
      const ctx = { tick: tick++, now: snapshot.ts };
      stat.collect(snapshot, ctx);
      processes.collect(snapshot, ctx);
      return snapshot.processes ?? [];
    },
    close(): void {
      stat.close?.();
      processes.close();
    },
  };
}

const find = (list: ProcessCounters[], pid: number) => list.find((p) => p.pid === pid);

describe('processes collector on recorded trees', () => {
  it('reads hundreds of processes from the many fixture', () => {
    const h = harness(`${FIXTURES}/many`);
    const list = h.next();
    expect(list).toHaveLength(360);
    expect(new Set(list.map((p) => `${p.pid}:${p.start_ticks}`)).size).toBe(360);
    const sleepers = list.filter((p) => p.ppid === 6732);
    expect(sleepers).toHaveLength(300);
    for (const p of sleepers) {
      expect(p).toMatchObject({ comm: 'sleep', cmdline: 'sleep 600', state: 'S', threads: 1 });
      expect(p.read_bytes).toBe(0);
    }
    expect(find(list, 2)).toMatchObject({ comm: 'kthreadd', cmdline: '', ppid: 0 });
    expect(find(list, 2)?.uid).toBe(statSync(`${FIXTURES}/many/2`).uid);
    expect(h.next()).toHaveLength(360);
    expect(h.processes.listings).toBe(1);
    h.close();
    expect(h.procfs.keptCount).toBe(0);
  });

  it('handles odd comms, zombies and kernel threads', () => {
    const list = harness(`${FIXTURES}/host`).next();
    expect(find(list, 4401)).toMatchObject({
      comm: 'x) (y) z',
      cmdline: 'bash -c printf "x) (y) z" > /proc/self/comm; sleep 300 & wait',
      ppid: 4397,
    });
    expect(find(list, 4406)).toMatchObject({ comm: 'sleep', state: 'Z', cmdline: '' });
    expect(find(list, 12)).toMatchObject({ ppid: 2, read_bytes: 90112, write_bytes: 1638400 });
    expect(find(list, 4404)).toMatchObject({ read_bytes: 888832, write_bytes: 12288 });
  });

  it('keeps working above the kept-fd cap', () => {
    const h = harness(`${FIXTURES}/many`, {}, { maxKeptFds: 5 });
    expect(h.next()).toHaveLength(360);
    expect(h.next()).toHaveLength(360);
    expect(h.procfs.keptCount).toBe(5);
  });

  it('rejects an ioEvery that is not a whole number of ticks', () => {
    const procfs = new ProcFs(`${FIXTURES}/host`);
    expect(() => new ProcessesCollector(procfs, { ioEvery: 0 })).toThrow(RangeError);
    expect(() => new ProcessesCollector(procfs, { ioEvery: 1.5 })).toThrow(/ioEvery/);
  });
});

describe('processes collector between ticks', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function copyOf(name: string): string {
    root = mkdtempSync(join(tmpdir(), 'kmpm-procs-'));
    cpSync(`${FIXTURES}/${name}`, root, { recursive: true });
    return root;
  }
  /** Rewrites a file in place, as the kernel's view changes under a kept fd. */
  function edit(rel: string, change: (text: string) => string): void {
    const path = `${root}/${rel}`;
    writeFileSync(path, change(readFileSync(path, 'latin1')), 'latin1');
  }
  const bumpForks = () =>
    edit('stat', (t) => t.replace(/^processes (\d+)$/m, (_, n) => `processes ${Number(n) + 1}`));
  /** A new process: a recorded sleeper under another PID. */
  const addSleeper = (pid: number) => {
    cpSync(`${FIXTURES}/many/6736`, `${root}/${pid}`, { recursive: true });
    edit(`${pid}/stat`, (t) => t.replace(/^6736 /, `${pid} `));
  };

  it('lists /proc only on the first tick and when the fork counter moved', () => {
    const h = harness(copyOf('host'));
    expect(h.next()).toHaveLength(10);
    addSleeper(7000);
    expect(find(h.next(), 7000)).toBeUndefined();
    expect(h.processes.listings).toBe(1);
    bumpForks();
    expect(find(h.next(), 7000)).toMatchObject({ comm: 'sleep', cmdline: 'sleep 600' });
    expect(h.processes.listings).toBe(2);
    expect(h.next()).toHaveLength(11);
    expect(h.processes.listings).toBe(2);
  });

  it('lists every tick when the fork counter is unknown', () => {
    const procfs = new ProcFs(copyOf('host'));
    const collector = new ProcessesCollector(procfs);
    for (let tick = 0; tick < 3; tick++) collector.collect(emptySnapshot(0), { tick, now: 0 });
    expect(collector.listings).toBe(3);
  });

  it('drops processes that vanish, silently, and releases their fds', () => {
    const h = harness(copyOf('host'));
    expect(find(h.next(), 4405)).toBeDefined();
    const kept = h.procfs.keptCount;
    rmSync(`${root}/4405`, { recursive: true });
    // Listed but gone before its stat was read; and gone before its cmdline was read.
    addSleeper(7001);
    unlinkSync(`${root}/7001/stat`);
    addSleeper(7002);
    unlinkSync(`${root}/7002/cmdline`);
    bumpForks();
    const list = h.next();
    expect(list.map((p) => p.pid)).not.toContain(4405);
    expect(list.map((p) => p.pid)).not.toContain(7001);
    expect(list.map((p) => p.pid)).not.toContain(7002);
    expect(list).toHaveLength(9);
    expect(h.procfs.keptCount).toBe(kept - 2);
    expect(h.processes.trackedCount).toBe(9);
  });

  it('drops a process whose stat stops parsing', () => {
    const h = harness(copyOf('host'));
    h.next();
    edit('4405/stat', () => 'garbage\n');
    expect(find(h.next(), 4405)).toBeUndefined();
    expect(h.processes.trackedCount).toBe(9);
  });

  it('reads io on every Nth tick and carries it forward between', () => {
    const h = harness(copyOf('host'), { ioEvery: 3 });
    const io = (list: ProcessCounters[]) => find(list, 4404)?.read_bytes;
    expect(io(h.next())).toBe(888832);
    edit('4404/io', (t) => t.replace('read_bytes: 888832', 'read_bytes: 999999'));
    expect(io(h.next())).toBe(888832);
    expect(io(h.next())).toBe(888832);
    expect(io(h.next())).toBe(999999);
  });

  it('gives null io for a process whose io cannot be read', () => {
    unlinkSync(`${copyOf('host')}/4405/io`);
    const h = harness(root, { ioEvery: 2 });
    for (let i = 0; i < 3; i++) {
      expect(find(h.next(), 4405)).toMatchObject({ read_bytes: null, write_bytes: null });
    }
  });

  it('treats the same PID with another start time as a new process', () => {
    const h = harness(copyOf('host'), { ioEvery: 100 });
    h.next();
    h.next();
    // PID 4404 exits and a new process gets its PID: new start time, cmdline and io.
    edit('4404/stat', (t) => t.replace(' 47402 ', ' 50000 '));
    edit('4404/cmdline', () => 'sleep\x0099\x00');
    edit('4404/io', (t) => t.replace('read_bytes: 888832', 'read_bytes: 4096'));
    const reused = find(h.next(), 4404);
    expect(reused).toMatchObject({ start_ticks: 50000, cmdline: 'sleep 99', read_bytes: 4096 });
    expect(h.processes.trackedCount).toBe(10);
    // Reused again, by a process that exits before its cmdline is read.
    edit('4404/stat', (t) => t.replace(' 50000 ', ' 60000 '));
    unlinkSync(`${root}/4404/cmdline`);
    expect(find(h.next(), 4404)).toBeUndefined();
    expect(h.processes.trackedCount).toBe(9);
  });

  it('reports an unchanged process with the same record and a changed one with a new record', () => {
    const h = harness(copyOf('host'), { ioEvery: 2 });
    const first = h.next();
    const second = h.next();
    expect(find(second, 4405)).toBe(find(first, 4405));
    edit('4405/stat', (t) => t.replace(' 2990080 410 ', ' 2990080 411 '));
    const third = h.next(); // an io tick: io read again, unchanged
    expect(find(third, 4405)).not.toBe(find(second, 4405));
    expect(find(third, 4405)).toMatchObject({ rss_pages: 411 });
    expect(find(second, 4405)).toMatchObject({ rss_pages: 410 }); // never mutated
    expect(find(third, 4404)).toBe(find(first, 4404));
    edit('4404/io', (t) => t.replace('write_bytes: 12288', 'write_bytes: 16384'));
    expect(find(h.next(), 4404)).toBe(find(first, 4404)); // io carried between io ticks
    expect(find(h.next(), 4404)).toMatchObject({ read_bytes: 888832, write_bytes: 16384 });
  });

  it('follows a kernel worker through the work it runs, and a renamed kernel thread', () => {
    const h = harness(copyOf('host'));
    const before = find(h.next(), 12);
    expect(before).toMatchObject({ comm: 'kworker/u8:0', cmdline: '' });
    // The workqueue in a worker's name changes many times a second: the same process, and
    // with the same counters the same record (nothing to store).
    edit('12/stat', (t) => t.replace('-events_unbound)', '+writeback)'));
    expect(find(h.next(), 12)).toBe(before);
    // A kernel thread cannot exec, so there is nothing to re-read: without its cmdline file
    // a user process would be dropped here (see below).
    edit('12/stat', (t) => t.replace('(kworker/u8:0+', '(kworker/u8:7-'));
    unlinkSync(`${root}/12/cmdline`);
    expect(find(h.next(), 12)).toEqual({ ...before, comm: 'kworker/u8:7' });
  });

  it('re-reads cmdline when exec changes comm', () => {
    const h = harness(copyOf('host'));
    h.next();
    edit('4405/stat', (t) => t.replace('(sleep)', '(cat)'));
    edit('4405/cmdline', () => 'cat\x00/etc/hostname\x00');
    expect(find(h.next(), 4405)).toMatchObject({ comm: 'cat', cmdline: 'cat /etc/hostname' });
    edit('4405/stat', (t) => t.replace('(cat)', '(tail)'));
    unlinkSync(`${root}/4405/cmdline`);
    expect(find(h.next(), 4405)).toBeUndefined();
  });
});

describe('processes collector on the live /proc', () => {
  it('includes this process with its parent and cmdline, and drops a child that exits', async () => {
    const h = harness('/proc');
    const self = find(h.next(), process.pid);
    expect(self).toMatchObject({ ppid: process.ppid, uid: process.getuid?.() });
    expect(self?.cmdline).toContain('node');
    expect(self?.read_bytes).not.toBeNull();

    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid ?? -1;
    expect(find(h.next(), pid)).toMatchObject({ ppid: process.pid, comm: 'sleep' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const after = h.next();
    expect(find(after, pid)).toBeUndefined();
    expect(find(after, process.pid)).toBeDefined();
    h.close();
    expect(h.procfs.keptCount).toBe(0);
  });
});
