import fs from 'node:fs';
import path from 'node:path';
import Database, { type Statement } from 'better-sqlite3';
import { migrate } from './schema.js';

export type Db = Database.Database;

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/**
 * Opens (creating if needed) the database. WAL lets readers run beside the one recorder;
 * synchronous=NORMAL keeps a commit per tick cheap and loses at most the last commits
 * on power loss, never integrity.
 */
export function openDatabase(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new StoreError(`cannot open database ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Each WAL frame (24-byte header + page) straddles two filesystem blocks. Written over an
    // old WAL whose blocks left the page cache, every partial block is first read from disk,
    // synchronously, a few times a tick; a WAL truncated when it restarts is appended to.
    db.pragma('journal_size_limit = 0');
    migrate(db);
  } catch (err) {
    db.close();
    throw new StoreError(`cannot prepare database ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return db;
}

const SELECT_META = 'SELECT value FROM meta WHERE key = ?';
const UPSERT_META =
  'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value';

export function getMeta(db: Db, key: string): string | null {
  return (db.prepare(SELECT_META).pluck().get(key) as string | undefined) ?? null;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare(UPSERT_META).run(key, value);
}

/** getMeta and setMeta with their statements prepared once, for a caller that runs them often. */
export class MetaTable {
  private readonly select: Statement;
  private readonly upsert: Statement;

  constructor(db: Db) {
    this.select = db.prepare(SELECT_META).pluck();
    this.upsert = db.prepare(UPSERT_META);
  }

  get(key: string): string | null {
    return (this.select.get(key) as string | undefined) ?? null;
  }

  set(key: string, value: string): void {
    this.upsert.run(key, value);
  }
}
