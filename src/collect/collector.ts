import { SYSTEM_FIELDS, type Snapshot, type SystemCounters } from '../types.js';

export interface CollectContext {
  /** Counts snapshots taken by this sampler, from 0; lets costly reads run every Nth tick. */
  tick: number;
  now: number;
}

/**
 * One source of samples (one /proc file or family of files). A collector fills its part
 * of the snapshot; any state it needs between ticks lives on the instance, which the
 * sampler that created it owns.
 */
export interface Collector {
  readonly name: string;
  collect(snapshot: Snapshot, ctx: CollectContext): void;
  /** Releases kept file descriptors. */
  close?(): void;
}

export function emptySystem(): SystemCounters {
  const system = {} as SystemCounters;
  for (const field of SYSTEM_FIELDS) system[field] = null;
  return system;
}

export function emptySnapshot(ts: number): Snapshot {
  return { ts, system: emptySystem(), cores: [], disks: [], nets: [], processes: null };
}
