import { performance } from 'node:perf_hooks';
import type { CollectorStat, Snapshot } from '../types.js';
import { emptySnapshot, type Collector } from './collector.js';

export type CollectorErrorHandler = (name: string, err: unknown) => void;

export interface Sample {
  snapshot: Snapshot;
  stats: CollectorStat[];
}

/**
 * Runs collectors in order into one snapshot per tick. A collector that throws is isolated:
 * its part of the snapshot stays empty, its stat says why, and the others go on. The error
 * handler hears about a failure once per run of consecutive failures, so a source that is
 * broken for good does not flood the log, and hears again if it recovers and breaks anew.
 */
export class Sampler {
  private readonly failing: boolean[];
  private ticks = 0;

  constructor(
    private readonly collectors: readonly Collector[],
    private readonly onError: CollectorErrorHandler = () => {},
  ) {
    this.failing = collectors.map(() => false);
  }

  /** Snapshots taken so far; the next sample runs with this as its tick. */
  get tick(): number {
    return this.ticks;
  }

  get names(): string[] {
    return this.collectors.map((collector) => collector.name);
  }

  sample(now: number): Sample {
    const snapshot = emptySnapshot(now);
    const ctx = { tick: this.ticks, now };
    const stats = this.collectors.map((collector, i): CollectorStat => {
      const started = performance.now();
      try {
        collector.collect(snapshot, ctx);
        this.failing[i] = false;
        return { name: collector.name, durationMs: performance.now() - started, ok: true };
      } catch (err) {
        const durationMs = performance.now() - started;
        if (this.failing[i] !== true) this.onError(collector.name, err);
        this.failing[i] = true;
        return { name: collector.name, durationMs, ok: false, error: messageOf(err) };
      }
    });
    this.ticks++;
    return { snapshot, stats };
  }

  /** Releases every collector's kept fds; a close that fails is reported, the rest go on. */
  close(): void {
    for (const collector of this.collectors) {
      try {
        collector.close?.();
      } catch (err) {
        this.onError(collector.name, err);
      }
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
