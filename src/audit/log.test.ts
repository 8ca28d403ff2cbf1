import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../store/schema.js';
import { chainHash, GENESIS_HASH, type ChainedFields } from './chain.js';
import { AuditError, AuditLog, type AuditEntry } from './log.js';

let dir: string;
let file: string;
const open: Database.Database[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmpm-audit-'));
  file = path.join(dir, 'kmpm.db');
});

afterEach(() => {
  for (const db of open.splice(0)) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function connect(options: Database.Options = {}): Database.Database {
  const db = new Database(file, options);
  open.push(db);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    migrate(db);
  }
  return db;
}

function entry(i: number, extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    actor: 'cli',
    action: 'cli:test',
    args: { i },
    outcome: 'ok',
    durationMs: i,
    ...extra,
  };
}

/** A log of `n` rows written through AuditLog, and the raw connection for tampering. */
function logWith(n: number): { db: Database.Database; log: AuditLog } {
  const db = connect();
  let now = 1_700_000_000_000;
  const log = new AuditLog(db, () => (now += 1000));
  for (let i = 1; i <= n; i++) log.append(entry(i, i % 2 === 0 ? { detail: `row ${i}` } : {}));
  return { db, log };
}

describe('append and list', () => {
  it('chains rows from the genesis hash and keeps the head in meta', () => {
    const db = connect();
    const log = new AuditLog(db, () => 1_700_000_000_123.9);
    const first = log.append({
      actor: 'mcp:stdio',
      action: 'tool:km_optimize_resources',
      args: { pid: 42, mode: 'nice' },
      outcome: 'ok',
      durationMs: 12.5,
    });
    const second = log.append({ ...entry(2), outcome: 'error', detail: 'permission denied' });

    expect(first).toMatchObject({
      seq: 1,
      ts: 1_700_000_000_123,
      actor: 'mcp:stdio',
      args: { mode: 'nice', pid: 42 },
      detail: null,
      prevHash: GENESIS_HASH,
    });
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash, detail: 'permission denied' });
    expect(second.hash).toMatch(/^[0-9a-f]{64}$/);
    const meta = db.prepare("SELECT key, value FROM meta WHERE key LIKE 'audit_head_%'").all();
    expect(meta).toEqual(
      expect.arrayContaining([
        { key: 'audit_head_seq', value: '2' },
        { key: 'audit_head_hash', value: second.hash },
      ]),
    );
    expect(log.list()).toEqual([second, first]);
    expect(log.verify()).toEqual({
      ok: true,
      rows: 2,
      problems: [],
      problemCount: 0,
      head: { seq: 2, hash: second.hash },
    });
  });

  it('stores arguments as canonical JSON with secrets redacted', () => {
    const db = connect();
    const log = new AuditLog(db);
    log.append({ ...entry(1), args: { z: 1, a: { token: 'abc', keep: true } } });
    const row = db.prepare('SELECT args FROM audit').get() as { args: string };
    expect(row.args).toBe('{"a":{"keep":true,"token":"[redacted]"},"z":1}');
    expect(log.list()[0]?.args).toEqual({ a: { keep: true, token: '[redacted]' }, z: 1 });
  });

  it('filters by time and action, newest first, up to a limit', () => {
    const { log } = logWith(5);
    log.append(entry(6, { action: 'cli:run' }));
    expect(log.list({ limit: 2 }).map((r) => r.seq)).toEqual([6, 5]);
    expect(log.list({ action: 'cli:run' }).map((r) => r.seq)).toEqual([6]);
    const third = log.list().find((r) => r.seq === 3);
    expect(log.list({ since: third?.ts ?? 0 }).map((r) => r.seq)).toEqual([6, 5, 4, 3]);
    expect(log.list({ since: third?.ts ?? 0, action: 'cli:test', limit: 1 })[0]?.seq).toBe(5);
  });

  it('rejects bad list options and durations with a typed error', () => {
    const { log } = logWith(1);
    expect(() => log.list({ limit: 0 })).toThrow(/limit must be a positive integer, got 0/);
    expect(() => log.list({ limit: 1.5 })).toThrow(AuditError);
    expect(() => log.list({ since: Number.NaN })).toThrow(/since must be epoch milliseconds/);
    expect(() => log.append(entry(1, { durationMs: -1 }))).toThrow(/durationMs must be/);
    expect(() => log.append(entry(1, { durationMs: Infinity }))).toThrow(AuditError);
    expect(log.list()).toHaveLength(1);
  });

  it('returns the raw text of arguments that no longer parse', () => {
    const { db, log } = logWith(2);
    db.prepare("UPDATE audit SET args = '{broken' WHERE seq = 1").run();
    expect(log.list()[1]?.args).toBe('{broken');
  });

  it('explains a database that was never migrated', () => {
    const db = new Database(path.join(dir, 'empty.db'));
    open.push(db);
    const err = catchError(() => new AuditLog(db));
    expect(err).toBeInstanceOf(AuditError);
    expect(err.message).toMatch(/no audit log .*open it through the store/);
    expect(err.cause).toBeInstanceOf(Error);
  });
});

describe('append failures', () => {
  it('reports a database locked by another writer, with the SQLite error as cause', () => {
    connect();
    const holder = connect();
    holder.exec('BEGIN IMMEDIATE');
    const log = new AuditLog(connect({ timeout: 0 }));
    const err = catchError(() => log.append(entry(1)));
    expect(err).toBeInstanceOf(AuditError);
    expect(err.message).toMatch(
      /could not record cli:test by cli .*kept the database locked; retry/,
    );
    expect((err.cause as { code?: string }).code).toBe('SQLITE_BUSY');
    holder.exec('ROLLBACK');
    expect(log.append(entry(1)).seq).toBe(1);
  });

  it('reports a read-only connection', () => {
    connect();
    const log = new AuditLog(connect({ readonly: true }));
    expect(() => log.append(entry(1))).toThrow(/open read-only/);
  });

  it('reports other failures and leaves the chain untouched', () => {
    const { db, log } = logWith(2);
    db.exec(
      "CREATE TRIGGER no_more BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    );
    expect(() => log.append(entry(3))).toThrow(/disk on fire; check that the data directory/);
    db.exec('DROP TRIGGER no_more');
    expect(log.append(entry(3)).seq).toBe(3);
    expect(log.verify().ok).toBe(true);
  });
});

describe('verify', () => {
  const columns: Array<[string, string]> = [
    ['ts', 'ts = ts + 1'],
    ['actor', "actor = 'http:admin'"],
    ['action', "action = 'cli:other'"],
    ['args', `args = '{"i":99}'`],
    ['outcome', "outcome = 'error'"],
    ['duration_ms', 'duration_ms = 0.5'],
    ['detail (set)', "detail = 'changed'"],
    ['detail (cleared)', 'detail = NULL'],
    ['prev_hash', `prev_hash = '${'1'.repeat(64)}'`],
    ['hash', `hash = '${'2'.repeat(64)}'`],
  ];

  it.each(columns)('reports an edit of %s at that seq', (_column, assignment) => {
    const { db, log } = logWith(6);
    const seq = assignment.startsWith('detail = NULL') ? 4 : 3; // row 4 has a detail to clear
    db.prepare(`UPDATE audit SET ${assignment} WHERE seq = ?`).run(seq);
    const result = log.verify();
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      {
        seq,
        kind: 'edited',
        message: expect.stringMatching(
          new RegExp(`^seq ${seq} \\(cli:\\w+\\) no longer matches its hash`),
        ) as string,
      },
    ]);
  });

  it('reports a row rewritten with a recomputed hash, through the next row', () => {
    const { db, log } = logWith(5);
    const forged = forgedHash(db, 3, { args: '{"i":-1}' });
    db.prepare(`UPDATE audit SET args = '{"i":-1}', hash = ? WHERE seq = 3`).run(forged);
    expect(log.verify().problems).toEqual([
      {
        seq: 3,
        kind: 'edited',
        message: 'seq 3 was rewritten and re-hashed: seq 4 still chains to its original hash',
      },
    ]);
  });

  it('reports a deleted middle row', () => {
    const { db, log } = logWith(5);
    db.prepare('DELETE FROM audit WHERE seq = 3').run();
    const result = log.verify();
    expect(result).toMatchObject({ ok: false, rows: 4 });
    expect(result.problems).toEqual([
      { seq: 3, kind: 'deleted', message: 'seq 3 is missing: rows were deleted' },
    ]);
  });

  it('reports a deleted range once', () => {
    const { db, log } = logWith(8);
    db.prepare('DELETE FROM audit WHERE seq BETWEEN 3 AND 6').run();
    expect(log.verify().problems).toEqual([
      { seq: 3, kind: 'deleted', message: 'seqs 3-6 are missing: rows were deleted' },
    ]);
  });

  it('reports deleted first rows', () => {
    const { db, log } = logWith(3);
    db.prepare('DELETE FROM audit WHERE seq = 1').run();
    expect(log.verify().problems).toEqual([
      { seq: 1, kind: 'deleted', message: 'seq 1 is missing: rows were deleted' },
    ]);
  });

  it('detects deleting the last row through the head', () => {
    const { db, log } = logWith(5);
    db.prepare('DELETE FROM audit WHERE seq = 5').run();
    expect(log.verify()).toMatchObject({
      ok: false,
      rows: 4,
      problems: [
        {
          seq: 5,
          kind: 'head-mismatch',
          message: 'the log ends at seq 4 but seq 5 was written: the last 1 row was deleted',
        },
      ],
    });
  });

  it('detects a truncated tail even when the head in meta was deleted as well', () => {
    const { db, log } = logWith(5);
    db.exec("DELETE FROM audit WHERE seq > 2; DELETE FROM meta WHERE key LIKE 'audit_head_%'");
    expect(log.verify().problems).toEqual([
      {
        seq: 3,
        kind: 'head-mismatch',
        message: 'the log ends at seq 2 but seq 5 was written: the last 3 rows were deleted',
      },
    ]);
  });

  it('detects an emptied log', () => {
    const { db, log } = logWith(2);
    db.exec('DELETE FROM audit');
    expect(log.verify()).toMatchObject({ ok: false, rows: 0, head: null });
  });

  it('keeps a tail deletion visible after later appends', () => {
    const { db, log } = logWith(4);
    db.prepare('DELETE FROM audit WHERE seq = 4').run();
    expect(log.append(entry(5)).seq).toBe(5);
    expect(log.verify().problems).toEqual([
      { seq: 4, kind: 'deleted', message: 'seq 4 is missing: rows were deleted' },
    ]);
  });

  it('reports a missing or altered head', () => {
    const { db, log } = logWith(3);
    db.exec("DELETE FROM meta WHERE key = 'audit_head_seq'");
    expect(log.verify().problems[0]).toMatchObject({ seq: 3, kind: 'head-mismatch' });
    db.exec("DELETE FROM meta WHERE key = 'audit_head_hash'");
    expect(log.verify().problems).toEqual([
      {
        seq: 3,
        kind: 'head-mismatch',
        message: 'the chain head is missing from meta: it was deleted',
      },
    ]);
    // Appending without a head continues from the last row.
    expect(log.append(entry(4))).toMatchObject({ seq: 4, prevHash: log.list()[1]?.hash });
    expect(log.verify().ok).toBe(true);
  });

  it('reports a malformed head, and appends after the last row regardless', () => {
    const { db, log } = logWith(3);
    db.exec("UPDATE meta SET value = 'not a hash' WHERE key = 'audit_head_hash'");
    expect(log.verify().problems).toEqual([
      {
        seq: 3,
        kind: 'head-mismatch',
        message: 'the chain head in meta (audit_head_seq, audit_head_hash) was altered',
      },
    ]);
    db.exec("DELETE FROM meta WHERE key = 'audit_head_hash'");
    expect(log.verify().problems[0]?.message).toMatch(/was altered/);
    expect(log.append(entry(4))).toMatchObject({ seq: 4, prevHash: log.list()[1]?.hash });
    expect(log.verify().ok).toBe(true);
  });

  it('accepts a log that has never been written to', () => {
    const log = new AuditLog(connect());
    expect(log.verify()).toEqual({ ok: true, rows: 0, problems: [], problemCount: 0, head: null });
  });

  it('reports a last row rewritten with a recomputed hash, through the head', () => {
    const { db, log } = logWith(3);
    db.prepare("UPDATE audit SET hash = ?, outcome = 'cancelled' WHERE seq = 3").run(
      forgedHash(db, 3, { outcome: 'cancelled' }),
    );
    expect(log.verify().problems).toEqual([
      {
        seq: 3,
        kind: 'head-mismatch',
        message: 'seq 3 was rewritten and re-hashed: it is not the recorded head',
      },
    ]);
  });

  it('reports rows inserted outside kmpm, and a reordered chain', () => {
    const { db, log } = logWith(3);
    const tail = log.list({ limit: 1 })[0];
    // A forger who knows the scheme appends seq 4 chaining from seq 2, skipping seq 3.
    const second = log.list().find((r) => r.seq === 2);
    const fields = {
      seq: 4,
      ts: (tail?.ts ?? 0) + 1,
      actor: 'cli',
      action: 'cli:forged',
      args: '{}',
      outcome: 'ok',
      durationMs: 1,
      detail: null,
    };
    const prevHash = second?.hash ?? '';
    db.prepare(
      `INSERT INTO audit (seq, ts, actor, action, args, outcome, duration_ms, detail, prev_hash, hash)
       VALUES (@seq, @ts, @actor, @action, @args, @outcome, @durationMs, @detail, @prevHash, @hash)`,
    ).run({ ...fields, prevHash, hash: chainHash(prevHash, fields) });
    expect(log.verify().problems).toEqual([
      {
        seq: 4,
        kind: 'reordered',
        message: 'seq 4 chains to seq 2 instead of seq 3: rows were inserted or reordered',
      },
      { seq: 4, kind: 'head-mismatch', message: 'rows after seq 3 were added outside kmpm' },
    ]);
  });

  it('reports a first row that does not start from the genesis hash', () => {
    const { db, log } = logWith(2);
    const prevHash = 'f'.repeat(64);
    const hash = forgedHash(db, 1, {}, prevHash);
    db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = 1').run(prevHash, hash);
    expect(log.verify().problems.map((p) => [p.seq, p.kind, p.message.slice(0, 40)])).toEqual([
      [1, 'edited', 'seq 1 does not start from the genesis ha'],
      [1, 'edited', 'seq 1 was rewritten and re-hashed: seq 2'],
    ]);
  });

  it('lists at most 20 problems, the first ones, and counts them all', () => {
    const { db, log } = logWith(40);
    db.exec("UPDATE audit SET outcome = 'error' WHERE seq > 5");
    const result = log.verify();
    expect(result.problemCount).toBe(35);
    expect(result.problems).toHaveLength(20);
    expect(result.problems[0]?.seq).toBe(6);
    expect(result.problems[19]?.seq).toBe(25);
  });

  it('counts re-hashed rows beyond the cap too', () => {
    const { db, log } = logWith(50);
    // Re-hash every even row from its own (unchanged) prev_hash with a new outcome.
    for (let seq = 2; seq <= 50; seq += 2) {
      const hash = forgedHash(db, seq, { outcome: 'error' });
      db.prepare("UPDATE audit SET outcome = 'error', hash = ? WHERE seq = ?").run(hash, seq);
    }
    const result = log.verify();
    // 24 re-hashed rows detected through their successors, and the last through the head.
    expect(result.problemCount).toBe(25);
    expect(result.problems).toHaveLength(20);
    expect(result.problems.every((p) => p.kind === 'edited')).toBe(true);
  });
});

describe('concurrent writers', () => {
  it('keeps one chain when two connections interleave appends', () => {
    const a = new AuditLog(connect());
    const b = new AuditLog(connect());
    for (let i = 0; i < 50; i++) {
      a.append(entry(i, { actor: 'mcp:stdio' }));
      b.append(entry(i, { actor: 'daemon' }));
    }
    expect(a.verify()).toMatchObject({ ok: true, rows: 100 });
    expect(b.list({ limit: 2 }).map((r) => [r.seq, r.actor])).toEqual([
      [100, 'daemon'],
      [99, 'mcp:stdio'],
    ]);
  });

  it('keeps one chain when separate processes append at the same time', async () => {
    connect();
    const moduleDir = compileAuditModules();
    const child = path.join(moduleDir, 'append-many.mjs');
    fs.writeFileSync(
      child,
      `import Database from ${JSON.stringify(pathToFileURL(require.resolve('better-sqlite3')).href)};
       import { AuditLog } from './log.js';
       const [file, actor, count, startAt] = process.argv.slice(2);
       const db = new Database(file, { timeout: 20000 });
       const log = new AuditLog(db);
       // All processes start appending at the same moment, whatever their start-up time.
       while (Date.now() < Number(startAt));
       for (let i = 0; i < Number(count); i++) {
         log.append({ actor, action: 'test:append', args: { i }, outcome: 'ok', durationMs: i });
         // A moment of other work between changes, as real callers have; without it SQLite's
         // busy back-off lets one process finish before the others wake.
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
       }
       db.close();`,
    );
    const actors = ['proc:a', 'proc:b', 'proc:c'];
    const startAt = String(Date.now() + 1500);
    await Promise.all(
      actors.map((actor) => run(process.execPath, [child, file, actor, '150', startAt])),
    );

    const db = connect();
    const log = new AuditLog(db);
    expect(log.verify()).toMatchObject({ ok: true, rows: 450, head: { seq: 450 } });
    for (const actor of actors) {
      const mine = db
        .prepare('SELECT args FROM audit WHERE actor = ? ORDER BY seq')
        .all(actor) as Array<{ args: string }>;
      expect(mine.map((r) => (JSON.parse(r.args) as { i: number }).i)).toEqual(
        Array.from({ length: 150 }, (_, i) => i),
      );
    }
    // The processes really overlapped: their rows are interleaved, not in three blocks.
    const order = (
      db.prepare('SELECT actor FROM audit ORDER BY seq').all() as Array<{
        actor: string;
      }>
    ).map((r) => r.actor);
    const switches = order.filter((actor, i) => i > 0 && actor !== order[i - 1]).length;
    expect(switches).toBeGreaterThan(2);
  });
});

const require = createRequire(import.meta.url);

/** The audit modules as plain ES modules, so a separate node process can load the real code. */
function compileAuditModules(): string {
  const out = path.join(dir, 'audit-js');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  const src = path.dirname(fileURLToPath(import.meta.url));
  for (const name of fs.readdirSync(src)) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(src, name), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    fs.writeFileSync(path.join(out, name.replace(/\.ts$/, '.js')), outputText);
  }
  return out;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`)),
    );
  });
}

/** The hash an attacker who knows the scheme would store after changing a row. */
function forgedHash(
  db: Database.Database,
  seq: number,
  changes: Partial<ChainedFields>,
  newPrevHash?: string,
): string {
  const { prevHash, ...fields } = db
    .prepare(
      `SELECT seq, ts, actor, action, args, outcome, duration_ms AS durationMs, detail,
              prev_hash AS prevHash FROM audit WHERE seq = ?`,
    )
    .get(seq) as ChainedFields & { prevHash: string };
  return chainHash(newPrevHash ?? prevHash, { ...fields, ...changes });
}

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
