import type { Db } from './db.js';

export type RunStatus = 'running' | 'ok' | 'failed' | 'interrupted';

export interface AutomationRun {
  id: number;
  automation: string;
  command: string;
  pid: number | null;
  started_at: number;
  ended_at: number | null;
  wall_ms: number | null;
  cpu_ms: number | null;
  peak_rss_bytes: number | null;
  exit_code: number | null;
  signal: string | null;
  status: RunStatus;
}

export interface RunResult {
  endedAt: number;
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  exitCode: number | null;
  signal: string | null;
  status: 'ok' | 'failed';
}

/** Automation runs recorded by `kmpm run` (and later by benchmarks and adapters). */
export class RunStore {
  constructor(private readonly db: Db) {}

  start(automation: string, command: string, pid: number | null, startedAt: number): number {
    const info = this.db
      .prepare(
        "INSERT INTO automation_run (automation, command, pid, started_at, status) VALUES (?, ?, ?, ?, 'running')",
      )
      .run(automation, command, pid, startedAt);
    return Number(info.lastInsertRowid);
  }

  finish(id: number, r: RunResult): void {
    this.db
      .prepare(
        `UPDATE automation_run SET ended_at = ?, wall_ms = ?, cpu_ms = ?, peak_rss_bytes = ?,
         exit_code = ?, signal = ?, status = ? WHERE id = ?`,
      )
      .run(r.endedAt, r.wallMs, r.cpuMs, r.peakRssBytes, r.exitCode, r.signal, r.status, id);
  }

  /** Runs of one automation (or all when name is null) active at some point in [from, to]. */
  overlapping(name: string | null, from: number, to: number): AutomationRun[] {
    const sql = `SELECT * FROM automation_run WHERE started_at <= ? AND (ended_at IS NULL OR ended_at >= ?)
      ${name === null ? '' : 'AND automation = ?'} ORDER BY started_at`;
    const args: unknown[] = name === null ? [to, from] : [to, from, name];
    return this.db.prepare(sql).all(...args) as AutomationRun[];
  }

  /** Runs that finished in [from, to]. */
  finished(name: string | null, from: number, to: number): AutomationRun[] {
    const sql = `SELECT * FROM automation_run WHERE ended_at BETWEEN ? AND ?
      ${name === null ? '' : 'AND automation = ?'} ORDER BY ended_at`;
    const args: unknown[] = name === null ? [from, to] : [from, to, name];
    return this.db.prepare(sql).all(...args) as AutomationRun[];
  }

  running(name: string | null): AutomationRun[] {
    const sql = `SELECT * FROM automation_run WHERE status = 'running' ${name === null ? '' : 'AND automation = ?'}`;
    return this.db.prepare(sql).all(...(name === null ? [] : [name])) as AutomationRun[];
  }

  names(): string[] {
    return this.db
      .prepare('SELECT DISTINCT automation FROM automation_run ORDER BY automation')
      .pluck()
      .all() as string[];
  }
}
