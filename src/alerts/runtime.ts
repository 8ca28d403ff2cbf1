/**
 * Alerting inside a recording process: evaluates every rule on each stored snapshot (with
 * the previous one, for rates), feeds it the automation runs finished since, and hands the
 * notifications to the dispatcher, which sends them outside the tick.
 */
import type { Logger } from '../log.js';
import type { RunStore } from '../store/runs.js';
import type { Clock, Snapshot } from '../types.js';
import { DeliveryDispatcher, type Senders } from './dispatcher.js';
import { AlertEvaluator } from './evaluator.js';
import type { FinishedRun } from './runs.js';
import type { AlertStore } from './store.js';

/** On start, runs finished this long ago still count (error rate spans the last 10 runs). */
const RUN_LOOKBACK_MS = 24 * 3600_000;
/** Runs are re-read with this overlap, since a run is stored when it finishes, not when it ended. */
const RUN_OVERLAP_MS = 60_000;

export interface AlertRuntimeOptions {
  intervalMs: number;
  logger: Logger;
  senders: Senders;
  clock?: Clock;
}

export class AlertRuntime {
  readonly evaluator: AlertEvaluator;
  readonly dispatcher: DeliveryDispatcher;
  private prev: Snapshot | null = null;
  private runsReadUpTo: number | null = null;
  private failing = false;
  private readonly clock: Clock;

  constructor(
    private readonly alerts: AlertStore,
    private readonly runs: RunStore,
    private readonly opts: AlertRuntimeOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.evaluator = new AlertEvaluator(alerts, { intervalMs: opts.intervalMs, clock: this.clock });
    this.dispatcher = new DeliveryDispatcher(alerts.deliveries, opts.senders, {
      logger: opts.logger,
      clock: this.clock,
    });
  }

  /** Loads rules, sends once what fell due while nothing ran, and delivers what was left pending. */
  start(): void {
    this.guard(() => {
      this.readRuns(this.clock());
      this.evaluator.start();
    });
    void this.dispatcher.kick();
  }

  /** The recorder's onSnapshot hook. Never throws: a failed tick is logged and retried. */
  onSnapshot(snapshot: Snapshot): void {
    const prev = this.prev;
    this.prev = snapshot;
    this.guard(() => {
      this.readRuns(this.clock());
      this.evaluator.evaluate(prev, snapshot);
    });
    void this.dispatcher.kick();
  }

  private readRuns(now: number): void {
    const from =
      this.runsReadUpTo === null ? now - RUN_LOOKBACK_MS : this.runsReadUpTo - RUN_OVERLAP_MS;
    const finished: FinishedRun[] = [];
    for (const r of this.runs.finished(null, from, now)) {
      if ((r.status === 'ok' || r.status === 'failed') && r.ended_at !== null) {
        finished.push({ ...r, ended_at: r.ended_at, status: r.status });
      }
    }
    this.evaluator.observeRuns(finished);
    this.runsReadUpTo = now;
  }

  private guard(fn: () => void): void {
    try {
      fn();
      if (this.failing) this.opts.logger.info('alert evaluation recovered');
      this.failing = false;
    } catch (err) {
      // Logged once per failing streak; the evaluator retries the whole tick next time.
      if (!this.failing) this.opts.logger.error({ err }, 'alert evaluation failed');
      this.failing = true;
    }
  }
}
