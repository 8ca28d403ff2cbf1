import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunAbortedError, RunMeasureError, RunSpawnError, runMeasured } from './measure.js';

/** A node one-liner that spins until this process has used `ms` of CPU. */
const burn = (ms: number): string =>
  `const s=process.cpuUsage();for(;;){const u=process.cpuUsage(s);if(u.user+u.system>=${ms * 1000})break}`;

const MB = 2 ** 20;
const quiet = { stdio: 'ignore' } as const;
const tmp = mkdtempSync(join(tmpdir(), 'kmpm-measure-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A /proc with only this process's stat, as copied from the real one. */
function fakeProc(name: string): string {
  const root = join(tmp, name);
  mkdirSync(join(root, 'self'), { recursive: true });
  writeFileSync(join(root, 'self/stat'), readFileSync('/proc/self/stat'));
  return root;
}

describe('runMeasured', () => {
  it('measures the CPU and wall time of a busy child', async () => {
    const m = await runMeasured(['node', '-e', burn(400)], quiet);
    expect(m.cpuMs).toBeGreaterThanOrEqual(350);
    expect(m.cpuMs % 10).toBe(0);
    // Node's startup threads can add a little CPU on top of the single-threaded loop.
    expect(m.wallMs).toBeGreaterThanOrEqual(m.cpuMs * 0.8);
    expect(m.endedAt).toBeGreaterThanOrEqual(m.startedAt);
    expect(m).toMatchObject({
      exitCode: 0,
      signal: null,
      status: 'ok',
      cpuSource: 'rusage-children',
    });
  });

  it('counts grandchildren the command waited for', async () => {
    const script = `node -e '${burn(400)}'; node -e '${burn(400)}'`;
    const m = await runMeasured(['sh', '-c', script], quiet);
    expect(m.cpuMs).toBeGreaterThanOrEqual(700);
    expect(m.cpuSource).toBe('rusage-children');
  });

  it('counts an orphaned grandchild up to the poll after the command exits', async () => {
    // The background node burns 300 ms, leaves a marker and idles; sh exits on the marker
    // without waiting, so node is reparented and never reaped inside the tree.
    const marker = join(tmp, 'orphan-ready');
    const orphan = `${burn(300)};require("fs").writeFileSync(process.argv[1],"");setTimeout(()=>{},300)`;
    const script = `node -e '${orphan}' "$1" & while [ ! -e "$1" ]; do sleep 0.02; done`;
    const m = await runMeasured(['sh', '-c', script, 'sh', marker], { ...quiet, pollMs: 50 });
    expect(m.cpuMs).toBeGreaterThanOrEqual(300);
    expect(m.cpuSource).toBe('rusage-children+orphans');
  });

  it('reports the peak memory of the tree', async () => {
    const m = await runMeasured(
      ['node', '-e', `const b=Buffer.alloc(${150 * MB},1);setTimeout(()=>b.length,500)`],
      quiet,
    );
    expect(m.peakRssBytes).toBeGreaterThanOrEqual(150 * MB);
  });

  it('reports exit codes and signals', async () => {
    const failed = await runMeasured(['sh', '-c', 'exit 3'], quiet);
    expect(failed).toMatchObject({ exitCode: 3, signal: null, status: 'failed' });
    const killed = await runMeasured(['sh', '-c', 'kill -KILL $$'], quiet);
    expect(killed).toMatchObject({ exitCode: null, signal: 'SIGKILL', status: 'failed' });
  });

  it('passes env and cwd, and drains piped output', async () => {
    const script = 'test "$KMPM_X" = yes && test "$(pwd)" = "$1" && head -c 300000 /dev/zero';
    const m = await runMeasured(['sh', '-c', script, 'sh', tmp], {
      stdio: 'pipe',
      env: { ...process.env, KMPM_X: 'yes' },
      cwd: tmp,
    });
    expect(m.exitCode).toBe(0);
  });

  it('gives onStart the live pid and the start time', async () => {
    let seen: { pid: number; startedAt: number; existed: boolean } | undefined;
    const m = await runMeasured(['sh', '-c', 'exit 0'], {
      ...quiet,
      clock: () => 1_700_000_000_000,
      onStart: (pid, startedAt) => {
        seen = { pid, startedAt, existed: existsSync(`/proc/${pid}`) };
      },
    });
    expect(seen).toEqual({ pid: m.pid, startedAt: 1_700_000_000_000, existed: true });
    expect(m.endedAt).toBe(1_700_000_000_000);
  });

  it('reports an onStart failure after the command has exited', async () => {
    const boom = new Error('store unavailable');
    const started = Date.now();
    const run = runMeasured(['sleep', '0.2'], {
      ...quiet,
      onStart: () => {
        throw boom;
      },
    });
    await expect(run).rejects.toBe(boom);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('rejects unknown and non-executable commands with RunSpawnError', async () => {
    const missing = runMeasured(['kmpm-no-such-command-4711'], quiet);
    await expect(missing).rejects.toThrow(RunSpawnError);
    await expect(missing).rejects.toThrow('command not found: kmpm-no-such-command-4711');
    await missing.catch((err: RunSpawnError) => {
      expect(err.code).toBe('ENOENT');
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    });

    const script = join(tmp, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\n');
    chmodSync(script, 0o644);
    await expect(runMeasured([script], quiet)).rejects.toThrow(
      `permission denied: ${script} is not executable`,
    );
    await expect(runMeasured(['true'], { ...quiet, cwd: join(tmp, 'nope') })).rejects.toThrow(
      `working directory not found: ${join(tmp, 'nope')}`,
    );
    await expect(
      runMeasured(['kmpm-no-such-command-4711'], { ...quiet, cwd: tmp }),
    ).rejects.toThrow('command not found');
    await expect(runMeasured(['no\0pe'], quiet)).rejects.toThrow(/cannot run no/);
    await expect(runMeasured([], quiet)).rejects.toThrow('no command given');
  });

  it('validates options and refuses an already aborted signal', async () => {
    await expect(runMeasured(['true'], { pollMs: 0 })).rejects.toThrow(RangeError);
    // Inherited stdio by default; `true` prints nothing into the test output.
    expect((await runMeasured(['true'])).status).toBe('ok');
    const aborted = AbortSignal.abort(new Error('cancelled'));
    await expect(runMeasured(['true'], { signal: aborted })).rejects.toThrow(RunAbortedError);
  });

  it('terminates the command when aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const t0 = performance.now();
    const m = await runMeasured(['sleep', '30'], { ...quiet, signal: controller.signal });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(m).toMatchObject({ signal: 'SIGTERM', exitCode: null, status: 'failed' });
  });

  it('kills a command that ignores SIGTERM after the grace period', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const m = await runMeasured(['sh', '-c', 'trap "" TERM; exec sleep 30'], {
      ...quiet,
      signal: controller.signal,
      killGraceMs: 200,
    });
    expect(m.signal).toBe('SIGKILL');
    expect(m.wallMs).toBeLessThan(1000);
  });

  it('forwards SIGINT and SIGTERM to the command and removes its listeners', async () => {
    const listeners = process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    const m = await runMeasured(['sleep', '30'], {
      ...quiet,
      // Emitting drives the same listeners a delivered signal would, without risking the runner.
      onStart: () => setTimeout(() => process.emit('SIGINT', 'SIGINT'), 50),
    });
    expect(m.signal).toBe('SIGINT');
    expect(process.listenerCount('SIGINT') + process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it('falls back to live samples when another child of this process is reaped meanwhile', async () => {
    const other = spawn('sleep', ['0.1'], { stdio: 'ignore' });
    const m = await runMeasured(['node', '-e', burn(400)], { ...quiet, pollMs: 20 });
    expect(other.exitCode).toBe(0);
    expect(m.cpuSource).toBe('tree-samples-concurrent');
    expect(m.cpuMs).toBeGreaterThanOrEqual(250);
  });

  it('reports a /proc read failure during the run once the command has exited', async () => {
    const procRoot = fakeProc('sampling');
    const run = runMeasured(['sleep', '0.1'], {
      ...quiet,
      procRoot,
      // A directory where the stat file belongs makes the first sample fail with EISDIR.
      onStart: (pid) => mkdirSync(join(procRoot, String(pid), 'stat'), { recursive: true }),
    });
    await expect(run).rejects.toThrow(RunMeasureError);
    await expect(run).rejects.toThrow(/cannot measure sleep: EISDIR/);
  });

  it('reports a /proc read failure in the sample after the exit', async () => {
    const procRoot = fakeProc('final');
    const run = runMeasured(['sleep', '0.2'], {
      ...quiet,
      procRoot,
      pollMs: 60_000, // only the first sample and the one after the exit
      onStart: (pid) => {
        const dir = join(procRoot, String(pid));
        mkdirSync(dir);
        writeFileSync(join(dir, 'stat'), readFileSync(`/proc/${pid}/stat`));
        setTimeout(() => {
          rmSync(join(dir, 'stat'));
          mkdirSync(join(dir, 'stat'));
        }, 50);
      },
    });
    await expect(run).rejects.toThrow(/cannot measure sleep: EISDIR/);
  });

  it('reports an unreadable /proc/self/stat after the run', async () => {
    const procRoot = fakeProc('after');
    const run = runMeasured(['true'], {
      ...quiet,
      procRoot,
      onStart: () => writeFileSync(join(procRoot, 'self/stat'), 'garbage'),
    });
    await expect(run).rejects.toThrow(/cannot measure true: malformed/);
    const goneRoot = fakeProc('gone');
    const gone = runMeasured(['true'], {
      ...quiet,
      procRoot: goneRoot,
      onStart: () => rmSync(join(goneRoot, 'self/stat')),
    });
    await expect(gone).rejects.toThrow(`cannot measure true: ${goneRoot}/self/stat is unreadable`);
    // Unparseable before the start: nothing is spawned.
    await expect(runMeasured(['true'], { ...quiet, procRoot })).rejects.toThrow(RunMeasureError);
  });

  it('fails with RunMeasureError where /proc cannot be read', async () => {
    await expect(
      runMeasured(['true'], { ...quiet, procRoot: join(tmp, 'noproc') }),
    ).rejects.toThrow(RunMeasureError);
  });
});
