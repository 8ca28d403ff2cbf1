import { randomUUID } from 'node:crypto';
import { LimitError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { finishMonitor, type FinishedMonitor } from '../monitor/export.js';
import {
  runMonitor,
  type MonitorDeps,
  type MonitorHooks,
  type MonitorPlan,
} from '../monitor/monitor.js';
import type { Store } from '../store/index.js';

export const MAX_CONCURRENT_SESSIONS = 4;
/** Calls longer than this run in the background: MCP hosts drop results near 60 s. */
export const INLINE_LIMIT_S = 30;

/**
 * Monitoring sessions of one server process: at most MAX_CONCURRENT_SESSIONS at once
 * (inline calls and background sessions together); background results persist in the store.
 */
export class MonitorSessions {
  private active = 0;
  private readonly background = new Map<string, AbortController>();

  constructor(
    private readonly deps: MonitorDeps & { store: Store; dataDir: string; logger: Logger },
    private readonly max = MAX_CONCURRENT_SESSIONS,
  ) {}

  get activeCount(): number {
    return this.active;
  }

  private acquire(): void {
    if (this.active >= this.max) {
      throw new LimitError(
        `too many monitoring sessions: ${this.active} are running and at most ${this.max} may run at once; wait for one to finish or stop one with km_stop_monitoring_session`,
      );
    }
    this.active++;
  }

  async runInline(
    plan: MonitorPlan,
    hooks: MonitorHooks,
  ): Promise<{ structured: FinishedMonitor; text: string }> {
    this.acquire();
    try {
      const outcome = await runMonitor(plan, this.deps, hooks);
      return finishMonitor(outcome, plan.params.export_format, this.deps.dataDir, this.now());
    } finally {
      this.active--;
    }
  }

  /** Starts a background session and returns its id at once. */
  startBackground(plan: MonitorPlan): string {
    this.acquire();
    const id = randomUUID();
    const controller = new AbortController();
    this.background.set(id, controller);
    const { store } = this.deps;
    store.sessions.create(id, plan.params, process.pid, this.now());
    let lastSaved = 0;
    const onProgress = (done: number, total: number) => {
      const now = this.now();
      if (now - lastSaved < 5000 && done < total) return;
      lastSaved = now;
      this.safely(() => store.sessions.progress(id, done / total, now));
    };
    void runMonitor(plan, this.deps, { signal: controller.signal, onProgress })
      .then((outcome) => {
        const { structured } = finishMonitor(
          outcome,
          plan.params.export_format,
          this.deps.dataDir,
          this.now(),
        );
        this.safely(() => store.sessions.finish(id, structured.status, this.now(), structured));
      })
      .catch((err: unknown) => {
        this.deps.logger.error({ err, session: id }, 'monitoring session failed');
        this.safely(() => store.sessions.finish(id, 'failed', this.now(), null, errorMessage(err)));
      })
      .finally(() => {
        this.background.delete(id);
        this.active--;
      });
    return id;
  }

  /** Stops a background session of this process early; it keeps its partial results. */
  stop(id: string): boolean {
    const c = this.background.get(id);
    if (!c) return false;
    c.abort();
    return true;
  }

  /** On shutdown: stop everything; sessions that cannot finish are marked interrupted. */
  stopAll(): void {
    for (const [id, c] of this.background) {
      c.abort();
      this.safely(() =>
        this.deps.store.sessions.finish(
          id,
          'interrupted',
          this.now(),
          null,
          'the server shut down before the session finished',
        ),
      );
    }
  }

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.logger.error({ err }, 'saving a monitoring session failed');
    }
  }
}
