import type { Db } from './db.js';

export type SessionStatus = 'running' | 'completed' | 'cancelled' | 'failed' | 'interrupted';

export interface MonitorSessionRecord {
  id: string;
  created_at: number;
  updated_at: number;
  owner_pid: number;
  params: unknown;
  status: SessionStatus;
  progress: number;
  result: unknown;
  error: string | null;
}

interface Row extends Omit<MonitorSessionRecord, 'params' | 'result'> {
  params: string;
  result: string | null;
}

/** Background monitoring sessions, persisted so their results outlive the call that started them. */
export class SessionStore {
  constructor(private readonly db: Db) {}

  create(id: string, params: unknown, ownerPid: number, now: number): void {
    this.db
      .prepare(
        "INSERT INTO monitor_session (id, created_at, updated_at, owner_pid, params, status) VALUES (?, ?, ?, ?, ?, 'running')",
      )
      .run(id, now, now, ownerPid, JSON.stringify(params));
  }

  progress(id: string, progress: number, now: number): void {
    this.db
      .prepare('UPDATE monitor_session SET progress = ?, updated_at = ? WHERE id = ?')
      .run(progress, now, id);
  }

  finish(
    id: string,
    status: Exclude<SessionStatus, 'running'>,
    now: number,
    result: unknown,
    error: string | null = null,
  ): void {
    this.db
      .prepare(
        "UPDATE monitor_session SET status = ?, updated_at = ?, progress = CASE WHEN ? = 'completed' THEN 1 ELSE progress END, result = ?, error = ? WHERE id = ?",
      )
      .run(status, now, status, result === null ? null : JSON.stringify(result), error, id);
  }

  get(id: string): MonitorSessionRecord | null {
    const row = this.db.prepare('SELECT * FROM monitor_session WHERE id = ?').get(id) as
      Row | undefined;
    return row ? decode(row) : null;
  }

  list(limit = 20): MonitorSessionRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM monitor_session ORDER BY created_at DESC LIMIT ?')
      .all(limit) as Row[];
    return rows.map(decode);
  }

  /** Sessions whose owning process is gone can never finish: say so instead of 'running' forever. */
  markOrphans(isAlive: (pid: number) => boolean, now: number): number {
    const running = this.db
      .prepare("SELECT id, owner_pid FROM monitor_session WHERE status = 'running'")
      .all() as { id: string; owner_pid: number }[];
    let n = 0;
    for (const s of running) {
      if (isAlive(s.owner_pid)) continue;
      this.finish(
        s.id,
        'interrupted',
        now,
        null,
        'the process running this session exited before it finished',
      );
      n++;
    }
    return n;
  }
}

function decode(row: Row): MonitorSessionRecord {
  return {
    ...row,
    params: JSON.parse(row.params) as unknown,
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
  };
}
