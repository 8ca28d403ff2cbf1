import fs from 'node:fs';
import type { Command } from 'commander';
import { HOOK_STAT } from '../collect/recorder.js';
import { formatValue } from '../monitor/render.js';
import { latestSystemValues } from '../store/latest.js';
import { readLockOwner } from '../store/lock.js';
import { freshSamples } from '../store/samples-fresh.js';
import { openRuntime, processIo, type Io } from './common.js';

export interface StatusReport {
  data_dir: string;
  database: { path: string; bytes: number };
  recorder: { pid: number; alive: boolean; started_at: string | null } | null;
  samples: { count: number; oldest: string | null; newest: string | null };
  processes_tracked: number;
  automation_runs: number;
  audit_entries: number;
  latest: Record<string, number | null> | null;
  recorder_cost: {
    at: string;
    cpu_percent_of_one_core: number;
    rss_bytes: number;
    ticks: number;
    /** Mean wall time of the recorder's alert evaluation a tick; null when it ran none. */
    alert_evaluation_ms_per_tick: number | null;
  } | null;
  failing_collectors: { name: string; failures: number; last_error: string | null }[];
}

const iso = (ts: number | null) => (ts === null ? null : new Date(ts).toISOString());

export async function statusReport(dataDirFlag: string | undefined): Promise<StatusReport> {
  const rt = openRuntime(dataDirFlag);
  try {
    const { store } = rt;
    // the samples a recorder holds in memory, written first: "newest" is the last tick
    await freshSamples(rt.dataDir, () => store.query.latestTimestamp());
    const counts = store.query.counts();
    const newest = store.query.latestTimestamp();
    const lock = readLockOwner(rt.dataDir);
    const pair = latestSystemValues(store.query);
    const latest: Record<string, number | null> | null = pair.ts === null ? null : pair.values;
    const cost = store.db.prepare('SELECT * FROM recorder_stat ORDER BY ts DESC LIMIT 2').all() as {
      ts: number;
      cpu_ms: number;
      rss_bytes: number;
      ticks: number;
    }[];
    const [last, before] = cost;
    const hook = last
      ? (store.db
          .prepare('SELECT runs, duration_ms_sum FROM collector_stat WHERE name = ? AND ts = ?')
          .get(HOOK_STAT, last.ts) as { runs: number; duration_ms_sum: number } | undefined)
      : undefined;
    const failing = store.db
      .prepare(
        `SELECT name, sum(failures) AS failures, max(last_error) AS last_error FROM collector_stat
         WHERE ts > ? GROUP BY name HAVING sum(failures) > 0`,
      )
      .all(Date.now() - 3600_000) as StatusReport['failing_collectors'];
    return {
      data_dir: rt.dataDir,
      database: { path: store.file, bytes: fs.statSync(store.file).size },
      recorder: lock
        ? { pid: lock.owner.pid, alive: lock.alive, started_at: lock.owner.startedAt }
        : null,
      samples: {
        count: counts.system_raw,
        oldest: iso(store.query.oldestTimestamp()),
        newest: iso(newest),
      },
      processes_tracked: counts.process,
      automation_runs: counts.automation_run,
      audit_entries: counts.audit,
      latest,
      recorder_cost:
        last && before
          ? {
              at: new Date(last.ts).toISOString(),
              cpu_percent_of_one_core: (100 * last.cpu_ms) / (last.ts - before.ts),
              rss_bytes: last.rss_bytes,
              ticks: last.ticks,
              alert_evaluation_ms_per_tick: hook?.runs ? hook.duration_ms_sum / hook.runs : null,
            }
          : null,
      failing_collectors: failing,
    };
  } finally {
    rt.store.close();
  }
}

function render(r: StatusReport): string {
  const lines = [
    `data directory  ${r.data_dir}`,
    `database        ${r.database.path} (${formatValue(r.database.bytes, 'bytes')})`,
    `recorder        ${r.recorder ? `pid ${r.recorder.pid} ${r.recorder.alive ? 'recording' : 'not running (stale lock)'}${r.recorder.started_at ? ` since ${r.recorder.started_at}` : ''}` : 'not running (start one with: kmpm daemon)'}`,
    `samples         ${r.samples.count}${r.samples.oldest ? ` from ${r.samples.oldest} to ${r.samples.newest}` : ''}`,
    `processes       ${r.processes_tracked} tracked`,
    `automation runs ${r.automation_runs}`,
    `audit entries   ${r.audit_entries}`,
  ];
  if (r.latest) {
    lines.push(
      `latest          cpu ${formatValue(r.latest.cpu_percent ?? null, 'percent')}, memory ${formatValue(r.latest.memory_used_percent ?? null, 'percent')}, load1 ${formatValue(r.latest.load1 ?? null, '')}`,
    );
  }
  const cost = r.recorder_cost;
  if (cost) {
    const alerts = cost.alert_evaluation_ms_per_tick;
    lines.push(
      `recorder cost   ${cost.cpu_percent_of_one_core.toFixed(2)} % of one core, ${formatValue(cost.rss_bytes, 'bytes')} RSS${alerts === null ? '' : `, alert evaluation ${alerts.toFixed(2)} ms a tick`} (last minute)`,
    );
  }
  for (const c of r.failing_collectors) {
    lines.push(
      `failing         ${c.name}: ${c.failures} failures in the last hour (${c.last_error ?? 'no message'})`,
    );
  }
  return lines.join('\n');
}

export function registerStatus(program: Command, io: Io = processIo): void {
  program
    .command('status')
    .description(
      "show the data directory, the recorder, stored history, the latest values and the recorder's own cost",
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const report = await statusReport(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir);
      io.out(opts.json ? JSON.stringify(report, null, 2) : render(report));
    });
}
