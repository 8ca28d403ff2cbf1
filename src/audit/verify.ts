import type Database from 'better-sqlite3';
import {
  chainHash,
  GENESIS_HASH,
  parseHead,
  TIP_SQL,
  type AuditRow,
  type ChainLink,
  type TipRow,
} from './chain.js';

export type AuditProblemKind = 'edited' | 'deleted' | 'reordered' | 'head-mismatch';

export interface AuditProblem {
  seq: number;
  kind: AuditProblemKind;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows walked. */
  rows: number;
  /** The first problems in seq order, at most MAX_REPORTED_PROBLEMS. */
  problems: AuditProblem[];
  /** All problems found, including those left out of `problems`. */
  problemCount: number;
  /** The last row walked; publishing its hash elsewhere anchors the whole chain. */
  head: ChainLink | null;
}

export const MAX_REPORTED_PROBLEMS = 20;

/** A row whose hash is intact but which chains to something other than its predecessor. */
interface BrokenLink {
  seq: number;
  prevSeq: number;
  prevHash: string;
}

/**
 * Checks every row's hash, that seqs are contiguous from 1 and each row chains to the one
 * before, and that the last row is the head recorded in meta. One read transaction gives a
 * consistent snapshot while other processes keep appending.
 */
export function verifyAuditChain(db: Database.Database): VerifyResult {
  return db.transaction(() => walk(db))();
}

function walk(db: Database.Database): VerifyResult {
  const found: AuditProblem[] = [];
  let problemCount = 0;
  const report = (problem: AuditProblem): void => {
    problemCount++;
    if (found.length < MAX_REPORTED_PROBLEMS) found.push(problem);
  };
  const brokenLinks: BrokenLink[] = [];

  let rows = 0;
  let prev: AuditRow | undefined;
  let prevIntact = true;
  // iterate() streams, so a large log is never held in memory.
  const all = db.prepare<[], AuditRow>('SELECT * FROM audit ORDER BY seq').iterate();
  for (const row of all) {
    rows++;
    const intact = chainHash(row.prev_hash, fieldsOf(row)) === row.hash;
    if (!intact) {
      report({
        seq: row.seq,
        kind: 'edited',
        message: `seq ${row.seq} (${row.action}) no longer matches its hash: it was changed after it was written`,
      });
    }
    const expectedSeq = (prev?.seq ?? 0) + 1;
    if (row.seq !== expectedSeq) {
      const missing =
        row.seq - expectedSeq === 1
          ? `seq ${expectedSeq} is`
          : `seqs ${expectedSeq}-${row.seq - 1} are`;
      report({
        seq: expectedSeq,
        kind: 'deleted',
        message: `${missing} missing: rows were deleted`,
      });
    } else if (prev === undefined) {
      if (intact && row.prev_hash !== GENESIS_HASH) {
        report({
          seq: row.seq,
          kind: 'edited',
          message: `seq ${row.seq} does not start from the genesis hash: the start of the log was replaced`,
        });
      }
    } else if (intact && prevIntact && row.prev_hash !== prev.hash) {
      // Both rows are self-consistent, so one was re-hashed or moved; which one is decided
      // after the walk, since a connection cannot run another query while iterating.
      if (brokenLinks.length < MAX_REPORTED_PROBLEMS) {
        brokenLinks.push({ seq: row.seq, prevSeq: prev.seq, prevHash: row.prev_hash });
      } else {
        problemCount++;
      }
    }
    prev = row;
    prevIntact = intact;
  }

  const bySeq = db.prepare<[string], { seq: number }>('SELECT seq FROM audit WHERE hash = ?');
  for (const link of brokenLinks) {
    const target = bySeq.get(link.prevHash);
    report(
      target === undefined
        ? {
            seq: link.prevSeq,
            kind: 'edited',
            message: `seq ${link.prevSeq} was rewritten and re-hashed: seq ${link.seq} still chains to its original hash`,
          }
        : {
            seq: link.seq,
            kind: 'reordered',
            message: `seq ${link.seq} chains to seq ${target.seq} instead of seq ${link.prevSeq}: rows were inserted or reordered`,
          },
    );
  }

  const last = prev === undefined ? null : { seq: prev.seq, hash: prev.hash };
  for (const problem of headProblems(db.prepare<[], TipRow>(TIP_SQL).get() as TipRow, last)) {
    report(problem);
  }

  const problems = found.sort((a, b) => a.seq - b.seq);
  return { ok: problemCount === 0, rows, problems, problemCount, head: last };
}

/** Compares the last row with the head in meta and the highest seq SQLite has issued. */
function headProblems(tip: TipRow, last: ChainLink | null): AuditProblem[] {
  const lastSeq = last?.seq ?? 0;
  const mismatch = (seq: number, message: string): AuditProblem[] => [
    { seq, kind: 'head-mismatch', message },
  ];
  const head = parseHead(tip.head_seq ?? undefined, tip.head_hash ?? undefined);
  if (head === 'malformed') {
    return mismatch(
      lastSeq,
      'the chain head in meta (audit_head_seq, audit_head_hash) was altered',
    );
  }
  const issued = Math.max(tip.issued ?? 0, head?.seq ?? 0);
  if (issued > lastSeq) {
    const cut = issued - lastSeq;
    return mismatch(
      lastSeq + 1,
      `the log ends at seq ${lastSeq} but seq ${issued} was written: the last ${cut} row${cut === 1 ? ' was' : 's were'} deleted`,
    );
  }
  if (last === null) return [];
  if (head === null)
    return mismatch(lastSeq, 'the chain head is missing from meta: it was deleted');
  if (head.seq < lastSeq) {
    return mismatch(head.seq + 1, `rows after seq ${head.seq} were added outside kmpm`);
  }
  if (head.hash !== last.hash) {
    return mismatch(
      lastSeq,
      `seq ${lastSeq} was rewritten and re-hashed: it is not the recorded head`,
    );
  }
  return [];
}

function fieldsOf(row: AuditRow): Parameters<typeof chainHash>[1] {
  return {
    seq: row.seq,
    ts: row.ts,
    actor: row.actor,
    action: row.action,
    args: row.args,
    outcome: row.outcome,
    durationMs: row.duration_ms,
    detail: row.detail,
  };
}
