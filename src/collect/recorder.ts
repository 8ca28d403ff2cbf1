import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log.js';
import { pruneRaw, pruneSelfMetrics } from '../store/retention.js';
import type { Store } from '../store/index.js';
import { maintainTiers } from '../store/tiers.js';
import type { SampleWriter } from '../store/writer.js';
import type { CollectorStat, MachineInfo, Snapshot } from '../types.js';
import type { Sampler } from './sampler.js';

export interface RecorderOptions {
  intervalMs: number;
  /**
   * How long samples wait in memory to be written together, one transaction for all of them
   * (default 0: each tick commits its own). A transaction's cost is mostly its pages: the
   * same leaves of each table are written once for several rows instead of once a tick.
   * Readers in other processes see samples up to this much later, and a crash loses as
   * much; housekeeping, stop() and flush() write what waits first.
   */
  flushMs?: number;
  /** Raw samples older than this are deleted (default 48 h). */
  rawRetentionMs?: number;
  /** Self-metrics (collector and recorder stats) kept this long (default 30 days). */
  selfRetentionMs?: number;
  /** This machine's constants; rollups to the 1m/1h tiers run only when given. */
  machine?: MachineInfo;
  /** 1-minute rollups kept this long (default 30 days). */
  minuteRetentionMs?: number;
  /** 1-hour rollups kept this long (default 2 years). */
  hourRetentionMs?: number;
  /** How often self-metrics are flushed and complete minutes rolled up (default 60 s). */
  housekeepingMs?: number;
  /**
   * How often retention deletes expired rows (default 10 min), at the next housekeeping;
   * sooner while a pass stopped at its batch limit.
   */
  retentionEveryMs?: number;
  clock?: () => number;
  logger: Logger;
  /**
   * Called with every stored snapshot (alert evaluation hooks in here); its wall time is
   * kept with the collectors' as HOOK_STAT.
   */
  onSnapshot?: (snapshot: Snapshot) => void;
}

interface CollectorTotals {
  runs: number;
  failures: number;
  sum: number;
  max: number;
  lastError: string | null;
}

/** The collector_stat name under which the onSnapshot hook's time is kept (alert evaluation). */
export const HOOK_STAT = 'alerts';
/** The collector_stat name of sample writes: a run per transaction, a failure per failed one. */
export const WRITE_STAT = 'write';

export const DEFAULT_RAW_RETENTION_MS = 48 * 3600_000;
const DEFAULT_SELF_RETENTION_MS = 30 * 24 * 3600_000;
const DEFAULT_RETENTION_EVERY_MS = 10 * 60_000;

/**
 * Samples on a self-correcting timer (setInterval drifts ~70 ms/min), writes the samples
 * of each flush interval in one transaction, and does housekeeping in small steps between
 * ticks.
 */
export class Recorder {
  private readonly writer: SampleWriter;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | null = null;
  private nextAt = 0;
  private totals = new Map<string, CollectorTotals>();
  private ticks = 0;
  private lateTicks = 0;
  private processRows = 0;
  private lastProcessCount = 0;
  private lastCpu = process.cpuUsage();
  private lastHousekeeping: number;
  private lastRetention = -Infinity;
  private retentionBehind = false;
  /** Prepared at the first flush, once a minute after that. */
  private statStatements: { collector: Statement; recorder: Statement } | undefined;
  private failures = 0;
  /** Samples taken and not yet written, oldest first. */
  private pending: Snapshot[] = [];

  constructor(
    private readonly sampler: Sampler,
    private readonly store: Store,
    private readonly opts: RecorderOptions,
  ) {
    this.writer = store.createWriter();
    this.clock = opts.clock ?? Date.now;
    this.lastHousekeeping = this.clock();
  }

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer) return;
    this.nextAt = this.clock();
    this.schedule();
  }

  /** Stops ticking, writes the samples waiting, and flushes pending self-metrics. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = this.clock();
    this.flush();
    this.flushStats(now);
  }

  private schedule(): void {
    const now = this.clock();
    if (now - this.nextAt > this.opts.intervalMs) {
      // Fell behind (suspend, long GC, stalled disk): skip the missed slots, don't burst.
      const missed = Math.floor((now - this.nextAt) / this.opts.intervalMs);
      this.lateTicks += missed;
      this.nextAt += missed * this.opts.intervalMs;
    }
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, this.nextAt - now));
  }

  private onTimer(): void {
    this.tick(this.clock());
    this.nextAt += this.opts.intervalMs;
    if (this.timer) this.schedule();
  }

  /**
   * One sample, handed to the hook and written once the flush interval is up. Never
   * throws: returns null when this tick wrote and the write failed (logged and counted).
   * The hook sees every sample, stored or not: alerts still evaluate on a full disk.
   */
  tick(now: number): Snapshot | null {
    const { snapshot, stats } = this.sampler.sample(now);
    this.account(stats);
    this.ticks++;
    this.lastProcessCount = snapshot.processes?.length ?? 0;
    const hook = this.opts.onSnapshot;
    if (hook) {
      const t0 = performance.now();
      hook(snapshot);
      this.accountOne(HOOK_STAT, performance.now() - t0, null);
    }
    const pending = this.pending;
    pending.push(snapshot);
    const since = pending[0]!.ts;
    // Written now when the oldest would wait past the flush interval for the next tick
    // (ten samples at 1 s and 10 s; every sample when the interval is as long); a clock
    // that went back writes at once rather than wait for it to catch up.
    const due = now + this.opts.intervalMs - since >= (this.opts.flushMs ?? 0) || now < since;
    const stored = !due || this.flush();
    if (now - this.lastHousekeeping >= (this.opts.housekeepingMs ?? 60_000)) this.housekeeping(now);
    return stored ? snapshot : null;
  }

  /**
   * Writes the samples waiting, in one transaction; false when that failed (logged once
   * per run of failures, counted under WRITE_STAT). Failed samples are dropped, as a
   * retry that failed on them again would hold back every sample after them.
   */
  flush(): boolean {
    const batch = this.pending;
    if (batch.length === 0) return true;
    this.pending = [];
    const t0 = performance.now();
    try {
      this.processRows += this.writer.writeBatch(batch);
      this.failures = 0;
      this.accountOne(WRITE_STAT, performance.now() - t0, null);
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.accountOne(WRITE_STAT, performance.now() - t0, message);
      if (this.failures++ === 0) {
        this.opts.logger.error({ err, lost: batch.length }, 'writing samples failed');
      }
      return false;
    }
  }

  private account(stats: readonly CollectorStat[]): void {
    for (const s of stats)
      this.accountOne(s.name, s.durationMs, s.ok ? null : (s.error ?? 'failed'));
  }

  /** One run of a part of the tick, into its per-minute totals (collector_stat). */
  private accountOne(name: string, durationMs: number, error: string | null): void {
    let t = this.totals.get(name);
    if (!t) {
      t = { runs: 0, failures: 0, sum: 0, max: 0, lastError: null };
      this.totals.set(name, t);
    }
    t.runs++;
    t.sum += durationMs;
    t.max = Math.max(t.max, durationMs);
    if (error !== null) {
      t.failures++;
      t.lastError = error;
    }
  }

  housekeeping(now: number): void {
    this.lastHousekeeping = now;
    // Rollups read the minutes just ended: every sample taken must be in them.
    this.flush();
    const retention =
      this.retentionBehind ||
      now - this.lastRetention >= (this.opts.retentionEveryMs ?? DEFAULT_RETENTION_EVERY_MS);
    let behind = false;
    try {
      this.flushStats(now);
      if (retention) {
        const cutoff = now - (this.opts.rawRetentionMs ?? DEFAULT_RAW_RETENTION_MS);
        behind = pruneRaw(this.store.db, cutoff).more;
        pruneSelfMetrics(
          this.store.db,
          now - (this.opts.selfRetentionMs ?? DEFAULT_SELF_RETENTION_MS),
        );
      }
    } catch (err) {
      behind = true;
      this.opts.logger.warn({ err }, 'housekeeping failed; will retry');
    }
    const { machine, minuteRetentionMs, hourRetentionMs } = this.opts;
    if (machine) {
      try {
        const tiers = maintainTiers(this.store.db, {
          now,
          machine,
          prune: retention,
          ...(minuteRetentionMs === undefined ? {} : { minuteRetentionMs }),
          ...(hourRetentionMs === undefined ? {} : { hourRetentionMs }),
        });
        behind ||= tiers.more;
      } catch (err) {
        // each rolled-up bucket commits with its watermark, so a retry resumes cleanly
        this.opts.logger.warn({ err }, 'rollup failed; will retry');
      }
    }
    if (retention) {
      this.lastRetention = now;
      this.retentionBehind = behind;
    }
  }

  private flushStats(now: number): void {
    if (this.ticks === 0) return;
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const db = this.store.db;
    this.statStatements ??= {
      collector: db.prepare('INSERT OR REPLACE INTO collector_stat VALUES (?, ?, ?, ?, ?, ?, ?)'),
      recorder: db.prepare('INSERT OR REPLACE INTO recorder_stat VALUES (?, ?, ?, ?, ?, ?, ?)'),
    };
    const { collector, recorder } = this.statStatements;
    db.transaction(() => {
      for (const [name, t] of this.totals) {
        collector.run(now, name, t.runs, t.failures, t.sum, t.max, t.lastError);
      }
      recorder.run(
        now,
        this.ticks,
        this.lateTicks,
        (cpu.user + cpu.system) / 1000,
        process.memoryUsage.rss(),
        this.lastProcessCount,
        this.processRows,
      );
    })();
    this.totals = new Map();
    this.ticks = 0;
    this.lateTicks = 0;
    this.processRows = 0;
  }
}
