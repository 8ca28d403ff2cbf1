import type { Store } from '../../src/store/index.js';
import type { ProcessCounters, Snapshot } from '../../src/types.js';
import { cpuCounters, snap } from './snapshots.js';

export const BOOT = 1_700_000_000;
/** Ticks per second on the aggregate cpu line of a 2-core machine at USER_HZ 100. */
const TICKS_PER_S = 200;

/** A deterministic PRNG (mulberry32) so synthetic histories are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticOptions {
  start: number;
  seconds: number;
  stepMs?: number;
  /** CPU busy share (0-100) of the interval ending at second i. */
  cpu: (i: number) => number;
  /** Processes at second i (counters cumulative); omitted: none collected. */
  processes?: (i: number) => ProcessCounters[];
}

/**
 * Writes 1 Hz snapshots whose derived cpu_percent is exactly `cpu(i)` (counters are stored
 * as REAL, so fractional ticks keep it exact) and whose memory gauges move with i.
 */
export function writeSynthetic(store: Store, o: SyntheticOptions): Snapshot[] {
  const w = store.createWriter();
  const step = o.stepMs ?? 1000;
  let busy = 0;
  let idle = 0;
  const out: Snapshot[] = [];
  for (let i = 0; i < o.seconds; i++) {
    if (i > 0) {
      const share = o.cpu(i) / 100;
      busy += share * TICKS_PER_S * (step / 1000);
      idle += (1 - share) * TICKS_PER_S * (step / 1000);
    }
    const s = snap(
      o.start + i * step,
      {
        ...cpuCounters(busy, idle),
        load1: 1 + (i % 7) / 10,
        mem_total_bytes: 8e9,
        mem_available_bytes: 4e9 + (i % 100) * 1e6,
        boot_time: BOOT,
      },
      { processes: o.processes ? o.processes(i) : null },
    );
    w.write(s);
    out.push(s);
  }
  return out;
}
