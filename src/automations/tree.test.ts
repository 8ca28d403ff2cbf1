import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasChildrenFiles } from './proc.js';
import { TreeSampler, type Discovery } from './tree.js';

interface FakeProc {
  pid: number;
  ppid: number;
  start?: number;
  utime?: number;
  cutime?: number;
  rss?: number;
  hwmKb?: number;
  /** Children lists per thread, for 'children' discovery. */
  tasks?: Record<number, number[]>;
}

/** Writes /proc/PID/{stat,status,task/TID/children} in the layout the kernel uses. */
function writeProc(root: string, p: FakeProc): void {
  const dir = join(root, String(p.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fields = [
    'S', p.ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0,
    p.utime ?? 0, 1, p.cutime ?? 0, 0, 20, 0, 1, 0, p.start ?? 1, 0, p.rss ?? 0,
  ]; // prettier-ignore
  writeFileSync(join(dir, 'stat'), `${p.pid} (fake) ${fields.join(' ')} 0 0\n`);
  const hwm = p.hwmKb === undefined ? '' : `VmHWM:\t${p.hwmKb} kB\n`;
  writeFileSync(join(dir, 'status'), `Name:\tfake\n${hwm}`);
  for (const [tid, kids] of Object.entries(p.tasks ?? { [p.pid]: [] })) {
    mkdirSync(join(dir, 'task', tid), { recursive: true });
    writeFileSync(join(dir, 'task', tid, 'children'), kids.join(' '));
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'kmpm-tree-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let roots = 0;
const fakeRoot = (): string => join(tmp, String(roots++));

const SELF = 100;
const ROOT = 200;

describe.each(['children', 'scan'] as const)('TreeSampler over a recorded tree (%s)', (mode) => {
  const sampler = (procRoot: string): TreeSampler =>
    new TreeSampler({ procRoot, pageSize: 4096, discovery: mode, selfPid: SELF });

  it('follows a tree through reaping, orphaning and exit', () => {
    const root = fakeRoot();
    // 151 exits between listing and reading; 999 is a directory whose process just went away.
    writeProc(root, { pid: SELF, ppid: 1, tasks: { [SELF]: [150, 151], 101: [] } });
    writeProc(root, { pid: 150, ppid: SELF });
    mkdirSync(join(root, '999'));
    const s = sampler(root);
    s.noteSelfChildren();
    s.poll(); // no root yet: nothing to sample
    expect(s.processes).toBe(0);

    writeProc(root, { pid: SELF, ppid: 1, tasks: { [SELF]: [150], 101: [ROOT] } });
    writeProc(root, { pid: ROOT, ppid: SELF, utime: 10, rss: 100, tasks: { [ROOT]: [300] } });
    writeProc(root, { pid: 300, ppid: ROOT, utime: 20, rss: 200, tasks: { 300: [400] } });
    writeProc(root, { pid: 400, ppid: 300, utime: 30, rss: 300, hwmKb: 4096 });
    s.setRoot(ROOT);
    s.poll();
    expect(s.processes).toBe(3);
    expect(s.ticks).toBe(10 + 1 + 20 + 1 + 30 + 1);
    expect(s.peakRssBytes).toBe(4096 * 2 ** 10); // VmHWM of 400 beats the 600 pages summed

    // 300 exits and is reaped by the root; 400 is reparented to init.
    rmSync(join(root, '300'), { recursive: true });
    writeProc(root, { pid: ROOT, ppid: SELF, utime: 10, cutime: 21, rss: 100 });
    writeProc(root, { pid: 400, ppid: 1, utime: 40, rss: 2000 });
    s.poll();
    expect(s.ticks).toBe(11 + 21 + 41);
    expect(s.peakRssBytes).toBe(2100 * 4096);

    // The orphan exits and init reaps it: its last sighting stays counted.
    rmSync(join(root, '400'), { recursive: true });
    s.poll();
    expect(s.ticks).toBe(32 + 41);
    expect(s.lastTicksWithRoot).toBe(32 + 41);
    expect(s.otherChildReaped).toBe(false);

    // The root is reaped by us; so is the other child, which taints cutime.
    rmSync(join(root, String(ROOT)), { recursive: true });
    rmSync(join(root, '150'), { recursive: true });
    writeProc(root, { pid: SELF, ppid: 1 });
    s.poll();
    expect(s.ticks).toBe(41);
    expect(s.lastTicksWithRoot).toBe(73);
    expect(s.processes).toBe(0);
    expect(s.otherChildReaped).toBe(true);
  });

  it('never merges a reused PID or a stale child entry into the tree', () => {
    const root = fakeRoot();
    writeProc(root, { pid: SELF, ppid: 1, tasks: { [SELF]: [ROOT] } });
    writeProc(root, { pid: ROOT, ppid: SELF, utime: 5, tasks: { [ROOT]: [300] } });
    writeProc(root, { pid: 300, ppid: ROOT, start: 7, utime: 50 });
    const s = sampler(root);
    s.setRoot(ROOT);
    s.poll();
    expect(s.ticks).toBe(6 + 51);

    // 300 was reaped by the root, and its PID now belongs to an unrelated process.
    writeProc(root, { pid: ROOT, ppid: SELF, utime: 5, cutime: 51, tasks: { [ROOT]: [] } });
    writeProc(root, { pid: 300, ppid: 1, start: 99, utime: 1000 });
    s.poll();
    expect(s.ticks).toBe(6 + 51);
    expect(s.processes).toBe(1);

    if (mode === 'children') {
      // A children list read while 300 was being reparented: the ppid check wins.
      writeProc(root, { pid: ROOT, ppid: SELF, utime: 5, cutime: 51, tasks: { [ROOT]: [300] } });
      s.poll();
      expect(s.processes).toBe(1);
    }
  });

  it('sees nothing when the root is already gone', () => {
    const s = sampler(fakeRoot());
    s.setRoot(ROOT);
    s.poll();
    expect([s.processes, s.ticks, s.peakRssBytes]).toEqual([0, 0, 0]);
  });
});

describe('TreeSampler on live processes', () => {
  const modes: Discovery[] = hasChildrenFiles('/proc') ? ['children', 'scan'] : ['scan'];

  it.each(modes)('finds the grandchildren of a shell (%s)', async (discovery) => {
    // Its own process group, so the whole tree can be killed at once afterwards.
    const child = spawn('sh', ['-c', 'sleep 5 & sleep 5 & wait'], {
      stdio: 'ignore',
      detached: true,
    });
    const pid = child.pid ?? -1;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const s = new TreeSampler({
        procRoot: '/proc',
        pageSize: 4096,
        discovery,
        selfPid: process.pid,
      });
      s.setRoot(pid);
      const sample = (): number => {
        s.poll();
        return s.processes;
      };
      await expect.poll(sample, { timeout: 2000, interval: 20 }).toBe(3);
      expect(s.peakRssBytes).toBeGreaterThan(0);
    } finally {
      process.kill(-pid, 'SIGKILL');
      await exited;
    }
  });
});
