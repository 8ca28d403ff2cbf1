import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { KMPM, countRows, exited, kmpm, startKmpm, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

type Structured = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const hasStressNg = spawnSync('stress-ng', ['--version']).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A node binary under a recognisable name: the kernel names a process after the file it ran. */
function named(dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.symlinkSync(process.execPath, file);
  return file;
}

function rssBytes(pid: number): number {
  try {
    return (
      Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) *
      1024
    );
  } catch {
    return 0;
  }
}

function topCommand(f: Structured | undefined): string | undefined {
  return f?.attribution.processes[0]?.command;
}

describe('km_analyze_bottlenecks on a real machine under load', () => {
  it(
    'names the CPU hogs, the memory hog and the I/O load in the right findings',
    { timeout: 90_000 },
    async () => {
      const dir = tempDir();
      const daemon = startKmpm(['daemon', '--interval', '0.5', '--data-dir', dir]);
      const hogs: ChildProcess[] = [];
      try {
        await waitFor(
          () =>
            fs.existsSync(path.join(dir, 'kmpm.db')) &&
            countRows(path.join(dir, 'kmpm.db'), 'system_raw') >= 2,
          30_000, // the first write, after the default flush interval (10 s)
          'recording',
        );
        const memHog = spawn(
          named(dir, 'kmpm-mem-hog'),
          ['-e', 'const b=Buffer.alloc(2**30,1);setInterval(()=>b[0]++,1000)'],
          {
            stdio: 'ignore',
          },
        );
        hogs.push(memHog);
        // Filling 1 GiB takes seconds of CPU on a small VM: the analysed range starts once it
        // is resident, so that work does not count against the CPU hogs.
        await waitFor(
          () => rssBytes(memHog.pid as number) >= 0.95 * 2 ** 30,
          30_000,
          'the memory hog to fill',
        );
        await sleep(1000); // one recorder tick sees the hog at full size before the range starts
        // Phase 1: CPU hogs beside the resident memory hog. Phase 2: I/O load alone, so each
        // finding's attribution is judged on the load meant for it.
        const from = new Date().toISOString();
        const cpuHog = named(dir, 'kmpm-cpu-hog');
        const cpuHogs = [0, 1, 2].map(() =>
          spawn(cpuHog, ['-e', 'for(;;){}'], { stdio: 'ignore' }),
        );
        hogs.push(...cpuHogs);
        await sleep(10_000);
        const to = new Date().toISOString();
        for (const h of cpuHogs) h.kill('SIGKILL');
        await sleep(1500); // let the recorder see them exit
        const ioFrom = new Date().toISOString();
        if (hasStressNg) {
          const io = spawn(
            'stress-ng',
            [
              '--hdd',
              '1',
              '--hdd-bytes',
              '128M',
              '--timeout',
              '10s',
              '--temp-path',
              dir,
              '--quiet',
            ],
            {
              stdio: 'ignore',
            },
          );
          hogs.push(io);
          await exited(io);
        }
        const ioTo = new Date().toISOString();
        await sleep(1500);

        const transport = new StdioClientTransport({
          command: process.execPath,
          args: [KMPM, 'mcp', '--data-dir', dir],
          stderr: 'ignore',
        });
        const client = new Client({ name: 'e2e', version: '1.0.0' });
        await client.connect(transport);
        try {
          const r = await client.callTool({
            name: 'km_analyze_bottlenecks',
            arguments: {
              analysis_scope: 'system',
              time_range: 'custom',
              custom_start_time: from,
              custom_end_time: to,
              severity_threshold: 'low',
            },
          });
          expect(r.isError).toBeFalsy();
          const s = r.structuredContent as Structured;
          const byId = (id: string) => s.findings.find((f: Structured) => f.id === id);

          const cpu = byId('cpu.utilization');
          expect(cpu?.severity).toMatch(/high|critical/);
          expect(cpu.attribution.processes.slice(0, 3).map((p: Structured) => p.command)).toEqual([
            'kmpm-cpu-hog',
            'kmpm-cpu-hog',
            'kmpm-cpu-hog',
          ]);
          expect(cpu.attribution.processes[0].share).toBeGreaterThan(0.15); // ~1/3 each on a quiet machine
          expect(cpu.window.duration_s).toBeGreaterThanOrEqual(5);

          expect(topCommand(byId('memory.concentration'))).toBe('kmpm-mem-hog');
          expect(
            byId('memory.concentration').attribution.processes[0].amount,
          ).toBeGreaterThanOrEqual(0.95 * 2 ** 30); // the 1 GiB hog, resident

          expect(
            s.recommendations.find((x: Structured) => x.finding_id === 'cpu.utilization')?.tool_call
              .arguments.target_id,
          ).toBe(String(cpu.attribution.processes[0].pid));
          expect(s.report.uri).toMatch(/^kmpm:\/\/reports\/bottlenecks-.*\.md$/);
          const report = await client.readResource({ uri: s.report.uri });
          expect((report.contents[0] as { text: string }).text).toContain('kmpm-cpu-hog');

          if (hasStressNg) {
            const r2 = await client.callTool({
              name: 'km_analyze_bottlenecks',
              arguments: {
                analysis_scope: 'system',
                time_range: 'custom',
                custom_start_time: ioFrom,
                custom_end_time: ioTo,
                bottleneck_types: ['io'],
                severity_threshold: 'low',
                generate_report: false,
              },
            });
            const io = (r2.structuredContent as Structured).findings.filter(
              (f: Structured) => f.resource === 'io' && f.attribution.processes.length,
            );
            expect(io.length).toBeGreaterThan(0);
            for (const f of io) expect(topCommand(f)).toMatch(/^stress-ng/);
          }
        } finally {
          await client.close();
        }
      } finally {
        for (const h of hogs) h.kill('SIGKILL');
        daemon.kill('SIGTERM');
        await exited(daemon);
      }
    },
  );

  it('finds failing automations and gives clear errors for bad ranges', async () => {
    const dir = tempDir();
    for (const code of [0, 1, 1, 0]) {
      await kmpm([
        'run',
        '--name',
        'flaky',
        '--quiet',
        '--data-dir',
        dir,
        '--',
        'sh',
        '-c',
        `exit ${code}`,
      ]);
    }
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [KMPM, 'mcp', '--no-record', '--data-dir', dir],
      stderr: 'ignore',
    });
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(transport);
    try {
      const r = await client.callTool({
        name: 'km_analyze_bottlenecks',
        arguments: { analysis_scope: 'automation', generate_report: false },
      });
      const s = r.structuredContent as Structured;
      const f = s.findings.find((x: Structured) => x.id === 'automation.failures.flaky');
      expect(f).toMatchObject({ severity: 'critical', kind: 'failures' }); // 2 of 4 failed: ≥ 0.5
      expect(f.evidence[0].observed).toBe(0.5);
      expect(s.report).toBeNull();
      for (const [args, re] of [
        [
          {
            analysis_scope: 'system',
            time_range: 'custom',
            custom_start_time: 'yesterday',
            custom_end_time: '2026-01-01T00:00:00Z',
          },
          /custom_start_time: 'yesterday' is not an ISO-8601 time/,
        ],
        [
          {
            analysis_scope: 'system',
            time_range: 'custom',
            custom_start_time: '2026-01-02T00:00:00Z',
            custom_end_time: '2026-01-01T00:00:00Z',
          },
          /custom_end_time: must be after custom_start_time/,
        ],
        [
          {
            analysis_scope: 'system',
            time_range: 'custom',
            custom_start_time: '2026-01-01T00:00:00Z',
          },
          /custom_end_time: is required/,
        ],
        [
          { analysis_scope: 'system', custom_start_time: '2026-01-01T00:00:00Z' },
          /custom_start_time: is only used with time_range 'custom'/,
        ],
        [{ analysis_scope: 'system', bottleneck_types: ['gpu'] }, /bottleneck_types/],
        [{ analysis_scope: 'everything' }, /analysis_scope/],
      ] as const) {
        const e = await client.callTool({
          name: 'km_analyze_bottlenecks',
          arguments: args as Record<string, unknown>,
        });
        expect(e.isError, JSON.stringify(args)).toBe(true);
        expect((e.content as { text: string }[])[0]?.text).toMatch(re);
      }
    } finally {
      await client.close();
    }
  });
});
