import type Database from 'better-sqlite3';
import { canonicalArgs } from './canonical.js';
import {
  chainHash,
  GENESIS_HASH,
  HEAD_HASH_KEY,
  HEAD_SEQ_KEY,
  parseHead,
  TIP_SQL,
  type AuditRow,
  type TipRow,
} from './chain.js';
import { AuditError } from './errors.js';
import { verifyAuditChain, type VerifyResult } from './verify.js';

export { AuditError } from './errors.js';
export type { AuditProblem, AuditProblemKind, VerifyResult } from './verify.js';

export type AuditOutcome = 'ok' | 'error' | 'cancelled' | (string & {});

export interface AuditEntry {
  /** Who asked: `mcp:stdio`, `cli`, `http:<token-name>`. */
  actor: string;
  /** What was done: `tool:km_optimize_resources`, `cli:run`. */
  action: string;
  /** Arguments as received; credential-like keys are redacted before storing. */
  args: unknown;
  outcome: AuditOutcome;
  durationMs: number;
  detail?: string;
}

export interface AuditRecord {
  seq: number;
  /** Epoch milliseconds. */
  ts: number;
  actor: string;
  action: string;
  /** Parsed stored arguments; the raw text if it no longer parses (a tampered row). */
  args: unknown;
  outcome: string;
  durationMs: number;
  detail: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditListOptions {
  /** Most rows returned, newest first; default 100. */
  limit?: number;
  /** Only rows with ts >= since (epoch ms). */
  since?: number;
  /** Only rows with exactly this action. */
  action?: string;
}

const DEFAULT_LIST_LIMIT = 100;

/**
 * Append-only, hash-chained log of every change made through kmpm. Several processes (a
 * daemon and MCP servers) may append to the same database: each append reads the chain tip
 * and inserts under one BEGIN IMMEDIATE, so the chain never forks.
 */
export class AuditLog {
  readonly #db: Database.Database;
  readonly #clock: () => number;
  readonly #tip: Database.Statement<[], TipRow>;
  readonly #insert: Database.Statement<unknown[]>;
  readonly #setMeta: Database.Statement<[string, string]>;
  readonly #appendTx: Database.Transaction<(entry: AuditEntry, args: string) => AuditRecord>;

  constructor(db: Database.Database, clock: () => number = Date.now) {
    this.#db = db;
    this.#clock = clock;
    try {
      this.#tip = db.prepare<[], TipRow>(TIP_SQL);
      this.#insert = db.prepare(
        `INSERT INTO audit (seq, ts, actor, action, args, outcome, duration_ms, detail, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.#setMeta = db.prepare<[string, string]>(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      );
    } catch (err) {
      throw new AuditError(
        `the database has no audit log (${(err as Error).message}); open it through the store, which creates the tables`,
        { cause: err },
      );
    }
    this.#appendTx = db.transaction((entry: AuditEntry, args: string) =>
      this.#appendLocked(entry, args),
    );
  }

  append(entry: AuditEntry): AuditRecord {
    if (!Number.isFinite(entry.durationMs) || entry.durationMs < 0) {
      throw new AuditError(
        `durationMs must be a finite number of milliseconds >= 0, got ${entry.durationMs}`,
      );
    }
    const args = canonicalArgs(entry.args);
    try {
      return this.#appendTx.immediate(entry, args);
    } catch (err) {
      throw new AuditError(
        `could not record ${entry.action} by ${entry.actor} in the audit log: ${(err as Error).message}; ${hintFor(err)}`,
        { cause: err },
      );
    }
  }

  list(opts: AuditListOptions = {}): AuditRecord[] {
    const limit = opts.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new AuditError(`limit must be a positive integer, got ${limit}`);
    }
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (opts.since !== undefined) {
      if (!Number.isFinite(opts.since)) {
        throw new AuditError(`since must be epoch milliseconds, got ${opts.since}`);
      }
      where.push('ts >= ?');
      params.push(opts.since);
    }
    if (opts.action !== undefined) {
      where.push('action = ?');
      params.push(opts.action);
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = this.#db
      .prepare<unknown[], AuditRow>(`SELECT * FROM audit ${filter} ORDER BY seq DESC LIMIT ?`)
      .all(...params, limit);
    return rows.map(toRecord);
  }

  /** Walks the whole chain (streaming) and reports where it was edited or cut. */
  verify(): VerifyResult {
    return verifyAuditChain(this.#db);
  }

  /** Runs inside BEGIN IMMEDIATE: nobody else can append between reading the tip and inserting. */
  #appendLocked(entry: AuditEntry, args: string): AuditRecord {
    const tip = this.#tip.get() as TipRow;
    const parsed = parseHead(tip.head_seq ?? undefined, tip.head_hash ?? undefined);
    const head = typeof parsed === 'object' ? parsed : null;
    // Continue after the highest seq ever issued and from the recorded head, so that rows
    // deleted at the tail leave a visible gap instead of being silently reused.
    const seq = Math.max(head?.seq ?? 0, tip.issued ?? 0, tip.last_seq ?? 0) + 1;
    const prevHash = head?.hash ?? tip.last_hash ?? GENESIS_HASH;
    const fields = {
      seq,
      ts: Math.floor(this.#clock()),
      actor: entry.actor,
      action: entry.action,
      args,
      outcome: entry.outcome,
      durationMs: entry.durationMs,
      detail: entry.detail ?? null,
    };
    const hash = chainHash(prevHash, fields);
    this.#insert.run(
      seq,
      fields.ts,
      fields.actor,
      fields.action,
      args,
      fields.outcome,
      fields.durationMs,
      fields.detail,
      prevHash,
      hash,
    );
    this.#setMeta.run(HEAD_SEQ_KEY, String(seq));
    this.#setMeta.run(HEAD_HASH_KEY, hash);
    return { ...fields, args: parseArgs(args), prevHash, hash };
  }
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    ts: row.ts,
    actor: row.actor,
    action: row.action,
    args: parseArgs(row.args),
    outcome: row.outcome,
    durationMs: row.duration_ms,
    detail: row.detail,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function parseArgs(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // only a hand-edited row gets here; verify() reports it
  }
}

function hintFor(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_BUSY') {
    return 'another kmpm process kept the database locked; retry';
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) {
    return 'the database is open read-only; writes must go through a writable connection';
  }
  return 'check that the data directory is writable and has free space';
}
