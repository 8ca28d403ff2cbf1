import path from 'node:path';
import { AuditLog } from '../audit/log.js';
import { DB_FILE } from '../config/paths.js';
import { openDatabase, type Db } from './db.js';
import { SampleQuery } from './query.js';
import { RunStore } from './runs.js';
import { SessionStore } from './sessions.js';
import { SampleWriter } from './writer.js';

/** One open database with its read and write paths. */
export class Store {
  readonly query: SampleQuery;
  readonly runs: RunStore;
  readonly sessions: SessionStore;
  readonly audit: AuditLog;

  private constructor(
    readonly db: Db,
    readonly file: string,
  ) {
    this.query = new SampleQuery(db);
    this.runs = new RunStore(db);
    this.sessions = new SessionStore(db);
    this.audit = new AuditLog(db);
  }

  static open(dataDir: string): Store {
    const file = path.join(dataDir, DB_FILE);
    return new Store(openDatabase(file), file);
  }

  /** Only the lock holder (the recorder) writes samples. */
  createWriter(): SampleWriter {
    return new SampleWriter(this.db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
