import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { countRows, exited, kmpm, startKmpm, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('kmpm daemon (real process)', () => {
  it('records, refuses a second recorder, survives kill -9 and takes over the stale lock', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'kmpm.db');
    const first = startKmpm([
      'daemon',
      '--interval',
      '0.2',
      '--flush-interval',
      '1',
      '--data-dir',
      dir,
    ]);
    try {
      await waitFor(() => fs.existsSync(db) && countRows(db, 'system_raw') >= 5, 15_000, 'samples');

      const second = await kmpm(['daemon', '--data-dir', dir]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(
        new RegExp(`another recorder \\(pid ${first.pid}, started .*\\) is recording into`),
      );

      first.kill('SIGKILL');
      await exited(first);
      const check = new Database(db);
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      const before = check.prepare('SELECT count(*) FROM system_raw').pluck().get() as number;
      const procRows = check.prepare('SELECT count(*) FROM process_raw').pluck().get() as number;
      check.close();
      expect(before).toBeGreaterThanOrEqual(5);
      expect(procRows).toBeGreaterThan(0);
      expect(fs.existsSync(path.join(dir, 'recorder.lock'))).toBe(true); // left behind by kill -9

      const again = startKmpm([
        'daemon',
        '--interval',
        '0.2',
        '--flush-interval',
        '2',
        '--data-dir',
        dir,
      ]);
      try {
        await waitFor(
          () => countRows(db, 'system_raw') >= before + 5,
          15_000,
          'samples after restart',
        );
        const status = await kmpm(['status', '--json', '--data-dir', dir]);
        const report = JSON.parse(status.stdout);
        expect(report.recorder).toMatchObject({ pid: again.pid, alive: true });
        expect(report.latest.memory_used_bytes).toBeGreaterThan(0);
      } finally {
        again.kill('SIGTERM');
        const { code } = await exited(again);
        expect(code).toBe(0);
      }
      expect(fs.existsSync(path.join(dir, 'recorder.lock'))).toBe(false); // released on SIGTERM
      // SIGTERM wrote the samples waiting for the next flush: one row for each tick counted
      // (kill -9 left no self-metrics of the first daemon, and lost at most its last second)
      const stats = new Database(db, { readonly: true });
      const ticks = Number(stats.prepare('SELECT sum(ticks) FROM recorder_stat').pluck().get());
      stats.close();
      expect(countRows(db, 'system_raw')).toBe(before + ticks);
    } finally {
      first.kill('SIGKILL');
    }
  });
});

describe('bin/kmpm run as a program', () => {
  it('starts Node with one V8 helper thread: fewer threads than `node bin/kmpm`', async () => {
    const threads = (pid: number) => fs.readdirSync(`/proc/${pid}/task`).length;
    const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const [dirA, dirB] = [tempDir(), tempDir()];
    const program = startKmpm(['daemon', '--interval', '0.2', '--data-dir', dirA], {
      asProgram: true,
    });
    const plain = startKmpm(['daemon', '--interval', '0.2', '--data-dir', dirB]);
    try {
      for (const dir of [dirA, dirB]) {
        const db = path.join(dir, 'kmpm.db');
        await waitFor(
          () => fs.existsSync(db) && countRows(db, 'system_raw') >= 3,
          15_000,
          'samples',
        );
      }
      expect(cmdline(program.pid!)).toContain('--v8-pool-size=1');
      expect(cmdline(plain.pid!)).not.toContain('--v8-pool-size=1');
      expect(threads(program.pid!)).toBeLessThan(threads(plain.pid!));
    } finally {
      program.kill('SIGTERM');
      plain.kill('SIGTERM');
      expect((await exited(program)).code).toBe(0);
      expect((await exited(plain)).code).toBe(0);
    }
  });
});

describe('kmpm run (real process)', () => {
  it('records wall time, tree CPU, peak memory and exit status, and passes the status on', async () => {
    const dir = tempDir();
    const script =
      'const t=process.cpuUsage();while((process.cpuUsage(t).user+process.cpuUsage(t).system)<300000){};' +
      'const b=Buffer.alloc(64*2**20,1);setTimeout(()=>process.exit(b[0]+2),200)';
    const r = await kmpm([
      'run',
      '--name',
      'nightly-job',
      '--data-dir',
      dir,
      '--',
      process.execPath,
      '-e',
      script,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /kmpm: nightly-job: failed \(exit 3\) in \d+ ms, cpu \d+ ms, peak [\d.]+ MiB/,
    );
    const db = new Database(path.join(dir, 'kmpm.db'), { readonly: true });
    const run = db.prepare('SELECT * FROM automation_run').get() as Record<string, number | string>;
    const audit = db.prepare("SELECT action, outcome FROM audit WHERE action = 'cli:run'").get();
    db.close();
    expect(run).toMatchObject({ automation: 'nightly-job', status: 'failed', exit_code: 3 });
    expect(run.cpu_ms as number).toBeGreaterThanOrEqual(290);
    expect(run.wall_ms as number).toBeGreaterThanOrEqual(run.cpu_ms as number);
    expect(run.peak_rss_bytes as number).toBeGreaterThanOrEqual(64 * 2 ** 20);
    expect(audit).toEqual({ action: 'cli:run', outcome: 'error' });

    const ok = await kmpm([
      'run',
      '--name',
      'nightly-job',
      '--quiet',
      '--data-dir',
      dir,
      '--',
      'true',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');

    const missing = await kmpm([
      'run',
      '--name',
      'x',
      '--data-dir',
      dir,
      '--',
      'no-such-command-kmpm',
    ]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/command not found: no-such-command-kmpm/);

    const verify = await kmpm(['audit', 'verify', '--data-dir', dir]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/audit log intact: 3 entries verified/);
  });

  it('rejects bad arguments with exit 2 and a one-line reason', async () => {
    const dir = tempDir();
    const cases: [string[], RegExp][] = [
      [['run', '--data-dir', dir, '--', 'true'], /run needs --name NAME before -- COMMAND/],
      [['run', '--name', 'x', '--data-dir', dir], /run needs a command after --/],
      [['run', '--name', 'bad\nname', '--data-dir', dir, '--', 'true'], /--name must be 1-100/],
      [
        ['daemon', '--interval', 'abc', '--data-dir', dir],
        /--interval must be a number from 0.1 to 60 \(got "abc"\)/,
      ],
      [
        ['daemon', '--interval', '61', '--data-dir', dir],
        /--interval must be a number from 0.1 to 60/,
      ],
      [['mcp', '--interval', '0', '--data-dir', dir], /--interval must be a number from 0.1 to 60/],
      [
        ['daemon', '--flush-interval', '61', '--data-dir', dir],
        /--flush-interval must be a number from 0 to 60 \(got "61"\)/,
      ],
      [
        ['audit', 'list', '--limit', '0', '--data-dir', dir],
        /--limit must be a number from 1 to 10000/,
      ],
      [['status', '--bogus'], /unknown option '--bogus'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, re] of cases) {
      const r = await kmpm(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    const help = await kmpm(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['daemon', 'mcp', 'status', 'run', 'audit'])
      expect(help.stdout).toContain(cmd);
    for (const cmd of ['daemon', 'mcp', 'status', 'run', 'audit']) {
      const sub = await kmpm([cmd, '--help']);
      expect(sub.code).toBe(0);
      expect(sub.stdout).toContain('--');
    }
  });
});
