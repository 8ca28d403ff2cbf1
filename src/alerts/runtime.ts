/**
 * Alerting inside a recording process: evaluates every rule on each stored snapshot (with
 * the previous one, for rates), feeds it the automation runs finished since while a rule
 * watches automations, and hands the notifications to the dispatcher, which sends them
 * outside the tick. A tick with no rules costs one read of the rules' version, and the
 * outbox is read only when something may be due.
 */
import type { Logger } from '../log.js';
import type { RunStore } from '../store/runs.js';
import type { Clock, Snapshot } from '../types.js';
import { DeliveryDispatcher, type Senders } from './dispatcher.js';
import { AlertEvaluator } from './evaluator.js';
import type { FinishedRun } from './runs.js';
import type { AlertStore } from './store.js';

export interface AlertRuntimeOptions {
  intervalMs: number;
  logger: Logger;
  senders: Senders;
  clock?: Clock;
  /** Why a channel with no sender in this process cannot be delivered. */
  missingSender?: (channel: string) => string;
}

/** Finished runs of every automation in [from, to], as the evaluator takes them. */
function finishedRuns(runs: RunStore) {
  return (from: number, to: number): FinishedRun[] => {
    const out: FinishedRun[] = [];
    for (const r of runs.finished(null, from, to)) {
      if ((r.status === 'ok' || r.status === 'failed') && r.ended_at !== null) {
        out.push({ ...r, ended_at: r.ended_at, status: r.status });
      }
    }
    return out;
  };
}

export class AlertRuntime {
  readonly evaluator: AlertEvaluator;
  readonly dispatcher: DeliveryDispatcher;
  private prev: Snapshot | null = null;
  private failing = false;

  constructor(
    /** Where the evaluator stores states and notifications, and the dispatcher reads them. */
    readonly store: AlertStore,
    runs: RunStore,
    private readonly opts: AlertRuntimeOptions,
  ) {
    const clock = opts.clock ?? Date.now;
    this.evaluator = new AlertEvaluator(store, {
      intervalMs: opts.intervalMs,
      clock,
      runs: finishedRuns(runs),
    });
    this.dispatcher = new DeliveryDispatcher(store.deliveries, opts.senders, {
      logger: opts.logger,
      clock,
      ...(opts.missingSender ? { missing: opts.missingSender } : {}),
    });
  }

  /** Loads rules, sends once what fell due while nothing ran, and delivers what was left pending. */
  start(): void {
    this.guard(() => this.evaluator.start(), null);
    void this.dispatcher.kick();
  }

  /** The recorder's onSnapshot hook. Never throws: a failed tick is logged and retried. */
  onSnapshot(snapshot: Snapshot): void {
    const prev = this.prev;
    this.prev = snapshot;
    const queued = this.guard(() => this.evaluator.evaluate(prev, snapshot).length > 0, false);
    this.dispatcher.onTick(queued);
  }

  private guard<T>(fn: () => T, otherwise: T): T {
    try {
      const r = fn();
      if (this.failing) this.opts.logger.info('alert evaluation recovered');
      this.failing = false;
      return r;
    } catch (err) {
      // Logged once per failing streak; the evaluator retries the whole tick next time.
      if (!this.failing) this.opts.logger.error({ err }, 'alert evaluation failed');
      this.failing = true;
      return otherwise;
    }
  }
}
