import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';

/** prev_hash of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/** meta keys holding the newest row, so that deleting the last rows is detectable too. */
export const HEAD_SEQ_KEY = 'audit_head_seq';
export const HEAD_HASH_KEY = 'audit_head_hash';

/** The hashed fields of one audit row; `args` is the stored canonical JSON text. */
export interface ChainedFields {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  args: string;
  outcome: string;
  durationMs: number;
  detail: string | null;
}

export interface ChainLink {
  seq: number;
  hash: string;
}

/** sha256 hex of prev_hash, a newline, and the canonical JSON array of the row's fields. */
export function chainHash(prevHash: string, f: ChainedFields): string {
  const body = canonicalJson([
    f.seq,
    f.ts,
    f.actor,
    f.action,
    f.args,
    f.outcome,
    f.durationMs,
    f.detail,
  ]);
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

/**
 * The chain head as stored in meta: null when absent, 'malformed' when present but not a
 * positive seq and a sha256 hex digest.
 */
export function parseHead(
  seqText: string | undefined,
  hashText: string | undefined,
): ChainLink | null | 'malformed' {
  if (seqText === undefined && hashText === undefined) return null;
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq) || seq < 1 || !/^[0-9a-f]{64}$/.test(hashText ?? '')) {
    return 'malformed';
  }
  return { seq, hash: hashText as string };
}

/**
 * One row: the head recorded in meta, and the highest seq SQLite has issued for `audit`
 * (sqlite_sequence keeps it even when the rows and the head are deleted).
 */
export const TIP_SQL = `SELECT
  (SELECT value FROM meta WHERE key = '${HEAD_SEQ_KEY}') AS head_seq,
  (SELECT value FROM meta WHERE key = '${HEAD_HASH_KEY}') AS head_hash,
  (SELECT seq FROM sqlite_sequence WHERE name = 'audit') AS issued,
  (SELECT seq FROM audit ORDER BY seq DESC LIMIT 1) AS last_seq,
  (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) AS last_hash`;

/** A row of the audit table as stored. */
export interface AuditRow {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  args: string;
  outcome: string;
  duration_ms: number;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

export interface TipRow {
  head_seq: string | null;
  head_hash: string | null;
  issued: number | null;
  last_seq: number | null;
  last_hash: string | null;
}
