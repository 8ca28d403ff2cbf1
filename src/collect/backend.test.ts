import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { SYSTEM_FIELDS } from '../types.js';
import { createBackend, keptFdBudget, LinuxBackend, UnsupportedPlatformError } from './backend.js';
import { SourceUnavailableError } from './collectors/source.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/proc', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createBackend', () => {
  it.each(['darwin', 'win32', 'freebsd'] as const)('refuses %s with a clear reason', (platform) => {
    expect(() => createBackend({ platform })).toThrow(UnsupportedPlatformError);
    expect(() => createBackend({ platform })).toThrow(
      'recording is implemented for Linux; macOS and Windows backends are not available yet',
    );
  });

  it('uses /proc and /sys by default, and no sysfs with a recorded tree', () => {
    const live = createBackend({ platform: 'linux' }) as LinuxBackend;
    expect([live.name, live.procRoot, live.sysRoot]).toEqual(['linux', '/proc', '/sys']);
    const recorded = createBackend({ platform: 'linux', procRoot: `${FIXTURES}/host` });
    expect((recorded as LinuxBackend).sysRoot).toBeNull();
    const both = createBackend({ procRoot: `${FIXTURES}/host`, sysRoot: `${FIXTURES}/sys` });
    expect((both as LinuxBackend).sysRoot).toBe(`${FIXTURES}/sys`);
  });
});

describe('keptFdBudget', () => {
  it('keeps a quarter of the fd limit, at most 4096', () => {
    expect(keptFdBudget(1024)).toBe(256);
    expect(keptFdBudget(20000)).toBe(4096);
    expect(keptFdBudget(null)).toBe(4096);
    expect(keptFdBudget(-1)).toBe(0);
  });
});

describe('machineInfo', () => {
  it('reads cores and page size from a recorded tree', () => {
    const info = createBackend({ procRoot: `${FIXTURES}/host` }).machineInfo();
    expect(info).toEqual({ clockTicks: 100, pageSize: 4096, cores: 2 });
  });

  it('takes the page size from smaps and falls back to 4096 without it', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmpm-backend-'));
    cpSync(`${FIXTURES}/nopsi/stat`, `${root}/stat`);
    expect(createBackend({ procRoot: root }).machineInfo().pageSize).toBe(4096);
    mkdirSync(`${root}/self`);
    cpSync(`${FIXTURES}/edge/smaps-64k`, `${root}/self/smaps`);
    expect(createBackend({ procRoot: root }).machineInfo().pageSize).toBe(65536);
    rmSync(root, { recursive: true });
  });

  it('fails when /proc/stat is missing', () => {
    const backend = createBackend({ procRoot: `${FIXTURES}/edge` });
    expect(() => backend.machineInfo()).toThrow(SourceUnavailableError);
  });

  it('matches this machine', () => {
    const info = createBackend().machineInfo();
    expect(info.clockTicks).toBe(100);
    expect(info.cores).toBe(cpus().length);
    expect([4096, 16384, 65536]).toContain(info.pageSize);
  });
});

describe('LinuxBackend samplers', () => {
  it('fill every part of the snapshot from the live /proc', async () => {
    const onError = vi.fn();
    const sampler = createBackend().createSampler({ processes: true, ioEvery: 2, onError });
    const first = sampler.sample(Date.now()).snapshot;
    await sleep(50);
    const { snapshot, stats } = sampler.sample(Date.now());
    // Kept fds re-read at position 0 see fresh counters.
    expect(snapshot.system.ctxt).toBeGreaterThan(first.system.ctxt ?? Infinity);
    expect(snapshot.system.cpu_idle).toBeGreaterThanOrEqual(first.system.cpu_idle ?? Infinity);
    expect(stats.map((s) => s.name)).toEqual([
      'stat',
      'loadavg',
      'pressure',
      'meminfo',
      'vmstat',
      'diskstats',
      'netdev',
      'snmp',
      'processes',
    ]);
    expect(stats.every((s) => s.ok)).toBe(true);
    expect(onError).not.toHaveBeenCalled();
    for (const field of SYSTEM_FIELDS.filter((f) => !f.startsWith('psi_'))) {
      expect(snapshot.system[field], field).toBeTypeOf('number');
    }
    expect(snapshot.cores).toHaveLength(cpus().length);
    expect(snapshot.nets.map((n) => n.name)).toContain('lo');
    expect(snapshot.processes?.find((p) => p.pid === process.pid)?.comm).toBeTruthy();
    sampler.close();
  });

  it('read io on the default every 10th tick', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmpm-backend-'));
    cpSync(`${FIXTURES}/host`, root, { recursive: true });
    const sampler = createBackend({ procRoot: root }).createSampler({ processes: true });
    const io = () => sampler.sample(0).snapshot.processes?.find((p) => p.pid === 4404)?.read_bytes;
    expect(io()).toBe(888832);
    writeFileSync(`${root}/4404/io`, 'read_bytes: 1\nwrite_bytes: 2\n');
    for (let tick = 1; tick < 10; tick++) expect(io()).toBe(888832);
    expect(io()).toBe(1);
    sampler.close();
    rmSync(root, { recursive: true });
  });

  it('leave processes out when asked, and psi null without PSI', () => {
    const backend = createBackend({ procRoot: `${FIXTURES}/nopsi` });
    const sampler = backend.createSampler({ processes: false });
    const { snapshot, stats } = sampler.sample(0);
    expect(snapshot.processes).toBeNull();
    expect(stats.map((s) => s.name)).not.toContain('processes');
    expect(snapshot.system.psi_io_some_avg10).toBeNull();
    expect(snapshot.system.mem_total_bytes).toBe(24683620 * 1024);
    sampler.close();
  });
});

describe('LinuxBackend process reads', () => {
  const backend = createBackend();

  it('reads a busy child fresh each time, with growing CPU time and io', async () => {
    const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    const pid = child.pid ?? -1;
    try {
      // Wait until node has started and spins (it reads files while it starts up).
      let first = backend.readProcess(pid);
      for (let waited = 0; first?.state !== 'R' && waited < 5000; waited += 50) {
        await sleep(50);
        first = backend.readProcess(pid);
      }
      await sleep(400);
      const second = backend.readProcess(pid);
      expect(first).toMatchObject({ pid, ppid: process.pid, comm: 'node', state: 'R' });
      expect(first?.cmdline).toContain('for (;;) {}');
      expect(first?.read_bytes).not.toBeNull();
      expect(second?.start_ticks).toBe(first?.start_ticks);
      expect(second?.utime).toBeGreaterThan(first?.utime ?? Infinity);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('returns null for a process that does not exist', () => {
    expect(backend.readProcess(0x7fffffff)).toBeNull();
    expect(backend.countOpenFds(0x7fffffff)).toBeNull();
  });

  it('lists every process with its cmdline and counts open fds', () => {
    const all = backend.listProcesses();
    expect(all.length).toBeGreaterThan(10);
    expect(all.find((p) => p.pid === process.pid)?.cmdline).toContain('node');
    expect(backend.countOpenFds(process.pid)).toBeGreaterThan(2);
  });

  it('reads processes of a recorded tree, with null io where none was readable', () => {
    const recorded = createBackend({ procRoot: `${FIXTURES}/host` });
    expect(recorded.readProcess(4401)).toMatchObject({ comm: 'x) (y) z', read_bytes: 0 });
    expect(recorded.listProcesses()).toHaveLength(10);
    const root = mkdtempSync(join(tmpdir(), 'kmpm-backend-'));
    mkdirSync(`${root}/4400`); // listed, but exited before its stat was read
    expect(createBackend({ procRoot: root }).listProcesses()).toEqual([]);
    cpSync(`${FIXTURES}/host/4404`, `${root}/4404`, { recursive: true });
    rmSync(`${root}/4404/io`);
    expect(createBackend({ procRoot: root }).readProcess(4404)).toMatchObject({
      read_bytes: null,
      write_bytes: null,
    });
    rmSync(`${root}/4404/cmdline`);
    expect(createBackend({ procRoot: root }).readProcess(4404)).toBeNull();
    rmSync(root, { recursive: true });
  });
});
